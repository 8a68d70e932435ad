"""The application service against real event stores: SQLite and PostgreSQL.

Every test runs twice (the `database` fixture is parametrised). Positions returned
by commands are checked against the recorder's own head position, and failing
commands are checked to record nothing at all.
"""

from __future__ import annotations

import itertools
import sqlite3
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import psycopg
import pytest

from domain import tokens
from domain.application import Discussions
from domain.errors import (
    AuthorNotFound,
    CommentNotFound,
    CommentRetracted,
    NotAuthenticated,
    ParentNotFound,
    PermissionDenied,
    TextEmpty,
    ThreadKeyTaken,
    ThreadLocked,
    ThreadNotFound,
    VersionConflict,
)
from domain.model import MEMBER, MODERATOR, OPERATOR_ID, Author, Comment, Thread
from domain.settings import Database
from tests.support import opened

AT = datetime(2016, 7, 14, 9, 30, 15, 250000, tzinfo=UTC)


def stored_state_rows(database: Database, table: str) -> list[bytes]:
    """Every stored event's state, read with the raw driver (not through the library)."""
    if database.backend == "sqlite":
        with sqlite3.connect(database.path) as conn:
            return [bytes(row[0]) for row in conn.execute(f"SELECT state FROM {table}")]
    with psycopg.connect(
        host=database.host, port=database.port, user=database.user, dbname=database.dbname
    ) as conn:
        return [bytes(row[0]) for row in conn.execute(f"SELECT state FROM {table}")]


def head(app: Discussions) -> int:
    return app.recorder.max_notification_id() or 0


@pytest.fixture
def people(app):
    return {
        "ann": app.register_author("Ann").author_id,
        "bob": app.register_author("Bob").author_id,
        "mo": app.register_author("Mo", role=MODERATOR).author_id,
    }


@pytest.fixture
def thread_id(app):
    return app.open_thread(OPERATOR_ID, "Integration").thread_id


# ---- authors and tokens ---------------------------------------------------------------------


def test_register_then_authenticate(app):
    registration = app.register_author("  Ann  ")
    assert registration.position == head(app)
    assert (registration.name, registration.role) == ("Ann", MEMBER)
    author = app.authenticate(registration.token)
    assert isinstance(author, Author)
    assert author.id == registration.author_id
    assert opened(app, author.name) == "Ann"
    assert app.display_name(app.get_author(registration.author_id)) == "Ann"
    assert app.actor(registration.author_id).role == MEMBER


def test_authenticate_rejects_tokens_that_are_not_valid(app, thread_id):
    registration = app.register_author("Ann")
    invalid = {
        "wrong secret": tokens.make_token(registration.author_id, tokens.new_secret()),
        "unknown author": tokens.make_token(uuid4(), registration.token.partition(".")[2]),
        "a thread's id": tokens.make_token(thread_id, tokens.new_secret()),
        "another author's secret": tokens.make_token(
            registration.author_id, app.register_author("Bob").token.partition(".")[2]
        ),
    }
    for what, token in invalid.items():
        with pytest.raises(NotAuthenticated) as caught:
            app.authenticate(token)
        assert caught.value.message == "the token is not valid", what
        assert caught.value.kind == "unauthenticated"


def test_authenticate_rejects_malformed_tokens(app):
    registration = app.register_author("Ann")
    secret = registration.token.partition(".")[2]
    malformed = [
        "",
        "   ",
        None,
        "no-dot-at-all",
        "not-a-uuid.secret",
        f"{registration.author_id}.",
        f".{secret}",
        f"{str(registration.author_id)[:-1]}.{secret}",
        secret,
    ]
    for token in malformed:
        with pytest.raises(NotAuthenticated, match=r"^the token is malformed$"):
            app.authenticate(token)
    assert app.authenticate(f"  {registration.token}\n").id == registration.author_id


def test_only_the_token_hash_is_stored(app, database):
    registration = app.register_author("Ann")
    author_id, secret = tokens.split_token(registration.token)
    assert author_id == registration.author_id
    rows = stored_state_rows(database, app.recorder.events_table_name)
    assert rows, "the events table must hold the registration"
    blob = b"".join(rows)
    # The scan does read the stored state: the hash is there, in clear...
    assert tokens.hash_secret(secret).encode() in blob
    # ...the name is there sealed (domain/sealing.py), never in clear...
    assert b"Ann" not in blob and app.display_name(app.get_author(author_id)) == "Ann"
    # ...and the secret is nowhere, nor the token.
    assert secret.encode() not in blob
    assert registration.token.encode() not in blob
    assert app.get_author(author_id).token_hash == tokens.hash_secret(secret)


# ---- threads ----------------------------------------------------------------------------------


def test_open_thread_with_key_has_deterministic_id(app):
    opened = app.open_thread(OPERATOR_ID, "Post one", key="blog/post-1", body="Body")
    assert opened.thread_id == Thread.id_for_key("blog/post-1")
    assert opened.position == head(app)
    assert app.thread_id_for_key("blog/post-1") == opened.thread_id
    thread = app.get_thread(opened.thread_id)
    assert (thread.title, thread.body, thread.key) == ("Post one", "Body", "blog/post-1")


def test_duplicate_thread_key_is_taken_and_records_nothing(app):
    app.open_thread(OPERATOR_ID, "First", key="blog/post-1")
    before = head(app)
    with pytest.raises(ThreadKeyTaken) as caught:
        app.open_thread(OPERATOR_ID, "Second", key="blog/post-1")
    assert caught.value.message == "a thread with key 'blog/post-1' exists already"
    assert head(app) == before
    assert app.get_thread(Thread.id_for_key("blog/post-1")).title == "First"


def test_unknown_author_thread_and_comment(app, people):
    missing = uuid4()
    with pytest.raises(AuthorNotFound, match=f"^no author with id {missing}$"):
        app.get_author(missing)
    with pytest.raises(CommentNotFound, match=f"^no comment with id {missing}$"):
        app.get_comment(missing)
    with pytest.raises(ThreadNotFound, match=f"^no thread with id {missing}$"):
        app.get_thread(missing)
    with pytest.raises(ThreadNotFound):
        app.thread_id_for_key("never/opened")
    before = head(app)
    with pytest.raises(ThreadNotFound):
        app.post_comment(people["ann"], missing, "into the void")
    assert head(app) == before


# ---- comments ---------------------------------------------------------------------------------


def test_post_and_reply(app, people, thread_id):
    top = app.post_comment(people["ann"], thread_id, "top")
    assert top.created
    assert top.position == head(app)
    assert top.version == 1
    reply = app.post_comment(people["bob"], thread_id, "reply", parent_id=top.comment_id)
    assert reply.position == head(app) == top.position + 1
    comment = app.get_comment(reply.comment_id)
    assert (comment.thread_id, comment.parent_id, comment.author_id, opened(app, comment.text)) == (
        thread_id,
        top.comment_id,
        people["bob"],
        "reply",
    )


def test_reply_to_a_parent_in_another_thread(app, people, thread_id):
    other = app.open_thread(OPERATOR_ID, "Other").thread_id
    elsewhere = app.post_comment(people["ann"], other, "elsewhere").comment_id
    before = head(app)
    with pytest.raises(ParentNotFound) as caught:
        app.post_comment(people["bob"], thread_id, "reply", parent_id=elsewhere)
    assert caught.value.message == f"no comment with id {elsewhere} in this thread to reply to"
    assert caught.value.field == "parent_id"
    with pytest.raises(ParentNotFound, match="in this thread to reply to"):
        app.post_comment(people["bob"], thread_id, "reply", parent_id=uuid4())
    with pytest.raises(ParentNotFound, match="in this thread to reply to"):
        app.post_comment(people["bob"], thread_id, "reply", parent_id=thread_id)
    assert head(app) == before


def test_idempotent_retry_with_client_key(app, people, thread_id):
    first = app.post_comment(people["ann"], thread_id, "once", client_key="key-1")
    assert first.created
    before = head(app)
    assert first.position == before
    again = app.post_comment(people["ann"], thread_id, "once", client_key="key-1")
    assert head(app) == before, "a retry must record nothing"
    assert not again.created
    assert (again.comment_id, again.thread_id, again.version) == (
        first.comment_id,
        first.thread_id,
        first.version,
    )
    assert again.position == before
    # Another author, or another key, is another comment.
    other = app.post_comment(people["bob"], thread_id, "once", client_key="key-1")
    assert other.created
    assert other.comment_id != first.comment_id
    assert app.post_comment(people["ann"], thread_id, "x", client_key="key-2").created
    assert head(app) == before + 2


def test_idempotent_retry_after_an_edit_returns_the_current_version(app, people, thread_id):
    first = app.post_comment(people["ann"], thread_id, "once", client_key="k")
    app.edit_comment(people["ann"], first.comment_id, "twice")
    before = head(app)
    again = app.post_comment(people["ann"], thread_id, "once", client_key="k")
    assert head(app) == before
    assert (again.comment_id, again.version, again.created) == (first.comment_id, 2, False)
    assert opened(app, app.get_comment(first.comment_id).text) == "twice"


def test_every_command_returns_the_position_of_its_last_event(app):
    positions = []

    def check(result):
        assert result.position == head(app)
        assert not positions or result.position > positions[-1]
        positions.append(result.position)
        return result

    ann = check(app.register_author("Ann")).author_id
    mo = check(app.register_author("Mo", role=MODERATOR)).author_id
    thread_id = check(app.open_thread(mo, "Positions")).thread_id
    comment_id = check(app.post_comment(ann, thread_id, "c")).comment_id
    check(app.post_comment(ann, thread_id, "r", parent_id=comment_id))
    check(app.edit_comment(ann, comment_id, "c2", expected_version=1))
    check(app.hide_comment(mo, comment_id, "reason"))
    check(app.restore_comment(mo, comment_id))
    check(app.retitle_thread(mo, thread_id, "Renamed"))
    check(app.lock_thread(mo, thread_id))
    check(app.unlock_thread(mo, thread_id))
    changed = check(app.retract_comment(ann, comment_id))
    assert (changed.id, changed.version) == (comment_id, 5)
    # One event per command, two per registration (the author and its name's claim).
    steps = [b - a for a, b in itertools.pairwise(positions)]
    assert steps == [2] + [1] * (len(positions) - 2)
    assert app.head_position() == positions[-1]


def test_failing_commands_record_nothing(app, people, thread_id):
    ann, bob, mo = people["ann"], people["bob"], people["mo"]
    comment_id = app.post_comment(ann, thread_id, "c").comment_id
    before = head(app)
    failing = [
        (TextEmpty, lambda: app.post_comment(ann, thread_id, "   ")),
        (PermissionDenied, lambda: app.edit_comment(bob, comment_id, "not mine")),
        (PermissionDenied, lambda: app.hide_comment(ann, comment_id, "reason")),
        (PermissionDenied, lambda: app.lock_thread(ann, thread_id)),
        (TextEmpty, lambda: app.hide_comment(mo, comment_id, "")),
        (VersionConflict, lambda: app.edit_comment(ann, comment_id, "x", expected_version=7)),
        (CommentNotFound, lambda: app.edit_comment(ann, uuid4(), "x")),
        (NotAuthenticated, lambda: app.post_comment(uuid4(), thread_id, "who?")),
        (ThreadKeyTaken, lambda: app.open_thread(mo, "Again", key="taken")),
    ]
    app.open_thread(mo, "First", key="taken")
    before = head(app)
    for error, command in failing:
        with pytest.raises(error):
            command()
        assert head(app) == before, f"{error.__name__} recorded something"
    assert app.get_comment(comment_id).version == 1


def test_expected_version_conflict(app, people, thread_id):
    comment_id = app.post_comment(people["ann"], thread_id, "v1").comment_id
    changed = app.edit_comment(people["ann"], comment_id, "v2", expected_version=1)
    assert changed.version == 2
    before = head(app)
    with pytest.raises(VersionConflict) as caught:
        app.edit_comment(people["ann"], comment_id, "stale", expected_version=1)
    assert caught.value.current_version == 2
    assert caught.value.message == ("the comment is at version 2, not 1: reload it and edit again")
    assert caught.value.kind == "version_conflict"
    assert head(app) == before
    assert opened(app, app.get_comment(comment_id).text) == "v2"


def test_two_applications_racing_without_expected_version_still_conflict(
    app, database, people, thread_id
):
    """Two stale in-memory copies: the store's unique version, not the app, stops the second."""
    from projections.setup import open_application

    comment_id = app.post_comment(people["ann"], thread_id, "v1").comment_id
    other = open_application(database)
    try:
        stale = app.get_comment(comment_id)
        other.edit_comment(people["ann"], comment_id, "from the other app")
        stale.edit("from the stale copy", app.actor(people["ann"]))
        with pytest.raises(VersionConflict, match="another change to this item was saved first"):
            app._changed(stale)
    finally:
        other.close()
    assert opened(app, app.get_comment(comment_id).text) == "from the other app"


def test_retract_then_edit(app, people, thread_id):
    comment_id = app.post_comment(people["ann"], thread_id, "c").comment_id
    retracted = app.retract_comment(people["ann"], comment_id, "oops")
    assert retracted.version == 2
    before = head(app)
    with pytest.raises(CommentRetracted, match=r"^the comment has been retracted$"):
        app.edit_comment(people["ann"], comment_id, "resurrect")
    with pytest.raises(CommentRetracted, match=r"^the comment has been retracted$"):
        app.post_comment(people["bob"], thread_id, "reply", parent_id=comment_id)
    assert head(app) == before


def test_lock_stops_posts_and_edits(app, people, thread_id):
    comment_id = app.post_comment(people["ann"], thread_id, "c").comment_id
    app.lock_thread(people["mo"], thread_id, "cooling off")
    before = head(app)
    with pytest.raises(ThreadLocked, match=r"^the thread is locked: no new comments or edits$"):
        app.post_comment(people["ann"], thread_id, "more")
    with pytest.raises(ThreadLocked, match=r"^the thread is locked"):
        app.post_comment(people["mo"], thread_id, "more", parent_id=comment_id)
    with pytest.raises(ThreadLocked, match=r"^the thread is locked"):
        app.edit_comment(people["ann"], comment_id, "edit")
    with pytest.raises(ThreadLocked, match=r"^the thread is locked"):
        app.edit_comment(people["mo"], comment_id, "moderator edit")
    assert head(app) == before
    app.unlock_thread(people["mo"], thread_id)
    app.edit_comment(people["ann"], comment_id, "edit")


def test_moderator_may_edit_others_comments_member_may_not(app, people, thread_id):
    comment_id = app.post_comment(people["ann"], thread_id, "c").comment_id
    before = head(app)
    with pytest.raises(PermissionDenied) as caught:
        app.edit_comment(people["bob"], comment_id, "bob was here")
    assert caught.value.message == "only the comment's author or a moderator may change it"
    assert head(app) == before
    changed = app.edit_comment(people["mo"], comment_id, "moderated", reason="phone number")
    assert changed.position == head(app) == before + 1
    comment = app.get_comment(comment_id)
    assert (opened(app, comment.text), comment.author_id) == ("moderated", people["ann"])
    edited = list(app.events.get(comment_id))[-1]
    assert isinstance(edited, Comment.Edited)
    assert (edited.actor_id, opened(app, edited.reason), edited.thread_id) == (
        people["mo"],
        "phone number",
        thread_id,
    )


def test_events_read_back_carry_actor_and_utc_timestamps(app, people, thread_id):
    posted = app.post_comment(OPERATOR_ID, thread_id, "imported", author_id=people["ann"], at=AT)
    app.edit_comment(people["ann"], posted.comment_id, "now")
    app.hide_comment(people["mo"], posted.comment_id, "why", at=AT + timedelta(days=1))
    events = list(app.events.get(posted.comment_id))
    assert [e.actor_id for e in events] == [OPERATOR_ID, people["ann"], people["mo"]]
    assert events[0].author_id == people["ann"]
    assert events[0].timestamp == AT
    assert events[2].timestamp == AT + timedelta(days=1)
    for event in events:
        assert event.timestamp.utcoffset() == timedelta(0)
    assert abs(events[1].timestamp - datetime.now(UTC)) < timedelta(seconds=30)
    assert all(isinstance(e.thread_id, UUID) for e in events)
