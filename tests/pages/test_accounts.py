"""Accounts that survive and names nobody can take over, on the pages (issue 12)."""

from __future__ import annotations

import re

from domain.model import MODERATOR
from tests.api.conftest import API
from tests.pages.conftest import THREAD_URL, page, send, sign_in_moderator
from workers.seed import DEMO_KEY

TOKEN = re.compile(r'id="new-token"[^>]*value="([^"]+)"')


def _head(flask_app) -> int:
    return flask_app.extensions["discuss"].services.app.head_position()


def _me(client, token: str):
    return client.get(f"{API}/authors/me", headers={"Authorization": f"Bearer {token}"})


def _cookie(client) -> str:
    return client.get_cookie("discuss_token").value


def _sign_up(client, name: str) -> str:
    """Sign up by name; the page shows the token to save. Returns it."""
    response = send(client, "/signin", "/signin", {"how": "name", "name": name, "next": "/"})
    assert response.status_code == 200, response.data[:500]
    html = response.get_data(as_text=True)
    assert "Save your token" in html
    assert response.headers["Cache-Control"].startswith("no-store")
    found = TOKEN.search(html)
    assert found, html
    return found.group(1)


def test_sign_up_shows_the_token_once_and_it_signs_in_again(flask_app, client):
    token = _sign_up(client, "Keeper")
    me = _me(flask_app.test_client(), token)
    assert me.status_code == 200 and me.json["name"] == "Keeper"
    send(client, "/account", "/signout", {"next": "/"})
    again = flask_app.test_client()
    response = send(again, "/signin", "/signin", {"how": "token", "token": token, "next": "/"})
    assert response.status_code == 302
    assert _me(again, _cookie(again)).json["id"] == me.json["id"]


def test_signing_in_by_an_existing_name_does_not_make_a_second_author(flask_app, client):
    sign_in_moderator(flask_app.test_client(), flask_app, "Mod")
    before = _head(flask_app)
    for name in ("Mod", "mod", "M\u043ed"):
        response = send(client, "/signin", "/signin", {"how": "name", "name": name, "next": "/"})
        assert response.status_code == 409
        assert "already taken" in response.get_data(as_text=True)
    assert _head(flask_app) == before
    assert client.get_cookie("discuss_token") is None


def test_signing_out_revokes_the_browsers_token(flask_app, client):
    _sign_up(client, "Leaver")
    session_token = _cookie(client)
    assert _me(flask_app.test_client(), session_token).status_code == 200
    response = send(client, "/account", "/signout", {"next": "/"})
    assert response.status_code == 302
    assert _me(flask_app.test_client(), session_token).status_code == 401


def test_sign_out_everywhere_ends_every_session_and_keeps_the_saved_token(flask_app, client):
    token = _sign_up(client, "Traveller")
    laptop = flask_app.test_client()
    send(laptop, "/signin", "/signin", {"how": "token", "token": token, "next": "/"})
    sessions = [_cookie(client), _cookie(laptop)]
    html = page(client, "/signout")
    assert "everywhere" in html
    send(client, "/signout", "/signout", {"next": "/", "everywhere": "1"})
    for session in sessions:
        assert _me(flask_app.test_client(), session).status_code == 401
    assert _me(flask_app.test_client(), token).status_code == 200


def test_sign_out_warns_when_the_account_has_no_way_back(flask_app, client):
    token = _sign_up(client, "Careless")
    author_id = token.partition(".")[0]
    tokens = client.get(f"{API}/authors/me/tokens").json["tokens"]
    key = next(t for t in tokens if t["kind"] == "key")
    send(client, "/account", f"/account/tokens/{key['id']}/revoke", {})
    assert _me(flask_app.test_client(), token).status_code == 401
    html = page(client, "/signout")
    assert "no way back" in html
    assert author_id


def test_account_page_rotates_the_token(flask_app, client):
    token = _sign_up(client, "Rotator")
    html = page(client, "/account")
    assert "Rotator" in html and "Rotate" in html
    response = send(client, "/account", "/account/token/rotate", {})
    assert response.status_code == 200
    new = TOKEN.search(response.get_data(as_text=True)).group(1)
    assert _me(flask_app.test_client(), token).status_code == 401
    assert _me(flask_app.test_client(), new).status_code == 200
    assert page(client, "/account")  # still signed in


def test_names_are_isolated_and_moderators_carry_a_badge(flask_app, client):
    runtime = flask_app.extensions["discuss"]
    app = runtime.services.app
    mod = app.register_author("Mod", MODERATOR)
    posted = app.post_comment(mod.author_id, app.thread_id_for_key(DEMO_KEY), "ruling")
    assert runtime.wait_for(posted.position, timeout=10)
    html = page(client, THREAD_URL)
    assert re.search(r"<bdi[^>]*>Mod</bdi>", html)
    assert re.search(r'class="[^"]*badge[^"]*"[^>]*>\s*moderator', html, re.I)
    assert 'dir="auto"' in html
