"""`discuss rebuild --all` killed -9 (no clean-up, no Ctrl-C) continues where it
stopped: the projections it had already switched are not rebuilt again, the one in
progress continues from its position, and one killed in the middle of its switch
continues with it."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import psycopg
import pytest

from projections.db import lock_key
from projections.rebuild import pending_generation
from projections.registry import build_engine
from tests.integration.test_rebuild import DISCUSS, ROOT, run_discuss
from tests.support.views import MINE, catch_up
from tests.support.workload import dump, generate

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(app, database):
    engine = build_engine(app, database)
    yield engine
    engine.store.close()


@pytest.fixture
def database(pg_database):
    return pg_database


def _start_rebuild_all(database, page_size: int) -> subprocess.Popen:
    env = {**os.environ, "DISCUSS_DATABASE_URL": database.url}
    command = [DISCUSS, "rebuild", "--all", "--grace", "0", "--quiet"]
    command += ["--page-size", str(page_size)]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _kill_when(child: subprocess.Popen, ready, seconds: float = 90) -> None:
    try:
        deadline = time.monotonic() + seconds
        while not ready():
            assert child.poll() is None, "the rebuild ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)


def test_a_rebuild_all_killed_mid_projection_continues(app, engine, database):
    generate(app, 1500, threads=5, batch=250)
    catch_up(engine)
    expected = {name: dump(engine, name) for name in MINE}
    names = list(engine.projections)
    first, second = names[0], names[1]
    child = _start_rebuild_all(database, page_size=10)
    _kill_when(
        child,
        lambda: (
            engine.generation(first) == 2
            and pending_generation(engine, second) == 2
            and engine.position(second, 2) > 0
        ),
    )
    stopped_at = engine.position(second, 2)
    assert stopped_at < app.head_position()

    result = run_discuss(database, "rebuild", "--all", "--grace", "0", "--quiet")
    assert result.returncode == 0, result.stderr
    assert f"{first}:" not in result.stderr  # done before the kill: not rebuilt again
    assert f"{second}: continuing generation 2 (serving: 1), from position" in result.stderr
    line = result.stderr.split(f"{second}: continuing")[1]
    continued_from = int(line.split("position ")[1].split()[0])
    assert continued_from >= stopped_at
    for name in names:
        assert engine.generation(name) == 2, name
        assert pending_generation(engine, name) is None
    for name in MINE:
        assert dump(engine, name) == expected[name], name
    # The run is over: the next `rebuild --all` is a new one, from the first event.
    assert (
        "building generation 3"
        in run_discuss(database, "rebuild", "--all", "--grace", "0", "--quiet").stderr
    )


def test_a_rebuild_all_killed_mid_switch_continues(app, engine, database):
    generate(app, 600, threads=3, batch=200)
    catch_up(engine)
    expected = {name: dump(engine, name) for name in MINE}
    first = next(iter(engine.projections))
    head = app.head_position()
    # Hold the serving generation's lock: the switch (which takes it inside its
    # transaction) waits there, and is killed there.
    holder = psycopg.connect(database.url, autocommit=True)
    try:
        holder.execute("SELECT pg_advisory_lock(%s)", (lock_key(engine.lock_name(first, 1)),))
        child = _start_rebuild_all(database, page_size=200)

        def waiting_in_the_switch() -> bool:
            if engine.position(first, 2) < head:
                return False
            row = holder.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
                " AND wait_event_type = 'Lock' AND wait_event = 'advisory'",
                (database.dbname,),
            ).fetchone()
            return row[0] > 0

        _kill_when(child, waiting_in_the_switch)
        holder.execute("SELECT pg_advisory_unlock_all()")
    finally:
        holder.close()
    assert engine.generation(first) == 1  # the switch was rolled back with the process
    result = run_discuss(database, "rebuild", "--all", "--grace", "0", "--quiet")
    assert result.returncode == 0, result.stderr
    assert f"{first}: continuing generation 2 (serving: 1), from position {head}" in result.stderr
    for name in engine.projections:
        assert engine.generation(name) == 2, name
    for name in MINE:
        assert dump(engine, name) == expected[name], name
