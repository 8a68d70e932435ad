"""Security of the pages: user text is escaped everywhere it shows, every form POST
needs its CSRF token (the JSON API is exempt: bearer tokens), the sign-in cookie's
flags, and no open redirect after signing in."""

from __future__ import annotations

import re

import pytest

from tests.pages.conftest import (
    THREAD_URL,
    csrf_of,
    demo_thread_id,
    page,
    send,
    send_form,
    sign_in,
    sign_in_moderator,
)
from web.auth import COOKIE_NAME

SCRIPT = '<script>alert("xss")</script>'
IMG = '<img src=x onerror="alert(1)">'


def test_xss_in_a_comment_a_name_and_a_reason_shows_as_text(client, flask_app):
    sign_in(client, f"Eve {IMG}")
    thread_id = demo_thread_id(flask_app)
    response = send(client, THREAD_URL, f"/threads/{thread_id}/comments", {"text": SCRIPT})
    comment_id = response.headers["Location"].rsplit("#c-", 1)[1]
    send_form(
        client,
        f"/c/{comment_id}/edit",
        f"/c/{comment_id}/edit",
        {"text": SCRIPT + " v2", "reason": IMG},
    )
    moderator = flask_app.test_client()
    sign_in_moderator(moderator, flask_app)
    send(moderator, f"/c/{comment_id}/hide", f"/c/{comment_id}/hide", {"reason": SCRIPT})
    pages = [
        page(client, THREAD_URL),
        page(client, "/"),
        page(client, f"/c/{comment_id}/history"),
        page(moderator, THREAD_URL),
        page(moderator, f"/c/{comment_id}/history"),
        page(moderator, "/audit"),
    ]
    for html in pages:
        assert "<script>alert" not in html
        assert "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;xss&#34;)&lt;/script&gt;" in pages[3]  # hidden text, moderator
    assert "Eve &lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in pages[4]  # the author's name
    assert "Reason: &lt;script&gt;" in pages[3]  # the removal reason


def test_form_posts_without_the_csrf_token_are_refused(client, flask_app):
    sign_in(client, "Ada")
    thread_id = demo_thread_id(flask_app)
    response = client.post(f"/threads/{thread_id}/comments", data={"text": "forged"})
    assert response.status_code == 400
    assert "Form expired" in response.get_data(as_text=True)
    response = client.post(
        f"/threads/{thread_id}/comments", data={"text": "forged", "csrf_token": "made-up"}
    )
    assert response.status_code == 400
    assert client.post("/signout").status_code == 400
    assert client.post("/signin", data={"name": "Mallory"}).status_code == 400
    assert "forged" not in page(client, THREAD_URL)


def test_the_json_api_is_not_subject_to_csrf(client, flask_app):
    # A bearer-token request carries no form token and must not be refused for it.
    response = client.post("/api/v1/authors", json={"name": "Api User"})
    assert response.status_code != 400 or b"CSRF" not in response.data
    assert response.mimetype == "application/json"


def test_sign_in_cookie_is_httponly_lax_and_secure_on_https(flask_app):
    plain = flask_app.test_client()
    response = send(plain, "/signin", "/signin", {"how": "name", "name": "Ada", "next": "/"})
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith(COOKIE_NAME))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert "Path=/" in cookie

    secure = flask_app.test_client()
    html = secure.get("/signin", base_url="https://localhost").get_data(as_text=True)
    response = secure.post(
        "/signin",
        base_url="https://localhost",
        headers={"Referer": "https://localhost/signin"},
        data={"csrf_token": csrf_of(html), "how": "name", "name": "Bob", "next": "/"},
    )
    assert response.status_code == 200  # the page that shows the token to save
    cookies = response.headers.getlist("Set-Cookie")
    cookie = next(c for c in cookies if c.startswith(COOKIE_NAME))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_sign_in_with_a_token_and_sign_out(client, flask_app):
    registration = flask_app.extensions["discuss"].services.app.register_author("Tokened")
    response = send(
        client, "/signin", "/signin", {"how": "token", "token": registration.token, "next": "/"}
    )
    assert response.status_code == 302
    assert "Signed in as <strong><bdi>Tokened</bdi></strong>" in page(client, "/")
    response = send(client, "/signout", "/signout", {"next": "/"})
    assert response.status_code == 302
    assert f"{COOKIE_NAME}=;" in " ".join(response.headers.getlist("Set-Cookie"))
    assert "Signed in as" not in page(client, "/")


def test_a_bad_token_is_refused_and_not_echoed(client):
    for token, message in (
        ("nope.secret", "The token is malformed"),
        ("00000000-0000-0000-0000-000000000000.secret", "The token is not valid"),
    ):
        response = send(client, "/signin", "/signin", {"how": "token", "token": token})
        assert response.status_code == 401
        html = response.get_data(as_text=True)
        assert message in html
        assert token not in html


def test_a_stale_cookie_reads_as_signed_out_and_is_cleared(client):
    client.set_cookie(COOKIE_NAME, "00000000-0000-0000-0000-000000000000.gone")
    response = client.get(THREAD_URL)
    assert response.status_code == 200
    assert "Sign in to join the discussion" in response.get_data(as_text=True)
    assert any(c.startswith(f"{COOKIE_NAME}=;") for c in response.headers.getlist("Set-Cookie"))


def test_display_name_errors_show_on_the_form(client):
    response = send(client, "/signin", "/signin", {"how": "name", "name": "   "})
    assert response.status_code == 422
    assert "Name is empty" in response.get_data(as_text=True)


def test_no_open_redirect_after_sign_in(client):
    for n, target in enumerate(("https://evil.example/", "//evil.example/x", "/\\evil.example")):
        response = send(
            client, "/signin", "/signin", {"how": "name", "name": f"Ada {n}", "next": target}
        )
        # Refused before anything is stored (issue 12), never followed.
        assert response.status_code == 400, target
        assert "Location" not in response.headers


def test_pages_are_not_cached_by_shared_caches(client):
    # Anonymous thread pages hold nothing per viewer (no name, no CSRF token): they
    # may be shared, revalidated by ETag, and vary on the cookie.
    anonymous = client.get(THREAD_URL)
    assert anonymous.headers["Cache-Control"] == "public, max-age=0, must-revalidate"
    assert "Cookie" in anonymous.headers["Vary"] and anonymous.headers["ETag"]
    assert "csrf_token" not in anonymous.get_data(as_text=True)
    assert re.search(r"frame-ancestors 'none'", anonymous.headers["Content-Security-Policy"])
    again = client.get(THREAD_URL, headers={"If-None-Match": anonymous.headers["ETag"]})
    assert again.status_code == 304
    # Pages that carry the viewer's name, controls and a CSRF token never are.
    sign_in(client, "Private")
    response = client.get(THREAD_URL)
    assert "private" in response.headers["Cache-Control"]
    assert "ETag" not in response.headers
    assert re.search(r"frame-ancestors 'none'", response.headers["Content-Security-Policy"])


@pytest.mark.app_settings(write_rate_limit="3 per minute")
def test_form_posts_share_the_write_rate_limit(client, flask_app):
    sign_in(client, "Hasty")  # one write
    thread_id = demo_thread_id(flask_app)
    responses = [
        send(client, THREAD_URL, f"/threads/{thread_id}/comments", {"text": f"n{i}"})
        for i in range(3)
    ]
    assert [r.status_code for r in responses] == [302, 302, 429]
    assert responses[2].mimetype == "text/html"
    assert "Too many requests" in responses[2].get_data(as_text=True)
    assert 1 <= int(responses[2].headers["Retry-After"]) <= 60  # the minute's window
    assert client.get(THREAD_URL).status_code == 200  # reading is not a write


@pytest.mark.app_settings(open_registration=False)
def test_closed_registration_offers_only_the_token(client):
    html = page(client, "/signin")
    assert "Pick a display name" not in html and "Sign in with your token" in html
    response = send(client, "/signin", "/signin", {"how": "name", "name": "Intruder"})
    assert response.status_code in (401, 403)
