"""Time travel: a thread as it was at any position or moment, on SQLite and PostgreSQL.

Three ways to see the thread at position P must agree exactly: the live projection
when it had reached P (caught up one event at a time), the reducer fed the log up to P
from nothing, and the time-travel projection's checkpoint + replay. Checkpoints are
taken every K events of a thread and bound the replay; moments map to positions by the
thread's own timestamps (imported threads keep their past dates).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.model import MODERATOR, OPERATOR_ID
from domain.settings import Database, Settings
from projections import queries, time_travel
from projections.db import ViewStore
from projections.engine import Engine
from projections.queries import NotInView, PageRequest
from projections.registry import all_projections, build_engine
from projections.setup import open_application
from projections.time_travel import NotYetOpened, ThreadState, TimeTravel
from tests.support.views import live_rows, state_rows

PAST = datetime(2016, 7, 14, 9, 30, 15, 250000, tzinfo=UTC)


def make_engine(app, database: Database, k: int) -> Engine:
    projections = [
        TimeTravel(checkpoint_every=k) if p.name == "time_travel" else p for p in all_projections()
    ]
    return Engine(app, ViewStore(database), projections)


@pytest.fixture
def app(database: Database):
    application = open_application(database)
    yield application
    application.close()


def scenario(app) -> dict[str, Any]:
    """Two threads, three authors, every kind of event, interleaved."""
    ann = app.register_author("Ann").author_id
    bob = app.register_author("Bob").author_id
    mo = app.register_author("Mo", role=MODERATOR).author_id
    t1 = app.open_thread(OPERATOR_ID, "First thread", key="tt/first", body="Body").thread_id
    t2 = app.open_thread(OPERATOR_ID, "Second thread").thread_id
    c1 = app.post_comment(ann, t1, "one").comment_id
    c2 = app.post_comment(bob, t1, "two, a reply", parent_id=c1).comment_id
    c3 = app.post_comment(ann, t1, "three, deeper", parent_id=c2).comment_id
    c4 = app.post_comment(bob, t1, "four, top level").comment_id
    app.post_comment(ann, t2, "in the other thread")
    app.edit_comment(ann, c1, "one, edited", reason="typo")
    app.hide_comment(mo, c2, "rude")
    app.edit_comment(mo, c2, "two, edited by a moderator while hidden")
    app.restore_comment(mo, c2)
    app.hide_comment(mo, c3, "off topic")
    app.retract_comment(bob, c4, "changed my mind")
    app.retract_comment(ann, c3, "never mind")  # retracted while hidden
    app.lock_thread(OPERATOR_ID, t1, "cooling off")
    app.unlock_thread(OPERATOR_ID, t1)
    app.retitle_thread(OPERATOR_ID, t1, "First thread, retitled")
    c5 = app.post_comment(mo, t1, "five, a moderator's reply", parent_id=c1).comment_id
    app.hide_comment(mo, c5, "even moderators")
    app.post_comment(bob, t1, "six")
    app.edit_comment(ann, c1, "one, edited twice")
    return {"threads": [str(t1), str(t2)], "comments": [str(c) for c in (c1, c2, c3, c4, c5)]}


REQUESTS = [
    PageRequest(),
    PageRequest(moderator=True),
    PageRequest(limit=1, depth=0, sort="newest", replies_limit=1),
    PageRequest(limit=2, depth=1, replies_limit=1, moderator=True),
]


def test_live_rebuilt_and_as_of_agree_at_every_position(app, database):
    ids = scenario(app)
    engine = make_engine(app, database, k=4)
    engine.catch_up("time_travel")
    head = app.head_position()
    notifications = app.recorder.select_notifications(start=1, limit=head)
    events = [(n.id, engine.decoder.decode(n)) for n in notifications]
    for position in range(1, head + 1):
        engine.catch_up("threads", page_size=1, max_pages=1)
        assert engine.position("threads") == position
        for thread_id in ids["threads"]:
            scratch = ThreadState(thread_id)
            for p, event in events[:position]:
                scratch.apply(event, p)
            live = live_rows(engine, thread_id)
            if live[0] is None:
                assert scratch.thread is None
                with pytest.raises(NotInView):
                    time_travel.thread_page_as_of(engine, thread_id, PageRequest(), position)
                continue
            assert state_rows(scratch) == live, position
            stored = time_travel.state_at(engine, thread_id, position)
            assert state_rows(stored) == live, position
            assert stored.replayed < 4
            for req in REQUESTS:
                page = time_travel.thread_page_as_of(engine, thread_id, req, position)
                as_of = page.pop("as_of")
                assert page == queries.thread_page(engine, thread_id, req), (position, req)
                assert as_of["position"] == live[0]["last_position"]
            for comment_id in ids["comments"] if thread_id == ids["threads"][0] else []:
                known = any(r["comment_id"] == comment_id for r in live[1])
                req = PageRequest(limit=1, moderator=True)
                if not known:
                    with pytest.raises(NotInView):
                        time_travel.comment_subtree_as_of(engine, comment_id, req, position)
                    continue
                page = time_travel.comment_subtree_as_of(engine, comment_id, req, position)
                page.pop("as_of")
                assert page == queries.comment_subtree(engine, comment_id, req)


def test_checkpoints_every_k_events_bound_the_replay(app, database, monkeypatch):
    ids = scenario(app)
    k = 3
    engine = make_engine(app, database, k=k)
    engine.catch_up("time_travel")
    t = engine.tables("time_travel")
    sql = engine.store.reader()
    for thread_id in ids["threads"]:
        events = sql.execute(
            f"SELECT position FROM {t.events} WHERE thread_id = ? ORDER BY position", (thread_id,)
        ).all()
        checkpoints = sql.execute(
            f"SELECT position, events FROM {t.checkpoints} WHERE thread_id = ? ORDER BY position",
            (thread_id,),
        ).all()
        positions = [r["position"] for r in events]
        assert [c["events"] for c in checkpoints] == list(range(k, len(positions) + 1, k))
        assert [c["position"] for c in checkpoints] == positions[k - 1 :: k]
        for position in range(positions[0], app.head_position() + 1):
            state = time_travel.state_at(engine, thread_id, position)
            assert state.replayed < k, position

    # K comes from the settings (DISCUSS_CHECKPOINT_EVERY) when not given.
    def k_of(settings: Settings) -> int:
        return build_engine(app, settings).projections["time_travel"].checkpoint_every

    monkeypatch.setenv("DISCUSS_CHECKPOINT_EVERY", "7")
    assert k_of(Settings.from_env(database=database)) == 7
    monkeypatch.delenv("DISCUSS_CHECKPOINT_EVERY")
    assert k_of(Settings.from_env(database=database)) == time_travel.DEFAULT_CHECKPOINT_EVERY
    assert TimeTravel().checkpoint_every == time_travel.DEFAULT_CHECKPOINT_EVERY


def test_checkpoint_interval_does_not_change_the_result(app, database):
    ids = scenario(app)
    head = app.head_position()
    views = []
    for k in (1, 5, 1000):
        engine = make_engine(app, database, k=k)
        # A fresh generation of the time travel tables for each K.
        generation = 10 + k
        with engine.store.transaction() as sql:
            engine.tracking.create_generation(sql, engine.projections["time_travel"], generation)
        engine.catch_up("time_travel", generation=generation)
        tables = engine.projections["time_travel"].tables(generation)
        reader = engine.store.reader()
        views.append(
            [
                state_rows(time_travel.load_state(reader, tables, thread_id, p))
                for thread_id in ids["threads"]
                for p in range(5, head + 1)
            ]
        )
    assert views[0] == views[1] == views[2]


def test_before_the_thread_existed_and_unknown_threads(app, database):
    ids = scenario(app)
    engine = make_engine(app, database, k=100)
    engine.catch_up_all()
    first = ids["threads"][0]
    opened = time_travel.thread_span(engine, first)["opened_position"]
    with pytest.raises(NotYetOpened, match=f"did not exist yet at position {opened - 1}"):
        time_travel.thread_page_as_of(engine, first, PageRequest(), opened - 1)
    with pytest.raises(NotInView, match="no thread with id"):
        time_travel.thread_page_as_of(
            engine, "00000000-0000-0000-0000-000000000000", PageRequest(), 10
        )
    page = time_travel.thread_page_as_of(engine, first, PageRequest(), opened)
    assert page["comments"] == [] and page["as_of"]["position"] == opened
    # Far beyond the head: the latest state.
    latest = time_travel.thread_page_as_of(engine, first, PageRequest(), 10**12)
    latest.pop("as_of")
    assert latest == queries.thread_page(engine, first, PageRequest())


def test_position_for_time_uses_the_threads_own_dates(app, database):
    """An imported thread carries its original past dates; a native one opened later
    (positions interleaved) has today's: each maps time to its own positions."""
    ann = app.register_author("Ann", at=PAST).author_id
    imported = app.open_thread(OPERATOR_ID, "Imported", key="old/1", at=PAST)
    native = app.open_thread(OPERATOR_ID, "Native")
    c1 = app.post_comment(
        OPERATOR_ID, imported.thread_id, "old one", author_id=ann, at=PAST + timedelta(hours=1)
    )
    app.post_comment(ann, native.thread_id, "new one")
    c2 = app.post_comment(
        OPERATOR_ID, imported.thread_id, "old two", author_id=ann, at=PAST + timedelta(hours=2)
    )
    engine = make_engine(app, database, k=100)
    engine.catch_up_all()
    tid = str(imported.thread_id)

    def at(delta: timedelta) -> int | None:
        return time_travel.position_for_time(engine, tid, PAST + delta)

    assert at(timedelta(seconds=-1)) is None
    assert at(timedelta(0)) == imported.position
    assert at(timedelta(minutes=59)) == imported.position
    assert at(timedelta(hours=1)) == c1.position
    assert at(timedelta(hours=1, minutes=30)) == c1.position
    assert at(timedelta(hours=2)) == c2.position
    assert at(timedelta(days=3650)) == c2.position
    # Naive moments are UTC.
    assert (
        time_travel.position_for_time(engine, tid, (PAST + timedelta(hours=1)).replace(tzinfo=None))
        == c1.position
    )
    # The native thread did not exist in 2016.
    assert time_travel.position_for_time(engine, str(native.thread_id), PAST) is None
    page = time_travel.thread_page_as_of(engine, tid, PageRequest(), at(timedelta(hours=1)))
    assert [c["text"] for c in page["comments"]] == ["old one"]
    assert page["as_of"] == {"position": c1.position, "at": "2016-07-14T10:30:15.250000+00:00"}


def dump_tables(engine: Engine, generation: int) -> dict[str, list]:
    tables = engine.projections["time_travel"].tables(generation)
    reader = engine.store.reader()
    result = {}
    for logical, physical in tables.names.items():
        rows = reader.execute(f"SELECT * FROM {physical}").all()
        result[logical] = sorted(
            (
                tuple((k, bytes(v) if isinstance(v, memoryview) else v) for k, v in r.items())
                for r in rows
            ),
            key=repr,
        )
    return result


def test_pages_of_any_size_and_several_writers_write_the_same_tables(app, database):
    """The projection batches a page and keeps each thread's latest state in memory
    between pages; neither may change what is written. Two writers taking turns (two
    processes) each find their kept state stale and must not use it."""
    scenario(app)
    dumps = []
    for page_size in (1, 7, 500):
        engine = make_engine(app, database, k=3)
        generation = 20 + page_size
        with engine.store.transaction() as sql:
            engine.tracking.create_generation(sql, engine.projections["time_travel"], generation)
        engine.catch_up("time_travel", generation=generation, page_size=page_size)
        dumps.append(dump_tables(engine, generation))
    first, second = make_engine(app, database, k=3), make_engine(app, database, k=3)
    generation = 40
    with first.store.transaction() as sql:
        first.tracking.create_generation(sql, first.projections["time_travel"], generation)
    head = app.head_position()
    turn = 0
    while first.position("time_travel", generation) < head:
        writer = (first, second)[turn % 2]
        writer.catch_up("time_travel", generation=generation, page_size=4, max_pages=1)
        turn += 1
    dumps.append(dump_tables(first, generation))
    assert dumps[0]["checkpoints"], "the scenario must make checkpoints"
    for other in dumps[1:]:
        assert other == dumps[0]
