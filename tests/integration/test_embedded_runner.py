"""The embedded default (SQLite, no Redis): the in-process runner keeps the projections
fresh, `nudge()` makes a write visible at once, `wait_for` is bounded; and `status`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from domain.model import OPERATOR_ID
from domain.settings import Database
from projections import queries
from projections.registry import build_engine
from tests.support.views import MINE
from tests.support.workload import generate
from workers.runner import BackgroundRunner

ROOT = Path(__file__).resolve().parents[2]
DISCUSS = str(Path(sys.executable).parent / "discuss")


@pytest.fixture
def database(sqlite_database: Database) -> Database:
    return sqlite_database


@pytest.fixture
def engine(app, database):
    engine = build_engine(app, database)
    yield engine
    engine.store.close()


@pytest.fixture
def runner(app, database):
    """A runner with its own engine (as in the web process), polling rarely: only a
    nudge can make it fresh quickly."""
    started = BackgroundRunner(build_engine(app, database), interval=30).start()
    yield started
    started.stop()


def test_the_runner_keeps_up_with_bursts_of_writes(app, engine, runner):
    for round_no in range(5):
        generate(app, 150, threads=2, authors=2, batch=50, seed=round_no)
        runner.nudge()
    assert engine.wait_for(app.head_position(), timeout=10)
    assert {s.position for s in engine.status()} == {app.head_position()}
    assert runner.failures == {}


def test_a_nudge_makes_a_write_visible_at_once(app, engine, runner):
    assert engine.wait_for(app.head_position(), timeout=5)  # the first pass is done
    lags = []
    for number in range(10):
        opened = app.open_thread(OPERATOR_ID, f"Fresh {number}", key=f"fresh/{number}")
        started = time.monotonic()
        runner.nudge()
        assert engine.wait_for(opened.position, timeout=2)
        lags.append(time.monotonic() - started)
        assert queries.thread_id_for_key(engine, f"fresh/{number}") == str(opened.thread_id)
    assert sorted(lags)[len(lags) // 2] < 0.25, lags
    # Without a nudge the runner (polling every 30 s) does not see the write.
    late = app.open_thread(OPERATOR_ID, "Not nudged")
    assert not engine.wait_for(late.position, timeout=0.3)
    # wait_for can nudge by itself.
    assert engine.wait_for(late.position, timeout=2, nudge=runner.nudge)


def test_wait_for_is_bounded(app, engine):
    position = app.open_thread(OPERATOR_ID, "Soon").position
    started = time.monotonic()
    assert not engine.wait_for(position, timeout=0.3)
    assert 0.3 <= time.monotonic() - started < 0.8
    engine.catch_up("threads")
    started = time.monotonic()
    assert engine.wait_for(position, timeout=5, names=["threads"])
    assert time.monotonic() - started < 0.1
    assert not engine.wait_for(position, timeout=0.05)  # the other projections lag
    started = time.monotonic()
    assert not engine.wait_for(position + 1000, timeout=0.5, names=["threads"])
    assert 0.5 <= time.monotonic() - started < 1.0


def test_the_runner_reports_a_stopped_projection_and_goes_on(app, engine, runner):
    from tests.integration.test_exactly_once import insert_unknown_event

    app.open_thread(OPERATOR_ID, "Before")
    bad = insert_unknown_event(app)
    runner.nudge()
    deadline = time.monotonic() + 5
    while "threads" not in runner.failures and time.monotonic() < deadline:
        time.sleep(0.02)
    assert f"stopped at position {bad}" in runner.failures["threads"]
    assert runner._thread.is_alive()
    # The hash chain takes stored records as they are, so it goes past the event.
    assert engine.wait_for(bad, timeout=5, names=["chain"])


def test_status_before_and_after_catching_up(app, engine, database):
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    first = app.open_thread(OPERATOR_ID, "Old", at=long_ago).position
    generate(app, 120, threads=2, authors=2, batch=40)
    head = app.head_position()
    before = {s.name: s for s in engine.status()}
    for name in MINE:
        s = before[name]
        assert (s.generation, s.position, s.head) == (1, 0, head)
        assert s.lag_events == head
        assert 299 < s.lag_seconds < 600  # the oldest pending event is 5 minutes old
        assert s.error is None and s.error_position is None
    engine.catch_up("threads", stop=first)
    assert {s.name: s for s in engine.status()}["threads"].lag_events == head - first
    for name in MINE:
        engine.catch_up(name)
    after = {s.name: s for s in engine.status()}
    for name in MINE:
        assert (after[name].position, after[name].lag_events) == (head, 0)
        assert after[name].lag_seconds == 0.0
    # The same from the command line, as JSON.
    result = subprocess.run(
        [DISCUSS, "status", "--json"],
        cwd=ROOT,
        env={**os.environ, "DISCUSS_DATABASE_URL": database.url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    for name in MINE:
        assert rows[name] == after[name].as_dict()
        assert set(rows[name]) == {
            "name",
            "generation",
            "position",
            "head",
            "lag_events",
            "lag_seconds",
            "error",
            "error_position",
        }
