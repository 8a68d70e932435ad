"""Rebuilding projections: same rows as incremental catch-up, served throughout,
resumable after an interruption, and the operator command `discuss rebuild`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from domain.model import MODERATOR, OPERATOR_ID
from domain.settings import Database
from projections import queries
from projections.engine import ProjectionFailed
from projections.queries import PageRequest
from projections.rebuild import drop_generation, generations, pending_generation, plan, rebuild
from projections.registry import build_engine
from tests.support.views import MINE, catch_up, close, fresh_engine
from tests.support.workload import dump, generate

ROOT = Path(__file__).resolve().parents[2]
DISCUSS = str(Path(sys.executable).parent / "discuss")


@pytest.fixture
def engine(app, database):
    engine = build_engine(app, database)
    yield engine
    engine.store.close()


def table_names(engine) -> set[str]:
    if engine.store.postgres:
        sql = "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    return {r["name"] for r in engine.store.reader().execute(sql).all()}


def index_names(engine) -> set[str]:
    if engine.store.postgres:
        sql = "SELECT indexname AS name FROM pg_indexes WHERE schemaname = 'public'"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'index'"
    return {r["name"] for r in engine.store.reader().execute(sql).all()}


def every_kind_of_event(app) -> None:
    """Retractions, hiding, restoring, locking and retitling on top of a workload."""
    ann = app.register_author("Ann").author_id
    mo = app.register_author("Mo", role=MODERATOR).author_id
    thread_id = app.open_thread(OPERATOR_ID, "Moderated", key="rebuild/moderated").thread_id
    top = app.post_comment(ann, thread_id, "top").comment_id
    reply = app.post_comment(ann, thread_id, "reply", parent_id=top).comment_id
    deeper = app.post_comment(mo, thread_id, "deeper", parent_id=reply).comment_id
    app.edit_comment(ann, reply, "reply, edited")
    app.hide_comment(mo, top, "spam")
    app.edit_comment(mo, top, "top, moderated")
    app.restore_comment(mo, top, None)
    app.hide_comment(mo, deeper, "rude")
    app.retract_comment(ann, reply, "sorry")
    app.lock_thread(mo, thread_id, "enough")
    app.retitle_thread(OPERATOR_ID, thread_id, "Moderated, locked")


def test_incremental_and_rebuilt_tables_are_identical(app, engine):
    """Small pages interleaved with writes, then a from-scratch rebuild: same rows."""

    def between_batches(_events: int) -> None:
        for name in MINE:
            engine.catch_up(name, page_size=7, max_pages=2)

    generate(app, 700, threads=6, authors=5, batch=40, progress=between_batches)
    every_kind_of_event(app)
    generate(app, 200, threads=3, authors=2, batch=25, seed=9, progress=between_batches)
    catch_up(engine, page_size=50)
    head = app.head_position()
    for name in MINE:
        assert engine.position(name) == head
        incremental = dump(engine, name)
        assert sum(len(rows) for rows in incremental.values()) > 0
        fresh = plan(engine, name)
        assert fresh.generation == 2 and not fresh.resumed
        engine.catch_up(name, generation=fresh.generation)
        assert dump(engine, name, fresh.generation) == incremental, name


def test_rebuild_serves_the_old_tables_until_an_atomic_switch(app, engine):
    work = generate(app, 1200, threads=4, batch=100)
    catch_up(engine)
    thread_id = str(work.threads[0])
    before = queries.thread_page(engine, thread_id, PageRequest(limit=5))
    expected = dump(engine, "threads")
    seen = []

    def during(last: int, count: int) -> None:
        # Still the old generation, still answering; writes keep coming.
        seen.append(engine.generation("threads"))
        assert queries.thread_page(engine, thread_id, PageRequest(limit=5)) == before
        if len(seen) == 2:
            app.open_thread(OPERATOR_ID, "Written during the rebuild")

    done = rebuild(engine, "threads", page_size=100, on_page=during, grace=0)
    assert set(seen) == {1} and len(seen) >= 10
    assert (done.old_generation, done.generation, done.resumed) == (1, 2, False)
    assert engine.generation("threads") == 2
    # The switch caught the new generation up with the write made during the rebuild.
    assert done.position == app.head_position() == engine.position("threads")
    assert generations(engine, "threads") == [2]
    assert not any(name.endswith("_1") and name.startswith("tv_") for name in table_names(engine))
    # The indexes only reads use were built after the bulk catch-up, before the switch.
    assert {"tv_comments_2_top", "tv_comments_2_tree", "tv_threads_2_activity"} <= index_names(
        engine
    )
    assert (
        queries.thread_page(engine, thread_id, PageRequest(limit=5))["comments"]
        == (before["comments"])
    )
    rebuilt = dump(engine, "threads")
    titles = [row for row in rebuilt["threads"] if row not in expected["threads"]]
    assert [row[2] for row in titles] == ["Written during the rebuild"]
    # Other projections were not touched.
    assert engine.generation("revisions") == 1


def test_an_interrupted_rebuild_continues_where_it_stopped(app, engine, database):
    generate(app, 2000, threads=5, batch=200)
    catch_up(engine)
    expected = dump(engine, "threads")
    env = {**os.environ, "DISCUSS_DATABASE_URL": database.url}
    command = [DISCUSS, "rebuild", "threads", "--grace", "0", "--page-size", "5"]
    child = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while pending_generation(engine, "threads") is None or not engine.position("threads", 2):
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        child.send_signal(signal.SIGINT)  # the operator's Ctrl-C
        stderr = child.communicate(timeout=30)[1]
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130, stderr
    assert "threads: interrupted; run the same command again to continue" in stderr
    assert engine.generation("threads") == 1  # still serving the old one
    assert pending_generation(engine, "threads") == 2
    stopped_at = engine.position("threads", 2)
    assert 0 < stopped_at < app.head_position()

    # The operator runs the command again: it continues generation 2 from there.
    result = run_discuss(database, "rebuild", "threads", "--grace", "0", "--page-size", "100")
    assert result.returncode == 0, result.stderr
    assert f"continuing generation 2 (serving: 1), from position {stopped_at}" in result.stderr
    assert "threads: generation 2 serving at position" in result.stdout
    assert engine.generation("threads") == 2
    assert pending_generation(engine, "threads") is None
    assert dump(engine, "threads") == expected
    # A later rebuild starts a new generation from the first event.
    again = plan(engine, "threads")
    assert (again.generation, again.position, again.resumed) == (3, 0, False)
    drop_generation(engine, "threads", 3)
    assert generations(engine, "threads") == [2]


def test_a_rebuild_stopped_by_a_failing_event_keeps_the_old_tables_serving(app, engine):
    from tests.integration.test_exactly_once import insert_unknown_event

    app.open_thread(OPERATOR_ID, "Before")
    catch_up(engine)
    insert_unknown_event(app)  # not in the serving generation's way yet: it is at the head
    with pytest.raises(ProjectionFailed):
        rebuild(engine, "threads", grace=0)
    assert engine.generation("threads") == 1
    assert pending_generation(engine, "threads") == 2
    assert queries.list_threads(engine)["threads"][0]["title"] == "Before"


def test_rebuild_all_from_the_command_line(app, engine, database):
    generate(app, 150, threads=3, batch=50)
    every_kind_of_event(app)
    catch_up(engine)
    expected = {name: dump(engine, name) for name in MINE}
    result = run_discuss(database, "rebuild", "--all", "--grace", "0", "--quiet")
    assert result.returncode == 0, result.stderr
    for name in engine.projections:
        assert f"{name}: generation 2 serving" in result.stdout
    reader = fresh_engine(database)  # a new process's view of it
    try:
        for name in MINE:
            assert reader.generation(name) == 2
            assert dump(reader, name) == expected[name], name
        assert {s.generation for s in reader.status()} == {2}
        assert all(s.position == app.head_position() for s in reader.status())
    finally:
        close(reader)
    bad = run_discuss(database, "rebuild", "nonsense")
    assert bad.returncode == 2 and "unknown projection 'nonsense'" in bad.stderr
    none = run_discuss(database, "rebuild")
    assert none.returncode == 2 and "--all" in none.stderr


def run_discuss(database: Database, *args: str, timeout: float = 120):
    env = {**os.environ, "DISCUSS_DATABASE_URL": database.url}
    return subprocess.run(
        [DISCUSS, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_a_worker_caught_in_the_switch_goes_on_with_the_new_generation(app, engine, database):
    """A worker reads a page for the old generation; before it applies it, a rebuild
    switches and drops the old tables: the worker applies the page to the new one."""
    generate(app, 300, threads=3, batch=100)
    catch_up(engine)
    generate(app, 200, threads=2, batch=100, seed=3)  # what the worker is about to apply
    rebuilder = fresh_engine(database)
    read = engine.log.read
    switched = []

    def read_then_switch(*args, **kwargs):
        items = read(*args, **kwargs)
        if not switched:
            switched.append(rebuild(rebuilder, "threads", grace=0, page_size=100))
        return items

    engine.log.read = read_then_switch
    try:
        assert engine.catch_up("threads", page_size=50) >= 0
    finally:
        engine.log.read = read
        close(rebuilder)
    assert switched and engine.generation("threads") == 2
    assert generations(engine, "threads") == [2]
    assert engine.position("threads") == app.head_position()
    fresh = plan(engine, "threads").generation
    engine.catch_up("threads", generation=fresh)
    assert dump(engine, "threads", fresh) == dump(engine, "threads")
