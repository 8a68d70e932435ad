"""domain/imports.py: a whole thread in one atomic save; the record of a run."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

import pytest

from domain.application import Discussions
from domain.errors import NotAuthenticated, PermissionDenied
from domain.imports import (
    NO_TOKEN,
    ImportedComment,
    ImportedThread,
    ImportRejected,
    ImportRun,
    ThreadImporter,
    record_import,
)
from domain.model import HIDDEN, MEMBER, OPERATOR_ID, RETRACTED, Actor, Author, Comment, Thread
from domain.settings import Database
from projections.setup import open_application

KEY = "https://site.example/post/"
T0 = datetime(2015, 3, 1, 12, 0, tzinfo=UTC)


def cid(n: int) -> UUID:
    return uuid5(NAMESPACE_URL, f"/test/{n}")


def item(n: int, parent: int | None = None, name: str = "Ann", minutes: int = 0, **kw):
    return ImportedComment(
        comment_id=cid(n), parent_id=cid(parent) if parent else None,
        author_id=uuid5(NAMESPACE_URL, f"/test/authors/{name}"), author_name=name,
        text=f"comment {n}", at=datetime(2015, 3, 1, 12, minutes, tzinfo=UTC), **kw,
    )  # fmt: skip


def thread(*comments: ImportedComment, key: str = KEY) -> ImportedThread:
    return ImportedThread(key=key, title="A post", at=T0, comments=comments)


def test_a_thread_its_authors_and_comments_are_saved_in_one_write(app: Discussions):
    result = ThreadImporter(app).import_thread(thread(
        item(1),
        item(2, parent=1, name="Bob", minutes=5, hidden_reason="pending in source"),
        item(3, parent=2, minutes=7, retracted=True, retracted_reason="deleted in source"),
    ))  # fmt: skip

    assert (result.thread_created, result.comments_created, result.authors_created) == (True, 3, 2)
    assert (result.hidden, result.retracted) == (1, 1)
    notifications = app.recorder.select_notifications(start=1, limit=100)
    assert result.position == notifications[-1].id == len(notifications) == 8
    # One save: one transaction, consecutive positions, in this order.
    kinds = [type(app.mapper.to_domain_event(n)).__qualname__ for n in notifications]
    assert kinds == [
        "Author.Registered", "Author.Registered", "Thread.Opened", "Comment.Posted",
        "Comment.Posted", "Comment.Hidden", "Comment.Posted", "Comment.Retracted",
    ]  # fmt: skip
    ann: Author = app.repository.get(item(1).author_id)
    assert (app.display_name(ann), ann.role, ann.token_hash, ann.created_on) == (
        "Ann",
        MEMBER,
        NO_TOKEN,
        T0,
    )
    opened = app.repository.get(Thread.id_for_key(KEY))
    assert (opened.created_on, opened.opened_by) == (T0, OPERATOR_ID)
    assert app.repository.get(cid(2)).state == HIDDEN
    assert app.repository.get(cid(3)).state == RETRACTED
    assert app.repository.get(cid(3)).modified_on == datetime(2015, 3, 1, 12, 7, tzinfo=UTC)


def test_nobody_can_sign_in_as_an_imported_author(sqlite_app: Discussions):
    ThreadImporter(sqlite_app).import_thread(thread(item(1)))
    author_id = item(1).author_id
    for secret in ("", "x", NO_TOKEN):
        with pytest.raises(NotAuthenticated):
            sqlite_app.authenticate(f"{author_id}.{secret}")


@pytest.mark.parametrize(
    ("comments", "message"),
    [
        ((item(2, parent=1), item(1)), "replies to"),  # parent after its reply
        ((item(1, parent=9),), "which is neither earlier in the import nor in this thread"),
        ((item(1), item(1)), "appears twice"),
        ((item(1, name=""),), "name is empty"),
        ((ImportedComment(cid(1), None, uuid4(), "Ann", "   ", T0),), "text is empty"),
        ((ImportedComment(cid(1), None, uuid4(), "Ann", "a\x00b", T0),), "control character"),
        ((ImportedComment(cid(1), None, uuid4(), "Ann", "x", datetime(2015, 1, 1)),),
         "has no time zone"),
    ],
)  # fmt: skip
def test_a_rejected_thread_saves_nothing(sqlite_app: Discussions, comments, message):
    importer = ThreadImporter(sqlite_app)
    importer.import_thread(thread(item(100), key="https://site.example/first/"))
    before = sqlite_app.recorder.max_notification_id()

    with pytest.raises(ImportRejected, match=message) as raised:
        importer.import_thread(thread(*comments))

    assert raised.value.comment_id in {c.comment_id for c in comments}
    assert sqlite_app.recorder.max_notification_id() == before
    assert Thread.id_for_key(KEY) not in sqlite_app.repository


def test_only_a_moderator_may_import(sqlite_app: Discussions):
    with pytest.raises(PermissionDenied):
        ThreadImporter(sqlite_app, Actor(uuid4(), MEMBER))


def test_an_existing_thread_gets_only_what_it_lacks(sqlite_app: Discussions):
    importer = ThreadImporter(sqlite_app)
    importer.import_thread(thread(item(1), item(2, parent=1)))

    again = ThreadImporter(sqlite_app).import_thread(thread(item(1), item(2, parent=1)))
    assert (again.thread_created, again.comments_created, again.comments_present) == (False, 0, 2)
    assert again.position is None and not again.changed

    more = importer.import_thread(thread(item(1), item(2, parent=1), item(3, parent=2, name="C")))
    assert (more.comments_created, more.comments_present, more.authors_created) == (1, 2, 1)
    assert sqlite_app.repository.get(cid(3)).parent_id == cid(2)


def test_a_concurrent_import_of_the_same_thread_makes_the_save_fail_whole_then_retry(
    sqlite_app: Discussions, sqlite_database: Database
):
    """Importer B read "no such thread" before A saved it: B's save clashes in the store
    (a real IntegrityError), saves nothing, re-reads and finds everything there."""
    rival_app = open_application(sqlite_database)
    the_thread = thread(item(1), item(2, parent=1))

    class LateReader(ThreadImporter):
        stale = True

        def _get(self, aggregate_id):
            if self.stale and aggregate_id == Thread.id_for_key(KEY):
                self.stale = False
                ThreadImporter(rival_app).import_thread(the_thread)  # A wins meanwhile
                return None  # what B had read
            return super()._get(aggregate_id)

    late = LateReader(sqlite_app)
    result = late.import_thread(the_thread)
    rival_app.close()

    assert late.stale is False
    assert (result.thread_created, result.comments_created, result.comments_present) == (
        False, 0, 2,
    )  # fmt: skip
    kinds = [
        type(sqlite_app.mapper.to_domain_event(n)).__qualname__
        for n in sqlite_app.recorder.select_notifications(start=1, limit=100)
    ]
    assert kinds.count("Comment.Posted") == 2 and kinds.count("Thread.Opened") == 1


def test_queued_threads_are_saved_together_once_enough_events_wait(sqlite_app: Discussions):
    importer = ThreadImporter(sqlite_app, batch_events=10)
    first, second = "https://site.example/1/", "https://site.example/2/"
    third = "https://site.example/3/"
    assert importer.queue(thread(item(1), key=first)) == []  # Author, Thread, Comment: 3
    assert importer.queue(thread(item(2), key=second)) == []  # Ann is queued already: 5
    assert sqlite_app.recorder.max_notification_id() is None  # nothing saved yet

    saved = importer.queue(thread(item(3), item(4, parent=3), item(5), item(6), key=third))

    assert [o.thread_id for o in saved] == [Thread.id_for_key(k) for k in (first, second, third)]
    assert [o.position for o in saved] == [3, 5, 10]
    assert [o.authors_created for o in saved] == [1, 0, 0]
    assert sqlite_app.recorder.max_notification_id() == 10
    assert importer.flush() == []


def test_a_batch_that_clashes_is_saved_again_one_thread_at_a_time(
    sqlite_app: Discussions, sqlite_database: Database
):
    first, second = "https://site.example/1/", "https://site.example/2/"
    importer = ThreadImporter(sqlite_app, batch_events=1000)
    importer.queue(thread(item(1), key=first))
    importer.queue(thread(item(2), key=second))
    rival_app = open_application(sqlite_database)
    ThreadImporter(rival_app).import_thread(thread(item(2), key=second))  # saved meanwhile
    rival_app.close()

    one, two = importer.flush()  # the batch clashes with the rival's write: nothing of it
    assert (one.thread_created, one.comments_created, one.authors_created) == (True, 1, 0)
    assert (two.thread_created, two.comments_created, two.comments_present) == (False, 0, 1)
    kinds = [
        type(sqlite_app.mapper.to_domain_event(n)).__qualname__
        for n in sqlite_app.recorder.select_notifications(start=1, limit=100)
    ]
    assert kinds == [
        "Author.Registered", "Thread.Opened", "Comment.Posted",  # the rival's
        "Thread.Opened", "Comment.Posted",  # ours, alone
    ]  # fmt: skip


def test_an_import_run_records_who_what_which_file_and_the_counts(sqlite_app: Discussions):
    position = record_import(
        sqlite_app, source_format="wxr", file_name="/data/export.xml", file_sha256="ab" * 32,
        counts={"threads_created": 2, "comments": 8}, orphans=["6"], error=None,
        operator="alice", actor_id=OPERATOR_ID,
    )  # fmt: skip
    notification = sqlite_app.recorder.select_notifications(start=position, limit=1)[0]
    event = sqlite_app.mapper.to_domain_event(notification)
    assert isinstance(event, ImportRun.Recorded)
    assert (event.source_format, event.file_name, event.file_sha256) == (
        "wxr", "/data/export.xml", "ab" * 32,
    )  # fmt: skip
    assert (event.counts, event.orphans, event.error) == (
        {"threads_created": 2, "comments": 8}, ["6"], None,
    )  # fmt: skip
    assert (event.operator, event.actor_id) == ("alice", OPERATOR_ID)
    run = sqlite_app.repository.get(event.originator_id)
    assert run.counts == {"threads_created": 2, "comments": 8}
    assert not isinstance(run, Comment)


def test_imported_content_is_sealed_and_can_be_erased(app: Discussions):
    """Imports seal texts, names and reasons like every command, so erasing an imported
    author destroys their content too (it used to be stored in clear, out of reach)."""
    from domain.sealing import is_sealed

    ThreadImporter(app).import_thread(thread(
        item(1),
        item(2, parent=1, name="Bob", minutes=5, hidden_reason="pending in source"),
        item(3, minutes=7, retracted=True, retracted_reason="deleted in source"),
    ))  # fmt: skip
    ann = item(1).author_id
    for n in (1, 2, 3):
        assert is_sealed(app.repository.get(cid(n)).text)
    for event in app.events.get(cid(2)):
        assert all(is_sealed(v) for v in (getattr(event, "reason", None),) if v is not None)
    assert is_sealed(app.repository.get(ann).name)
    assert app.opener.open(app.repository.get(cid(1)).text) == "comment 1"
    assert app.vault.comments_of(str(ann)) == sorted([str(cid(1)), str(cid(3))])
    app.erase_author(OPERATOR_ID, ann, "operator")
    assert app.repository.get(cid(1)).erased and app.repository.get(cid(3)).erased
    assert app.opener.open(app.repository.get(cid(1)).text) is not None
    assert not isinstance(app.opener.open(app.repository.get(cid(1)).text), str)
    assert app.display_name(app.repository.get(ann)) is None
    assert app.opener.open(app.repository.get(cid(2)).text) == "comment 2"  # Bob's stays
