"""Exactly once, complete: racing worker processes, a worker killed mid-page, and
events that cannot be applied.

The proof is always the same: the tables built under stress are compared, row for
row, with the tables a single process builds from the first event into a fresh
generation, and the events applied by all workers add up to the number of events.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from uuid import uuid4

import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import _topic_cache, register_topic

from domain.model import OPERATOR_ID, Comment
from projections import queries
from projections.engine import ProjectionFailed
from projections.rebuild import plan
from projections.registry import build_engine
from tests.support.procs import racing_worker
from tests.support.views import MINE, catch_up
from tests.support.workload import dump, generate

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def engine(app, database):
    engine = build_engine(app, database)
    yield engine
    engine.store.close()


def assert_same_as_a_clean_rebuild(engine, names=MINE) -> None:
    for name in names:
        fresh = plan(engine, name).generation
        engine.catch_up(name, generation=fresh)
        assert engine.position(name, fresh) == engine.position(name)
        assert dump(engine, name, fresh) == dump(engine, name), name


def count_events(app) -> int:
    return len(app.recorder.select_notifications(start=1, limit=10**9))


@pytest.mark.parametrize(
    "together",
    [(False, False), (True, True), (True, False)],
    ids=["one-by-one", "together", "mixed"],
)
def test_two_worker_processes_race_over_thousands_of_events(app, engine, database, together):
    """`together`: per worker, whether it catches all projections up in one transaction
    per page (catch_up_many) or one after the other (catch_up)."""
    ctx = multiprocessing.get_context("spawn")
    barrier, done, results = ctx.Barrier(3), ctx.Event(), ctx.Queue()
    workers = [
        ctx.Process(
            target=racing_worker,
            args=(database.url, list(MINE), 50, barrier, done, results, mode),
        )
        for mode in together
    ]
    for worker in workers:
        worker.start()
    try:
        barrier.wait(timeout=60)
        # Writes while both catch up: 3,000 posts, replies and edits in 4 threads.
        generate(app, 3000, threads=4, authors=6, batch=60)
        done.set()
        reports = [results.get(timeout=120) for _ in workers]
    finally:
        done.set()
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()
    assert [r[0] for r in reports] == ["ok", "ok"], reports
    total = count_events(app)
    assert total >= 3000
    for name in MINE:
        per_worker = [r[1][name] for r in reports]
        # Every event applied exactly once across both processes.
        assert sum(per_worker) == total, (name, per_worker)
        assert engine.position(name) == app.head_position()
    # Both kept calling catch-up over the same pages the whole time; which of them wins
    # each page is the scheduler's choice (on SQLite one process often wins them all),
    # so only the calls are asserted, never the share of the work: tests never depend
    # on timing.
    assert all(r[2] > 0 for r in reports), reports
    assert_same_as_a_clean_rebuild(engine)


def test_a_worker_killed_mid_page_loses_and_doubles_nothing(app, engine, database, tmp_path):
    generate(app, 600, threads=3, batch=100)
    marker = tmp_path / "stalled"
    page_size = 100
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.support.procs", "stall", database.url, str(marker),
         str(page_size), "3"],
        cwd=ROOT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, "the worker ended before stalling"
            assert time.monotonic() < deadline, "the worker never reached its third page"
            time.sleep(0.02)
        # Inside the third page's transaction, after its writes, before its commit.
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
    two_pages = app.recorder.select_notifications(start=1, limit=2 * page_size)[-1].id
    assert engine.position("threads") == two_pages  # the third page was rolled back
    # The next run resumes from there.
    assert engine.catch_up("threads") > 0
    catch_up(engine)
    assert engine.position("threads") == app.head_position()
    assert_same_as_a_clean_rebuild(engine, ["threads"])


def insert_unknown_event(app) -> int:
    state = b'{"timestamp":{"_type_":"datetime_iso","_data_":"2024-05-01T10:00:00+00:00"}}'
    stored = StoredEvent(
        originator_id=uuid4(),
        originator_version=1,
        topic="domain.model:Comment.Teleported",
        state=state,
    )
    app.recorder.insert_events([stored])
    return app.head_position()


def test_an_unknown_event_type_stops_the_projection_loudly(app, engine):
    before = app.open_thread(OPERATOR_ID, "Before").position
    bad = insert_unknown_event(app)
    after = app.open_thread(OPERATOR_ID, "After", key="after-the-unknown-event")
    with pytest.raises(ProjectionFailed) as failed:
        engine.catch_up("threads")
    assert failed.value.position == bad
    assert "Teleported" in failed.value.reason
    status = {s.name: s for s in engine.status()}["threads"]
    assert status.position == before  # everything before it is applied
    assert status.error_position == bad and "Teleported" in status.error
    assert status.lag_events == 2 and status.lag_seconds > 0
    with pytest.raises(queries.NotInView):  # nothing after it is applied
        queries.thread_id_for_key(engine, "after-the-unknown-event")
    # It stays stopped, loudly, however often it is asked.
    with pytest.raises(ProjectionFailed):
        engine.catch_up("threads")
    assert engine.position("threads") == before
    assert after.position > bad


def test_a_failing_handler_stops_at_its_event_and_others_go_on(app, engine):
    author = app.register_author("Ann").author_id
    thread_id = app.open_thread(OPERATOR_ID, "Orphans").thread_id
    ok = app.post_comment(author, thread_id, "fine").position
    # A reply to a comment that does not exist (the application would refuse it).
    orphan = Comment.post(thread_id=thread_id, parent_id=uuid4(), author_id=author, text="?")
    bad = app._save(orphan)
    app.post_comment(author, thread_id, "after the orphan")
    with pytest.raises(ProjectionFailed) as failed:
        engine.catch_up("threads", page_size=500)
    assert (failed.value.position, engine.position("threads")) == (bad, ok)
    assert "LookupError" in failed.value.reason and str(orphan.id) in failed.value.reason
    assert {s.name: s for s in engine.status()}["threads"].error_position == bad
    # The other projections do not depend on the parent and apply everything.
    assert engine.catch_up("revisions") == app.head_position()
    assert {s.name: s for s in engine.status()}["revisions"].error is None


def test_a_failing_write_at_the_end_of_a_page_is_pinned_on_its_event(app, engine):
    author = app.register_author("Ann").author_id
    thread_id = app.open_thread(OPERATOR_ID, "Clash").thread_id
    first = app.post_comment(author, thread_id, "one").position
    clash = app.post_comment(author, thread_id, "two")
    app.post_comment(author, thread_id, "three")
    # A row that should not be there makes the page's batched INSERT fail.
    t = engine.tables("threads")
    with engine.store.transaction() as sql:
        sql.execute(
            f"INSERT INTO {t.comments} (comment_id, thread_id, root_seq, seq, depth, path,"
            " state, posted_at, version, text_version, last_position)"
            " VALUES (?, ?, 0, 0, 0, '', 'visible', '', 1, 1, 0)",
            (str(clash.comment_id), str(thread_id)),
        )
    with pytest.raises(ProjectionFailed) as failed:
        engine.catch_up("threads")
    assert failed.value.position == clash.position
    assert engine.position("threads") == first


class Gadget(Aggregate):
    class Teleported(Aggregate.Event):
        """Known to this test only: stands for the class a fix deploys."""


def test_a_fixed_projection_goes_on_and_clears_its_error(app, engine):
    app.open_thread(OPERATOR_ID, "One")
    bad = insert_unknown_event(app)
    app.open_thread(OPERATOR_ID, "Two", key="two")
    with pytest.raises(ProjectionFailed):
        engine.catch_up("threads")
    assert {s.name: s for s in engine.status()}["threads"].error_position == bad
    # The fix is deployed: the topic resolves (to an event the view ignores).
    register_topic("domain.model:Comment.Teleported", Gadget.Teleported)
    try:
        assert engine.catch_up("threads") == 2  # the ignored event and the next one
    finally:
        _topic_cache.pop("domain.model:Comment.Teleported", None)
    status = {s.name: s for s in engine.status()}["threads"]
    assert (status.position, status.error, status.error_position) == (
        app.head_position(),
        None,
        None,
    )
    assert queries.thread_id_for_key(engine, "two")


def test_catching_up_together_leaves_a_failing_projection_behind_alone(app, engine):
    """One transaction per page for every projection, yet a projection that cannot apply
    an event stops there loudly while the others go on to the head of the log."""
    before = app.open_thread(OPERATOR_ID, "Before").position
    bad = insert_unknown_event(app)
    app.open_thread(OPERATOR_ID, "After", key="after")
    applied, failures = engine.catch_up_many()
    head = app.head_position()
    assert set(failures) == set(engine.projections) - {"chain"}  # the chain reads records
    assert {f.position for f in failures.values()} == {bad}
    assert engine.position("chain") == head and applied["chain"] == head
    for name in failures:
        assert engine.position(name) == before, name  # everything before it is applied
    # Still stopped on the next call, with nothing applied twice.
    again, failures = engine.catch_up_many()
    assert set(failures) == set(engine.projections) - {"chain"}
    assert sum(again.values()) == 0
    # The fix is deployed: every projection goes on to the head, together again.
    register_topic("domain.model:Comment.Teleported", Gadget.Teleported)
    try:
        applied, failures = engine.catch_up_many()
    finally:
        _topic_cache.pop("domain.model:Comment.Teleported", None)
    assert failures == {}
    assert all(engine.position(name) == head for name in engine.projections)
    assert all(s.error is None for s in engine.status())
    app.open_thread(OPERATOR_ID, "Later")
    assert engine.catch_up_many() == (dict.fromkeys(sorted(engine.projections), 1), {})
    assert_same_as_a_clean_rebuild(engine)


def test_catching_up_together_equals_one_by_one(app, engine, database):
    generate(app, 800, threads=5, authors=4, batch=40)
    applied, failures = engine.catch_up_many(page_size=64)
    assert failures == {}
    head = app.head_position()
    assert applied == dict.fromkeys(sorted(engine.projections), count_events(app))
    assert all(engine.position(name) == head for name in engine.projections)
    assert_same_as_a_clean_rebuild(engine)


def test_a_write_failing_inside_the_joint_page_is_pinned_on_its_event(app, engine):
    """A per-event projection (pipelined on PostgreSQL) whose write fails in the middle
    of a joint page: the page is rolled back for all, the others are applied without
    it, and it stops at the event that failed."""
    author = app.register_author("Ann").author_id
    thread_id = app.open_thread(OPERATOR_ID, "Clash").thread_id
    first = app.post_comment(author, thread_id, "one").position
    clash = app.post_comment(author, thread_id, "two").position
    app.post_comment(author, thread_id, "three")
    # A row already at the position of "two" makes the audit log's INSERT fail there.
    t = engine.tables("audit")
    with engine.store.transaction() as sql:
        sql.execute(
            f"INSERT INTO {t.events} (position, at, type, originator_id, originator_version,"
            " summary, summary_public) VALUES (?, '', 'x', 'x', 1, '', '')",
            (clash,),
        )
    applied, failures = engine.catch_up_many()
    assert set(failures) == {"audit"}
    assert failures["audit"].position == clash
    assert engine.position("audit") == first
    head = app.head_position()
    for name in set(engine.projections) - {"audit"}:
        assert engine.position(name) == head, name
        assert applied[name] == head, name
    assert_same_as_a_clean_rebuild(engine)
