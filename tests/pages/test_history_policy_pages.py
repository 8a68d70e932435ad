"""The pages of the record go through the same named queries as the API, so the same
visibility policy: a comment's history page shows why and since when a text or reason is
withheld ("Version 2 was erased on 6 December 2026 (it exposed personal data)"), never
the text; the audit page opens names and reasons for moderators but never erased content;
the public /audit/erasures page lists the ledger. No page ever shows a sealed value. On
SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from uuid import UUID

import pytest
from flask import Flask

from domain.model import MEMBER, MODERATOR, OPERATOR_ID
from domain.settings import Database, Settings
from tests.pages.conftest import page, send, text_of
from web import create_app
from workers.bootstrap import forget_services

DAY = r"\d{1,2} [A-Z][a-z]+ \d{4}"
SEALED = re.compile(r"\x1es1:|s1:[0-9a-f]{32}:")
V1, V2, V3 = "I live in Leeds", "I live at 12 Acacia Avenue, Leeds", "I live in Leeds, again"
V2_REASON = "added my street, 12 Acacia Avenue"


@pytest.fixture
def flask_app(database: Database) -> Iterator[Flask]:
    """The app on both backends (the package's fixture is SQLite only)."""
    config = Settings.from_env(
        database=database,
        redis_url=None,
        embedded_runner=True,
        write_rate_limit="10000 per minute",
    )
    flask_app = create_app(config)
    yield flask_app
    flask_app.extensions["discuss"].stop()
    forget_services()


@dataclass
class World:
    app: object
    ada: object  # registrations: author_id, token
    bea: object
    mo: object
    thread: UUID
    comment: UUID  # Ada's, three revisions; the second carries an address


@pytest.fixture
def world(flask_app) -> World:
    app = flask_app.extensions["discuss"].services.app
    ada = app.register_author("Ada", MEMBER)
    bea = app.register_author("Bea", MEMBER)
    mo = app.register_author("Mo", MODERATOR)
    thread = app.open_thread(mo.author_id, "Records", key="records/1").thread_id
    posted = app.post_comment(ada.author_id, thread, V1)
    app.edit_comment(ada.author_id, posted.comment_id, V2, reason=V2_REASON)
    app.edit_comment(ada.author_id, posted.comment_id, V3, reason="removed the street")
    return World(app, ada, bea, mo, thread, posted.comment_id)


def settled(flask_app, position: int) -> None:
    assert flask_app.extensions["discuss"].wait_for(position, timeout=10)


def signed_in(flask_app, token: str):
    client = flask_app.test_client()
    response = send(client, "/signin", "/signin", {"how": "token", "token": token, "next": "/"})
    assert response.status_code == 302, response.data[:500]
    return client


def clean(html: str, *secrets: str) -> str:
    """The page's words; no sealed value and none of `secrets` anywhere in its HTML."""
    assert not SEALED.search(html), SEALED.search(html)
    for secret in secrets:
        assert secret not in html, secret
    return " ".join(text_of(html).split())


def readers(flask_app, world: World) -> dict:
    return {
        "anonymous": flask_app.test_client(),
        "member": signed_in(flask_app, world.bea.token),
        "author": signed_in(flask_app, world.ada.token),
        "moderator": signed_in(flask_app, world.mo.token),
    }


def test_history_page_of_a_retracted_comment_for_its_author_and_moderators(flask_app, world):
    at = world.app.retract_comment(world.ada.author_id, world.comment, "posted by mistake")
    settled(flask_app, at.position)
    url = f"/c/{world.comment}/history"
    clients = readers(flask_app, world)
    for who in ("anonymous", "member"):
        words = clean(page(clients[who], url), V1, V2, V3, "Acacia", "removed the street")
        assert re.search(
            f"This comment was retracted by its author on {DAY}: its texts are for its author"
            " and moderators only.",
            words,
        ), words
        assert "Reason: posted by mistake" in words  # the author's public note
        assert "by the author" in words
    for who in ("author", "moderator"):
        words = clean(page(clients[who], url))
        assert V1 in words and V2 in words and V3 in words, who
        assert f"Reason: {V2_REASON}" in words


def test_history_page_notes_a_suppressed_then_an_erased_revision(flask_app, world):
    app, url = world.app, f"/c/{world.comment}/history"
    at = app.suppress_revision(
        world.mo.author_id, world.comment, 2, text=True, edit_reason=True, reason="an address"
    )
    settled(flask_app, at.position)
    clients = readers(flask_app, world)
    for who in ("anonymous", "member", "author"):
        html = page(clients[who], url)
        words = clean(html, "Acacia", "an address")
        assert re.search(f"Version 2 was withheld by a moderator on {DAY}\\.", words), words
        assert re.search(f"Reason not shown: withheld by a moderator on {DAY}\\.", words)
        assert V1 in words and V3 in words
        assert "Version 2: its text and its edit reason withheld by a moderator." in words
        # No diff drawn against the withheld text, and the compare form skips it.
        assert "<del>" not in html.split('id="v4"')[0].split('id="v3"')[1]
        assert '<option value="2"' not in html
        compared = page(clients[who], f"{url}?from=1&to=2")
        clean(compared, "Acacia")
    moderator = clean(page(clients["moderator"], url))
    assert V2 in moderator and "Reason: an address" in moderator

    at = app.erase_revision(world.mo.author_id, world.comment, 2, "personal_data")
    settled(flask_app, at.position)
    for who, client in clients.items():
        html = page(client, url)
        words = clean(html, "Acacia", V2_REASON)
        assert re.search(
            f"Version 2 was erased on {DAY} \\(it exposed personal data\\)\\.", words
        ), (who, words)
        assert "Version 2 was erased (it exposed personal data)." in words
        assert V1 in words and V3 in words
        assert 'href="/audit/erasures"' in html  # the ledger, linked


def test_history_page_of_an_erased_comment_shows_no_text_to_anyone(flask_app, world):
    app = world.app
    app.hide_comment(world.mo.author_id, world.comment, "doxxing")
    at = app.erase_comment(world.mo.author_id, world.comment, "legal")
    settled(flask_app, at.position)
    for who, client in readers(flask_app, world).items():
        words = clean(
            page(client, f"/c/{world.comment}/history"),
            V1,
            V2,
            V3,
            V2_REASON,
            "removed the street",
            "doxxing",
        )
        assert re.search(
            f"This comment was erased on {DAY} \\(in response to a legal request\\): nobody"
            " can read its texts any more.",
            words,
        ), (who, words)
        assert "Version 1 was" not in words  # the comment's own note says it once
        assert "Every version of this comment was erased (in response to a legal request)." in (
            words
        )


def test_the_erasure_ledger_page_and_the_audit_page(flask_app, world):
    app = world.app
    takedown = app.post_comment(world.bea.author_id, world.thread, "call 07700 900123")
    app.erase_revision(world.mo.author_id, world.comment, 2, "personal_data")
    app.erase_comment(world.mo.author_id, takedown.comment_id, "legal")
    app.erase_author(world.ada.author_id, world.ada.author_id, "author_request")
    at = app.erase_author(OPERATOR_ID, world.bea.author_id, "operator")
    settled(flask_app, at.position)

    anyone = flask_app.test_client()
    html = page(anyone, "/audit/erasures")
    words = clean(html, "Acacia", "07700", V1, V3, "Ada", "Bea")
    rows = re.findall(r'<tr data-kind="([a-z]+)">', html)
    assert rows == ["author", "author", "comment", "revision"]
    for label in (
        "by decision of the site's operator",
        "at the author's request",
        "in response to a legal request",
        "it exposed personal data",
    ):
        assert label in words, label
    assert "the author themself" in words and "operator" in words
    assert f"version 2 of comment {world.comment}" in words
    assert f"author {world.ada.author_id} (1 comment)" in words

    moderator = signed_in(flask_app, world.mo.token)
    audit = page(moderator, "/audit")
    words = clean(audit, "Acacia", "07700", V2_REASON, "removed the street", "Ada", "Bea")
    assert 'href="/audit/erasures"' in audit
    assert "erased author" in words and "Mo" in words
    assert {"Comment.Erased", "Comment.RevisionErased", "Author.Erased"} <= set(
        re.findall(r'<tr data-type="([^"]+)"', audit)
    )
