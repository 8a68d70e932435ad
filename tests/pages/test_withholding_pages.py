"""Withheld content stays withheld on the pages of the past: the time slider's `?at=`
permalink of the thread and a comment's history page do not show the text of a comment
hidden by a moderator or retracted by its author since. These tests reproduce leaks
found when the product was tried."""

from __future__ import annotations

from uuid import UUID

from domain.model import MEMBER, MODERATOR
from tests.pages.conftest import THREAD_URL, demo_thread_id, numbered, page, text_of

PHONE = "07700 900123"
TEXT = f"call me on {PHONE}"


def runtime(flask_app):
    return flask_app.extensions["discuss"]


def thread_id(flask_app) -> UUID:
    return UUID(demo_thread_id(flask_app))


def settled(flask_app, position: int) -> None:
    assert runtime(flask_app).wait_for(position, timeout=10)


def test_past_thread_page_withholds_a_comment_hidden_since(client, flask_app):
    """Leak: `/t/<key>?at=<position>` shows a comment's text that a moderator has hidden since."""
    app = runtime(flask_app).services.app
    ada = app.register_author("Ada", MEMBER).author_id
    mo = app.register_author("Mo", MODERATOR).author_id
    posted = app.post_comment(ada, thread_id(flask_app), TEXT)
    hid = app.hide_comment(mo, posted.comment_id, "phone number")
    settled(flask_app, hid.position)
    html = page(client, f"{THREAD_URL}?at={posted.position}")
    assert "You are viewing this thread as it was on" in html
    assert str(posted.comment_id) in dict(numbered(html)).values()  # kept at its place
    assert PHONE not in html


def test_history_page_withholds_a_retracted_comment(client, flask_app):
    """Leak: `/c/<id>/history` shows a retracted comment's texts to anonymous readers."""
    app = runtime(flask_app).services.app
    ada = app.register_author("Ada", MEMBER).author_id
    posted = app.post_comment(ada, thread_id(flask_app), TEXT)
    app.edit_comment(ada, posted.comment_id, f"{TEXT} after 6pm")
    retracted = app.retract_comment(ada, posted.comment_id)
    settled(flask_app, retracted.position)
    html = page(client, f"/c/{posted.comment_id}/history")
    assert "History of comment" in " ".join(text_of(html).split())
    assert PHONE not in html
