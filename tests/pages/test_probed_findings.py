"""Findings of issue 12 on the pages, each reproduced as it was found: `next` with
CR/LF on sign-in (a 500 after the author was stored) and open redirects, cookies
without SameSite, the edit form saving without a version check, `nosniff` missing."""

from __future__ import annotations

import pytest

from tests.pages.conftest import (
    THREAD_URL,
    continue_url,
    csrf_of,
    demo_thread_id,
    page,
    send,
    sign_in,
)
from web.auth import COOKIE_NAME


def _events(flask_app) -> int:
    return flask_app.extensions["discuss"].services.app.recorder.max_notification_id() or 0


# ---- next on sign-in ------------------------------------------------------------------

BAD_NEXT = [
    "/\r\nSet-Cookie: evil=1",
    "/t/x\nLocation: https://evil.example",
    "/\t/evil.example",  # browsers drop the tab: //evil.example
    "//evil.example/",
    "/\\evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "evil.example",
    "/\x00",
]


@pytest.mark.parametrize("next_url", BAD_NEXT, ids=repr)
def test_a_bad_next_on_sign_in_is_refused_before_anything_is_stored(client, flask_app, next_url):
    token = csrf_of(page(client, "/signin"))
    before = _events(flask_app)
    response = client.post(
        "/signin", data={"csrf_token": token, "how": "name", "name": "Mallory", "next": next_url}
    )
    assert response.status_code == 400, response.status_code
    assert response.mimetype == "text/html" and "Error 400" in response.get_data(as_text=True)
    assert _events(flask_app) == before
    assert COOKIE_NAME not in response.headers.get("Set-Cookie", "")


def test_a_bad_next_on_the_sign_in_page_itself_is_refused(client):
    response = client.get("/signin?next=%2F%0D%0ASet-Cookie:%20evil=1")
    assert response.status_code == 400
    assert "Error 400" in response.get_data(as_text=True)


@pytest.mark.parametrize("next_url", ["/", THREAD_URL + "?cursor=3#c-x", "/t/café?at=2"])
def test_a_local_next_is_where_sign_in_goes(client, flask_app, next_url):
    token = csrf_of(page(client, "/signin"))
    response = client.post(
        "/signin", data={"csrf_token": token, "how": "name", "name": "Ada", "next": next_url}
    )
    # Sign-up shows the new token once; its "I have saved it" link goes on to `next`.
    assert response.status_code == 200
    assert continue_url(response.get_data(as_text=True)) == next_url


# ---- SameSite on every cookie ---------------------------------------------------------------


def _set_cookies(response) -> list[str]:
    return response.headers.getlist("Set-Cookie")


def test_every_cookie_is_samesite_lax(client, flask_app):
    """The session cookie (the CSRF secret) and the sign-in cookie, set and cleared."""
    seen = []
    response = client.get("/signin")
    seen += _set_cookies(response)
    token = csrf_of(response.get_data(as_text=True))
    response = client.post(
        "/signin", data={"csrf_token": token, "how": "name", "name": "Ada", "next": "/"}
    )
    seen += _set_cookies(response)
    response = client.post("/signout", data={"csrf_token": token, "next": "/"})
    seen += _set_cookies(response)
    stale = flask_app.test_client()
    stale.set_cookie(COOKIE_NAME, "not-a-token")
    seen += _set_cookies(stale.get(THREAD_URL))
    names = {c.split("=", 1)[0] for c in seen}
    assert {"session", COOKIE_NAME} <= names, names
    for cookie in seen:
        assert "SameSite=Lax" in cookie, cookie


# ---- the edit form and the comment's version ----------------------------------------------


def _post(client, flask_app, text: str) -> str:
    thread_id = demo_thread_id(flask_app)
    response = send(client, THREAD_URL, f"/threads/{thread_id}/comments", {"text": text})
    return response.headers["Location"].rsplit("#c-", 1)[1]


def test_an_edit_without_the_version_is_refused_like_the_api(client, flask_app):
    sign_in(client, "Ada")
    comment_id = _post(client, flask_app, "Version one.")
    before = _events(flask_app)
    response = send(client, f"/c/{comment_id}/edit", f"/c/{comment_id}/edit", {"text": "Blind."})
    assert response.status_code == 428
    html = response.get_data(as_text=True)
    assert "Blind." in html  # the text is kept
    assert 'name="expected_version" value="1"' in html
    assert _events(flask_app) == before
    assert "Version one." in page(client, THREAD_URL)


def test_a_stale_edit_says_it_changed_since_you_opened_it(client, flask_app):
    sign_in(client, "Ada")
    comment_id = _post(client, flask_app, "Version one.")
    opened = page(client, f"/c/{comment_id}/edit")
    send(
        client,
        f"/c/{comment_id}/edit",
        f"/c/{comment_id}/edit",
        {"text": "Version two.", "expected_version": "1"},
    )
    before = _events(flask_app)
    response = client.post(
        f"/c/{comment_id}/edit",
        data={"csrf_token": csrf_of(opened), "text": "My late edit.", "expected_version": "1"},
    )
    assert response.status_code == 412
    html = response.get_data(as_text=True)
    assert "changed since you opened it" in html
    assert "My late edit." in html and "Version two." in html
    assert 'name="expected_version" value="2"' in html
    assert _events(flask_app) == before


@pytest.mark.parametrize("version", ["", "x", "-1", "9223372036854775808", "1e3"])
def test_an_edit_with_a_broken_version_is_refused(client, flask_app, version):
    sign_in(client, "Ada")
    comment_id = _post(client, flask_app, "Version one.")
    before = _events(flask_app)
    response = send(
        client,
        f"/c/{comment_id}/edit",
        f"/c/{comment_id}/edit",
        {"text": "Broken.", "expected_version": version},
    )
    assert response.status_code in (412, 422, 428), response.status_code
    assert _events(flask_app) == before


# ---- nosniff on every response ----------------------------------------------------------------


def test_nosniff_on_every_kind_of_response(client, flask_app):
    urls = [
        "/",
        THREAD_URL,
        "/no/such/page",
        "/static/css/site.css",
        "/api/v1/threads",
        "/api/v1/no-such-endpoint",
        "/api/v1/openapi.json",
        "/api/docs",
        f"/api/v1/threads/{demo_thread_id(flask_app)}",
    ]
    for url in urls:
        response = client.get(url)
        assert response.headers.get("X-Content-Type-Options") == "nosniff", url
    response = client.post("/api/v1/authors", data="not json", content_type="text/plain")
    assert response.status_code == 415
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    redirect = client.get("/account")  # to the sign-in page
    assert redirect.status_code == 302
    assert redirect.headers.get("X-Content-Type-Options") == "nosniff"
