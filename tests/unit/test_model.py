"""The aggregates (domain/model.py) and the rights the application checks, without a
database: aggregates directly, and the application on the in-memory store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

import pytest

from domain.application import Discussions
from domain.errors import (
    CommentHidden,
    CommentRetracted,
    InvalidTransition,
    NotAuthenticated,
    ParentNotFound,
    PermissionDenied,
    ThreadLocked,
)
from domain.model import (
    HIDDEN,
    MEMBER,
    MODERATOR,
    OPERATOR,
    OPERATOR_ID,
    RETRACTED,
    VISIBLE,
    Actor,
    Author,
    Comment,
    Thread,
)

AT = datetime(2016, 7, 14, 9, 30, 15, 123456, tzinfo=UTC)


def new_comment(author_id: UUID | None = None, **kwargs) -> Comment:
    return Comment.post(
        thread_id=kwargs.pop("thread_id", uuid4()),
        parent_id=kwargs.pop("parent_id", None),
        author_id=author_id or uuid4(),
        text=kwargs.pop("text", "hello"),
        **kwargs,
    )


def member(actor_id: UUID | None = None) -> Actor:
    return Actor(actor_id or uuid4(), MEMBER)


def moderator() -> Actor:
    return Actor(uuid4(), MODERATOR)


def new_thread(**kwargs) -> Thread:
    return Thread.open(
        title=kwargs.pop("title", "A thread"),
        body=None,
        key=kwargs.pop("key", None),
        actor_id=kwargs.pop("actor_id", OPERATOR_ID),
        **kwargs,
    )


def assert_utc_now(timestamp: datetime) -> None:
    assert timestamp.tzinfo is not None, "the timestamp must be timezone-aware"
    assert timestamp.utcoffset() == timedelta(0), "the timestamp must be in UTC"
    assert abs(datetime.now(UTC) - timestamp) < timedelta(seconds=10)


# ---- authors ----------------------------------------------------------------------------


def test_author_registered_event_carries_who_and_when():
    author = Author.register(name="Ann", role=MEMBER, token_hash="h" * 64)
    (event,) = author.collect_events()
    assert isinstance(event, Author.Registered)
    assert event.actor_id == author.id  # self-registration
    assert (event.name, event.role, event.token_hash) == ("Ann", MEMBER, "h" * 64)
    assert_utc_now(event.timestamp)
    assert author.created_on == event.timestamp
    assert not author.is_moderator


def test_author_registration_keeps_explicit_id_timestamp_and_actor():
    author_id = uuid4()
    author = Author.register(
        name="Mo",
        role=MODERATOR,
        token_hash="x",
        author_id=author_id,
        actor_id=OPERATOR_ID,
        at=AT,
    )
    (event,) = author.collect_events()
    assert author.id == author_id
    assert event.actor_id == OPERATOR_ID
    assert event.timestamp == AT
    assert author.is_moderator


# ---- threads ----------------------------------------------------------------------------


def test_thread_with_a_key_has_a_deterministic_id():
    thread = new_thread(key="blog/post-1")
    assert thread.id == Thread.id_for_key("blog/post-1")
    assert thread.id == uuid5(NAMESPACE_URL, "/threads/blog/post-1")
    assert new_thread(key="blog/post-1").id == thread.id
    assert new_thread(key="blog/post-2").id != thread.id


def test_thread_without_a_key_gets_a_random_id():
    assert new_thread().id != new_thread().id


def test_thread_opened_event_carries_who_and_when():
    actor_id = uuid4()
    thread = new_thread(actor_id=actor_id, key="k")
    (event,) = thread.collect_events()
    assert isinstance(event, Thread.Opened)
    assert event.actor_id == actor_id
    assert (event.title, event.key, event.body) == ("A thread", "k", None)
    assert_utc_now(event.timestamp)
    assert thread.opened_by == actor_id
    assert thread.locked is False


def test_thread_events_keep_explicit_timestamps():
    thread = new_thread(at=AT)
    thread.lock("spam wave", OPERATOR_ID, at=AT + timedelta(days=1))
    thread.unlock(None, OPERATOR_ID, at=AT + timedelta(days=2))
    thread.retitle("New title", OPERATOR_ID, at=AT + timedelta(days=3))
    events = thread.collect_events()
    assert [type(e) for e in events] == [
        Thread.Opened,
        Thread.Locked,
        Thread.Unlocked,
        Thread.Retitled,
    ]
    assert [e.timestamp for e in events] == [AT + timedelta(days=n) for n in range(4)]
    assert thread.created_on == AT
    assert thread.modified_on == AT + timedelta(days=3)


def test_non_utc_explicit_timestamp_is_kept_as_the_same_instant():
    paris = timezone(timedelta(hours=2))
    at = datetime(2016, 7, 14, 11, 30, tzinfo=paris)
    (event,) = new_thread(at=at).collect_events()
    assert event.timestamp == at
    assert event.timestamp == datetime(2016, 7, 14, 9, 30, tzinfo=UTC)


def test_every_thread_event_carries_the_actor_and_a_utc_timestamp():
    thread = new_thread()
    mod = uuid4()
    thread.retitle("t2", mod)
    thread.lock("why", mod)
    thread.unlock("because", mod)
    events = thread.collect_events()
    assert [e.actor_id for e in events] == [OPERATOR_ID, mod, mod, mod]
    for event in events:
        assert_utc_now(event.timestamp)
    assert events[2].reason == "why"
    assert events[3].reason == "because"


def test_lock_then_unlock():
    thread = new_thread()
    thread.check_open()
    thread.lock(None, OPERATOR_ID)
    assert thread.locked
    with pytest.raises(ThreadLocked) as caught:
        thread.check_open()
    assert caught.value.message == "the thread is locked: no new comments or edits"
    assert caught.value.kind == "conflict"
    thread.unlock(None, OPERATOR_ID)
    assert not thread.locked
    thread.check_open()


def test_locking_a_locked_thread_is_an_invalid_transition():
    thread = new_thread()
    thread.lock(None, OPERATOR_ID)
    with pytest.raises(InvalidTransition, match=r"^the thread is already locked$"):
        thread.lock(None, OPERATOR_ID)
    assert thread.version == 2  # nothing recorded by the failed lock


def test_unlocking_an_open_thread_is_an_invalid_transition():
    thread = new_thread()
    with pytest.raises(InvalidTransition, match=r"^the thread is not locked$"):
        thread.unlock(None, OPERATOR_ID)
    assert thread.version == 1


# ---- comments: identity and events ----------------------------------------------------------


def test_comment_with_a_client_key_has_a_deterministic_id():
    thread_id, author_id = uuid4(), uuid4()
    one = new_comment(author_id, thread_id=thread_id, client_key="k1")
    again = new_comment(author_id, thread_id=thread_id, client_key="k1")
    other_author = new_comment(uuid4(), thread_id=thread_id, client_key="k1")
    other_key = new_comment(author_id, thread_id=thread_id, client_key="k2")
    assert one.id == again.id == Comment.id_for_client_key(thread_id, author_id, "k1")
    assert len({one.id, other_author.id, other_key.id}) == 3
    assert new_comment(author_id).id != new_comment(author_id).id


def test_comment_explicit_id_wins():
    comment_id = uuid4()
    assert new_comment(comment_id=comment_id, client_key="k").id == comment_id


def test_posted_event_records_an_operator_posting_in_an_authors_name():
    author_id = uuid4()
    (event,) = new_comment(author_id, actor_id=OPERATOR_ID).collect_events()
    assert (event.actor_id, event.author_id) == (OPERATOR_ID, author_id)


def test_posted_event_carries_who_when_and_where():
    thread_id, parent_id, author_id = uuid4(), uuid4(), uuid4()
    comment = new_comment(author_id, thread_id=thread_id, parent_id=parent_id, text="hi")
    (event,) = comment.collect_events()
    assert isinstance(event, Comment.Posted)
    assert event.actor_id == author_id
    assert event.author_id == author_id
    assert event.thread_id == thread_id
    assert event.parent_id == parent_id
    assert event.text == "hi"
    assert_utc_now(event.timestamp)
    assert (comment.state, comment.text, comment.version) == (VISIBLE, "hi", 1)


def test_every_comment_event_carries_actor_thread_and_utc_timestamp():
    author = member()
    mod = moderator()
    thread_id = uuid4()
    comment = new_comment(author.id, thread_id=thread_id)
    comment.edit("v2", author, "typo")
    comment.hide(mod, "rude")
    comment.restore(mod, "on appeal")
    comment.retract(author, "changed my mind")
    events = comment.collect_events()
    assert [type(e) for e in events] == [
        Comment.Posted,
        Comment.Edited,
        Comment.Hidden,
        Comment.Restored,
        Comment.Retracted,
    ]
    assert [e.actor_id for e in events] == [author.id, author.id, mod.id, mod.id, author.id]
    assert [e.reason for e in events[1:]] == ["typo", "rude", "on appeal", "changed my mind"]
    for event in events:
        assert event.thread_id == thread_id
        assert_utc_now(event.timestamp)
    assert [e.originator_version for e in events] == [1, 2, 3, 4, 5]


def test_comment_events_keep_explicit_timestamps():
    author = member()
    mod = moderator()
    comment = new_comment(author.id, at=AT)
    comment.edit("v2", author, at=AT + timedelta(hours=1))
    comment.hide(mod, "why", at=AT + timedelta(hours=2))
    comment.restore(mod, None, at=AT + timedelta(hours=3))
    comment.retract(author, at=AT + timedelta(hours=4))
    stamps = [e.timestamp for e in comment.collect_events()]
    assert stamps == [AT + timedelta(hours=n) for n in range(5)]


# ---- comments: who may do what ---------------------------------------------------------------


def test_author_may_edit_and_retract_own_comment():
    author = member()
    comment = new_comment(author.id)
    comment.edit("changed", author)
    assert comment.text == "changed"
    comment.retract(author)
    assert comment.state == RETRACTED


@pytest.mark.parametrize("actor", [moderator(), OPERATOR], ids=["moderator", "operator"])
def test_moderator_may_edit_and_retract_someone_elses_comment(actor):
    comment = new_comment()
    comment.edit("moderated", actor, "removed a phone number")
    assert comment.text == "moderated"
    comment.retract(actor)
    assert comment.state == RETRACTED


def test_another_member_may_not_edit():
    comment = new_comment()
    with pytest.raises(PermissionDenied) as caught:
        comment.edit("hijacked", member())
    assert caught.value.message == "only the comment's author or a moderator may change it"
    assert caught.value.kind == "forbidden"
    assert comment.text == "hello"
    assert comment.version == 1


def test_another_member_may_not_retract():
    comment = new_comment()
    with pytest.raises(
        PermissionDenied, match="only the comment's author or a moderator may change it"
    ):
        comment.retract(member())
    assert comment.state == VISIBLE


def test_only_moderators_may_hide():
    author = member()
    comment = new_comment(author.id)
    for actor in (author, member()):
        with pytest.raises(PermissionDenied, match=r"^only a moderator may hide a comment$"):
            comment.hide(actor, "reason")
    assert comment.state == VISIBLE
    comment.hide(moderator(), "reason")
    assert comment.state == HIDDEN


def test_only_moderators_may_restore():
    author = member()
    comment = new_comment(author.id)
    comment.hide(moderator(), "reason")
    for actor in (author, member()):
        with pytest.raises(PermissionDenied, match=r"^only a moderator may restore a comment$"):
            comment.restore(actor, None)
    assert comment.state == HIDDEN
    comment.restore(moderator(), None)
    assert comment.state == VISIBLE


def test_actor_check_moderator_names_the_action():
    with pytest.raises(PermissionDenied, match=r"^only a moderator may lock a thread$"):
        member().check_moderator("lock a thread")
    moderator().check_moderator("lock a thread")
    OPERATOR.check_moderator("lock a thread")
    assert OPERATOR.id == OPERATOR_ID


# ---- comments: invalid transitions ----------------------------------------------------------


def test_retracted_comment_cannot_be_edited():
    author = member()
    comment = new_comment(author.id)
    comment.retract(author)
    for actor in (author, moderator()):
        with pytest.raises(CommentRetracted) as caught:
            comment.edit("again", actor)
        assert caught.value.message == "the comment has been retracted"
        assert caught.value.kind == "conflict"
    assert comment.version == 2


def test_retracted_comment_cannot_be_retracted_again():
    author = member()
    comment = new_comment(author.id)
    comment.retract(author)
    with pytest.raises(CommentRetracted, match="the comment has been retracted"):
        comment.retract(author)


def test_retracted_comment_cannot_be_replied_to():
    comment = new_comment()
    comment.retract(moderator())
    with pytest.raises(CommentRetracted, match="the comment has been retracted"):
        comment.check_live()


def test_retracted_comment_cannot_be_hidden():
    comment = new_comment()
    comment.retract(moderator())
    with pytest.raises(CommentRetracted, match="the comment has been retracted"):
        comment.hide(moderator(), "reason")


def test_hiding_a_hidden_comment_is_an_invalid_transition():
    comment = new_comment()
    comment.hide(moderator(), "reason")
    with pytest.raises(InvalidTransition, match=r"^the comment is already hidden$"):
        comment.hide(moderator(), "again")
    assert comment.version == 2


@pytest.mark.parametrize("state", [VISIBLE, RETRACTED])
def test_restoring_a_comment_that_is_not_hidden_is_an_invalid_transition(state):
    comment = new_comment()
    if state == RETRACTED:
        comment.retract(moderator())
    with pytest.raises(InvalidTransition, match=r"^only a hidden comment can be restored$"):
        comment.restore(moderator(), None)
    assert comment.state == state


def test_hidden_comment_cannot_be_edited_by_its_author_but_by_a_moderator():
    author = member()
    comment = new_comment(author.id)
    comment.hide(moderator(), "reason")
    with pytest.raises(CommentHidden) as caught:
        comment.edit("sneaky", author)
    assert caught.value.message == "the comment is hidden by a moderator and cannot be edited"
    comment.edit("redacted", moderator())
    assert comment.text == "redacted"


# ---- the same rights through the application service (in-memory store) ---------------------


@pytest.fixture
def app() -> Discussions:
    application = Discussions(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield application
    application.close()


@pytest.fixture
def people(app):
    return {
        "ann": app.register_author("Ann").author_id,
        "bob": app.register_author("Bob").author_id,
        "mo": app.register_author("Mo", role=MODERATOR).author_id,
    }


@pytest.fixture
def thread_id(app):
    return app.open_thread(OPERATOR_ID, "Rights").thread_id


def test_only_moderators_may_open_threads(app, people):
    with pytest.raises(PermissionDenied, match=r"^only a moderator may open a thread$"):
        app.open_thread(people["ann"], "Mine")
    app.open_thread(people["mo"], "Moderated")


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("lock_thread", "lock a thread"),
        ("unlock_thread", "unlock a thread"),
        ("retitle_thread", "retitle a thread"),
    ],
)
def test_only_moderators_may_lock_unlock_retitle(app, people, thread_id, command, words):
    if command == "unlock_thread":
        app.lock_thread(people["mo"], thread_id)
    version = app.get_thread(thread_id).version
    args = ("title",) if command == "retitle_thread" else ()
    with pytest.raises(PermissionDenied, match=f"^only a moderator may {words}$"):
        getattr(app, command)(people["ann"], thread_id, *args)
    assert app.get_thread(thread_id).version == version
    getattr(app, command)(people["mo"], thread_id, *args)
    assert app.get_thread(thread_id).version == version + 1


@pytest.mark.parametrize(
    ("command", "words"),
    [("hide_comment", "hide a comment"), ("restore_comment", "restore a comment")],
)
def test_only_moderators_may_hide_and_restore(app, people, thread_id, command, words):
    comment_id = app.post_comment(people["ann"], thread_id, "text").comment_id
    if command == "restore_comment":
        app.hide_comment(people["mo"], comment_id, "reason")
    for who in ("ann", "bob"):
        with pytest.raises(PermissionDenied, match=f"^only a moderator may {words}$"):
            getattr(app, command)(people[who], comment_id, "reason")
    getattr(app, command)(people["mo"], comment_id, "reason")


def test_edit_and_retract_only_by_author_or_moderator(app, people, thread_id):
    comment_id = app.post_comment(people["ann"], thread_id, "text").comment_id
    with pytest.raises(PermissionDenied, match="author or a moderator"):
        app.edit_comment(people["bob"], comment_id, "not yours")
    with pytest.raises(PermissionDenied, match="author or a moderator"):
        app.retract_comment(people["bob"], comment_id)
    app.edit_comment(people["ann"], comment_id, "mine")
    app.edit_comment(people["mo"], comment_id, "moderated")
    app.retract_comment(people["mo"], comment_id)
    comment = app.get_comment(comment_id)
    assert (comment.text, comment.state, comment.version) == ("moderated", RETRACTED, 4)


def test_posting_and_editing_in_a_locked_thread(app, people, thread_id):
    comment_id = app.post_comment(people["ann"], thread_id, "before").comment_id
    app.lock_thread(people["mo"], thread_id, "heated")
    with pytest.raises(ThreadLocked, match="the thread is locked"):
        app.post_comment(people["ann"], thread_id, "after")
    with pytest.raises(ThreadLocked, match="the thread is locked"):
        app.post_comment(people["ann"], thread_id, "reply", parent_id=comment_id)
    for who in ("ann", "mo"):
        with pytest.raises(ThreadLocked, match="the thread is locked"):
            app.edit_comment(people[who], comment_id, "edited")
    with pytest.raises(InvalidTransition, match="already locked"):
        app.lock_thread(people["mo"], thread_id)
    app.unlock_thread(people["mo"], thread_id)
    app.post_comment(people["ann"], thread_id, "after")
    app.edit_comment(people["ann"], comment_id, "edited")


def test_replying_to_a_retracted_comment(app, people, thread_id):
    comment_id = app.post_comment(people["ann"], thread_id, "parent").comment_id
    app.retract_comment(people["ann"], comment_id)
    with pytest.raises(CommentRetracted, match="the comment has been retracted"):
        app.post_comment(people["bob"], thread_id, "reply", parent_id=comment_id)


def test_replying_to_a_comment_of_another_thread(app, people, thread_id):
    other = app.open_thread(OPERATOR_ID, "Other").thread_id
    comment_id = app.post_comment(people["ann"], other, "elsewhere").comment_id
    with pytest.raises(ParentNotFound) as caught:
        app.post_comment(people["bob"], thread_id, "reply", parent_id=comment_id)
    assert caught.value.message == (f"no comment with id {comment_id} in this thread to reply to")
    assert caught.value.field == "parent_id"


def test_posting_in_another_authors_name_needs_a_moderator(app, people, thread_id):
    with pytest.raises(PermissionDenied, match=r"^only a moderator may post in another"):
        app.post_comment(people["bob"], thread_id, "as Ann", author_id=people["ann"])
    posted = app.post_comment(OPERATOR_ID, thread_id, "imported", author_id=people["ann"], at=AT)
    comment = app.get_comment(posted.comment_id)
    assert comment.author_id == people["ann"]
    assert comment.created_on == AT
    # The event says who did it (the operator) and in whose name (Ann).
    (event,) = app.events.get(posted.comment_id)
    assert (event.actor_id, event.author_id) == (OPERATOR_ID, people["ann"])
    # A moderator may do it too, and is recorded as the actor.
    by_mo = app.post_comment(people["mo"], thread_id, "for Bob", author_id=people["bob"])
    (event,) = app.events.get(by_mo.comment_id)
    assert (event.actor_id, event.author_id) == (people["mo"], people["bob"])


def test_unknown_actor_is_not_authenticated(app, thread_id):
    stranger = uuid4()
    with pytest.raises(NotAuthenticated, match=f"no author with id {stranger}"):
        app.post_comment(stranger, thread_id, "hello")


def test_application_events_keep_explicit_timestamps_through_the_store(app, people, thread_id):
    ann, mo = people["ann"], people["mo"]
    comment_id = app.post_comment(ann, thread_id, "t", at=AT).comment_id
    app.edit_comment(ann, comment_id, "t2", at=AT + timedelta(minutes=1))
    app.hide_comment(mo, comment_id, "why", at=AT + timedelta(minutes=2))
    stored = list(app.events.get(comment_id))
    assert [e.timestamp for e in stored] == [AT + timedelta(minutes=n) for n in range(3)]
    assert [e.actor_id for e in stored] == [ann, ann, mo]


def test_erasure_rules_of_a_comment():
    """Erasing is idempotent; nothing erased can be suppressed, unsuppressed, edited,
    restored or erased revision by revision again; unknown revisions are named."""
    from domain.errors import CommentErased, RevisionNotFound
    from domain.model import ERASED_COMMENT

    mod = moderator()
    comment = new_comment()
    comment.edit("second", mod)
    comment.suppress_revision(mod, 2, text=True, edit_reason=False, reason=None)
    with pytest.raises(RevisionNotFound):
        comment.erase_revision(mod, 3, "legal")
    assert comment.erase_revision(mod, 1, "legal") is True
    assert comment.erase_revision(mod, 1, "legal") is False  # once is enough
    with pytest.raises(CommentErased):
        comment.suppress_revision(mod, 1, text=True, edit_reason=False, reason=None)
    assert comment.erase(mod, ERASED_COMMENT, "legal") is True
    assert comment.erase(mod, ERASED_COMMENT, "legal") is False
    for refused in (
        lambda: comment.unsuppress_revision(mod, 2, None),
        lambda: comment.edit("third", mod),
        lambda: comment.hide(mod, "why"),
    ):
        with pytest.raises(CommentErased):
            refused()
    with pytest.raises(PermissionDenied):
        comment.erase(member(), ERASED_COMMENT, "legal")
