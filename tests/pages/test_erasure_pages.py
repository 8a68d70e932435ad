"""Forgetting on the pages: a moderator erases a comment (a confirmation page says what
happens), suppresses, unsuppresses or erases one revision from the history page; an
author's account page shows their name, downloads their data and erases the account
behind a confirmation phrase. Every form needs its CSRF token; every refusal stores no
event."""

from __future__ import annotations

import re

from domain.model import ERASURE_BASES
from tests.pages.conftest import (
    THREAD_URL,
    csrf_of,
    demo_thread_id,
    numbered,
    page,
    send,
    send_form,
    sign_in,
    sign_in_moderator,
    text_of,
)
from web.auth import COOKIE_NAME

PHONE = "07700 900123"
TEXT = f"call me on {PHONE}"


def head(flask_app) -> int:
    return flask_app.extensions["discuss"].services.app.head_position()


def posted(client, flask_app, text: str, parent: str | None = None) -> str:
    if parent is None:
        thread_id = demo_thread_id(flask_app)
        response = send(client, THREAD_URL, f"/threads/{thread_id}/comments", {"text": text})
    else:
        response = send(client, f"/c/{parent}/reply", f"/c/{parent}/reply", {"text": text})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response.headers["Location"].rsplit("#c-", 1)[1]


def edit(client, comment_id: str, text: str, reason: str = "") -> None:
    response = send_form(
        client, f"/c/{comment_id}/edit", f"/c/{comment_id}/edit", {"text": text, "reason": reason}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


# ---- a moderator erases a comment -----------------------------------------------------


def test_a_moderator_erases_a_comment_after_a_confirmation_page(client, flask_app):
    author, reader = flask_app.test_client(), flask_app.test_client()
    sign_in(author, "Ada")
    comment_id = posted(author, flask_app, TEXT)
    sign_in(reader, "Brian")
    reply_id = posted(reader, flask_app, "please don't share that", parent=comment_id)
    sign_in_moderator(client, flask_app)

    thread = page(client, THREAD_URL)
    assert f'href="/c/{comment_id}/erase"' in thread  # next to hide/restore
    confirm = page(client, f"/c/{comment_id}/erase")
    words = " ".join(text_of(confirm).split())
    assert "destroyed for good" in words
    assert "replies stay where they are, under an “erased” placeholder" in words.lower()
    assert "listed publicly" in words and "never what it said" in words
    for basis in ERASURE_BASES:
        assert f'<option value="{basis}"' in confirm
    assert TEXT in confirm  # the comment concerned is shown

    before = head(flask_app)
    action = f"/c/{comment_id}/erase"
    assert client.post(action, data={"basis": "legal"}).status_code == 400  # no CSRF token
    refused = send(client, action, action, {"basis": "because"})
    assert refused.status_code == 422 and "must be one of" in refused.get_data(as_text=True)
    assert head(flask_app) == before

    done = send(client, action, action, {"basis": "personal_data"})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"#c-{comment_id}")
    assert head(flask_app) == before + 1
    for viewer in (client, reader, author, flask_app.test_client()):
        html = page(viewer, THREAD_URL)
        assert PHONE not in html
        assert re.search(r"erased on \d{1,2} \w+ \d{4}", html)
        numbers = {cid: n for n, cid in numbered(html)}
        assert numbers[reply_id] == numbers[comment_id] + ".1"  # the reply keeps its place
        assert "please don&#39;t share that" in html or "please don't share that" in html
    assert PHONE not in page(client, f"/c/{comment_id}/history")
    assert PHONE not in page(client, "/audit")
    # Erasing again: the page says so; sending it changes nothing.
    assert "erased already" in page(client, action)
    before = head(flask_app)
    assert send(client, action, action, {"basis": "legal"}).status_code == 302
    assert head(flask_app) == before


def test_only_moderators_erase(client, flask_app):
    sign_in(client, "Ada")
    comment_id = posted(client, flask_app, TEXT)
    assert f"/c/{comment_id}/erase" not in page(client, THREAD_URL)
    before = head(flask_app)
    assert client.get(f"/c/{comment_id}/erase").status_code == 403
    token = csrf_of(page(client, THREAD_URL))
    response = client.post(f"/c/{comment_id}/erase", data={"csrf_token": token, "basis": "legal"})
    assert response.status_code == 403
    anonymous = flask_app.test_client()
    response = anonymous.get(f"/c/{comment_id}/erase")
    assert response.status_code == 302 and "/signin" in response.headers["Location"]
    assert head(flask_app) == before
    assert TEXT in page(anonymous, THREAD_URL)


# ---- one revision, from the history page ----------------------------------------------


def test_suppress_unsuppress_and_erase_a_revision_from_the_history_page(client, flask_app):
    author, reader = flask_app.test_client(), flask_app.test_client()
    sign_in(author, "Ada")
    comment_id = posted(author, flask_app, "first version")
    edit(author, comment_id, TEXT, reason="added my number")
    sign_in_moderator(client, flask_app)
    history = f"/c/{comment_id}/history"
    html = page(client, history)
    suppress = f"/c/{comment_id}/revisions/2/suppress"
    erase = f"/c/{comment_id}/revisions/2/erase"
    assert f'href="{suppress}"' in html and f'href="{erase}"' in html
    assert "Erase this version" in html
    assert suppress not in page(author, history)  # not for members

    words = " ".join(text_of(page(client, suppress)).split())
    assert "withheld by a moderator" in words and "nothing is destroyed" in words
    before = head(flask_app)
    neither = send(client, suppress, suppress, {"reason": "x"})  # no box ticked
    assert neither.status_code == 409 and head(flask_app) == before
    done = send(client, suppress, suppress, {"text": "1", "reason": "doxxing"})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"{history}#v2")
    assert head(flask_app) == before + 1
    assert PHONE not in page(reader, THREAD_URL)
    assert PHONE in page(client, THREAD_URL)  # moderators still read it

    unsuppress = f"/c/{comment_id}/revisions/2/unsuppress"
    html = page(client, history)
    assert f'href="{unsuppress}"' in html and f'href="{suppress}"' not in html
    again = send(client, suppress, suppress, {"text": "1"})
    assert again.status_code == 409 and "already" in again.get_data(as_text=True)
    assert send(client, unsuppress, unsuppress, {}).status_code == 302
    assert PHONE in page(reader, THREAD_URL)
    before = head(flask_app)
    not_now = send(client, unsuppress, unsuppress, {})
    assert not_now.status_code == 409 and head(flask_app) == before

    words = " ".join(text_of(page(client, erase)).split())
    assert "destroyed for good" in words and "other versions stay" in words
    assert send(client, erase, erase, {"basis": "personal_data"}).status_code == 302
    for viewer in (client, reader, author):
        assert PHONE not in page(viewer, THREAD_URL)
        assert PHONE not in page(viewer, history)
    assert "first version" in page(reader, history)  # the other revision stays
    assert "Erase this version" not in page(client, history).split('id="v2"')[1]


def test_an_unknown_revision_is_a_404_page(client, flask_app):
    sign_in(client, "Ada")
    comment_id = posted(client, flask_app, TEXT)
    sign_in_moderator(client, flask_app)
    for action in ("suppress", "unsuppress", "erase"):
        page(client, f"/c/{comment_id}/revisions/7/{action}", status=404)


# ---- the account page -----------------------------------------------------------------


def test_the_header_and_the_account_page_show_the_name_in_clear(client, flask_app):
    sign_in(client, "Zoë <b>")
    html = page(client, "/")
    assert "Signed in as <strong><bdi>Zoë &lt;b&gt;</bdi></strong>" in html
    assert 'href="/account"' in html
    account = page(client, "/account")
    assert "Zoë &lt;b&gt;" in account and "\x1e" not in account
    assert 'href="/api/v1/authors/me/export"' in account
    assert 'href="/account/erase"' in account
    assert "Zoë &lt;b&gt;" in page(client, "/signin")  # "you are signed in as"
    anonymous = flask_app.test_client().get("/account")
    assert anonymous.status_code == 302 and "/signin" in anonymous.headers["Location"]


def test_download_my_data_works_with_the_sign_in_cookie(client, flask_app):
    sign_in(client, "Ada")
    comment_id = posted(client, flask_app, TEXT)
    response = client.get("/api/v1/authors/me/export")
    assert response.status_code == 200, response.data[:300]
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert response.headers["Cache-Control"] == "private, no-store"
    export = response.json
    assert export["author"]["name"] == "Ada"
    assert [c["id"] for c in export["comments"]] == [comment_id]
    assert export["comments"][0]["revisions"][0]["text"] == TEXT


def test_an_author_erases_their_account_with_the_phrase(client, flask_app):
    sign_in(client, "Ada")
    comment_id = posted(client, flask_app, TEXT)
    other = flask_app.test_client()
    sign_in(other, "Brian")
    reply_id = posted(other, flask_app, "a reply that stays", parent=comment_id)
    token = client.get_cookie(COOKIE_NAME).value

    confirm = page(client, "/account/erase")
    words = " ".join(text_of(confirm).split())
    assert "destroyed for good" in words and "Replies by others stay" in words
    assert "can never sign in again" in words and "listed publicly" in words
    assert "erase my account" in words
    before = head(flask_app)
    for typed in ("", "yes", "Erase My Account please"):
        wrong = send(client, "/account/erase", "/account/erase", {"confirm": typed})
        assert wrong.status_code == 422, typed
        assert "exactly" in wrong.get_data(as_text=True)
    assert client.post("/account/erase", data={"confirm": "erase my account"}).status_code == 400
    assert head(flask_app) == before

    done = send(client, "/account/erase", "/account/erase", {"confirm": "erase my account"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/account/erased")
    assert head(flask_app) == before + 3  # the comment, the name released, the account
    assert client.get_cookie(COOKIE_NAME) is None  # signed out
    notice = page(client, "/account/erased")
    assert "Your account has been erased" in notice and "Signed in as" not in notice
    # The old token signs in nowhere.
    api = client.get("/api/v1/authors/me", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 401
    again = send(client, "/signin", "/signin", {"how": "token", "token": token, "next": "/"})
    assert again.status_code == 401
    for viewer in (client, other):
        html = page(viewer, THREAD_URL)
        assert PHONE not in html and "a reply that stays" in html
        numbers = {cid: n for n, cid in numbered(html)}
        assert numbers[reply_id] == numbers[comment_id] + ".1"


def test_the_retract_form_says_what_readers_will_and_will_not_see(client, flask_app):
    sign_in(client, "Ada")
    comment_id = posted(client, flask_app, TEXT)
    words = " ".join(text_of(page(client, f"/c/{comment_id}/retract")).split())
    assert (
        "Readers will see “retracted by its author” in its place; its text stays visible to"
        " you and moderators in its history; replies stay."
    ) in words
