"""One projection runner per SQLite store (workers/runner_election.py): of several web
processes on one store, exactly one runs the projections and the outbox's delivery
rounds; the others' writes are still read back at once (they nudge the holder); when
the holder is killed with SIGKILL, another process takes over and both go on.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from domain.settings import Database
from projections.registry import build_engine
from projections.setup import open_application
from workers.bootstrap import RUNNER_INTERVAL

ROOT = Path(__file__).resolve().parents[2]
TAKEOVER_BOUND = 3.0  # seconds; the design's bound is TAKEOVER_POLL (0.2 s) plus a pass


class Child:
    def __init__(self, database: Database):
        env = {**os.environ, "DISCUSS_DATABASE_URL": database.url}
        env.pop("DISCUSS_REDIS_URL", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.runner_child"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.pid = self.read()["pid"]

    def read(self) -> dict:
        line = self.process.stdout.readline()
        assert line, f"child {self.process.pid} ended: {self.process.poll()}"
        return json.loads(line)

    def ask(self, command: str) -> dict:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self.read()

    def leading(self) -> bool:
        return self.ask("state")["leading"]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)


@pytest.fixture
def children(sqlite_database: Database):
    started: list[Child] = []
    yield lambda: started.append(Child(sqlite_database)) or started[-1]
    for child in started:
        child.close()


def leaders(children: list[Child], timeout: float = 5.0) -> list[Child]:
    """The children that hold the lock, once exactly one does (or the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [c for c in children if c.leading()]
        if len(found) == 1 or time.monotonic() >= deadline:
            return found
        time.sleep(0.05)


def test_one_runner_per_store_and_a_killed_holder_is_replaced(children, sqlite_database):
    group = [children() for _ in range(3)]
    found = leaders(group)
    assert len(found) == 1
    holder = found[0]
    followers = [c for c in group if c is not holder]
    for _ in range(3):  # it stays one, and only its runner thread runs
        states = [c.ask("state") for c in group]
        assert [s["leading"] for s in states] == [c is holder for c in group]
        assert [s["running"] for s in states] == [c is holder for c in group]

    # A follower's write is read back at once: its nudge reached the holder (which
    # polls only every RUNNER_INTERVAL otherwise).
    for follower in followers:
        waits = []
        for _ in range(5):
            written = follower.ask("write")
            assert written["fresh"], written
            waits.append(written["seconds"])
        assert sorted(waits)[2] < RUNNER_INTERVAL / 2, waits

    # The outbox's rounds (channels caught up, deliveries sent) run in the holder only,
    # woken by its runner after the followers' writes.
    deadline = time.monotonic() + TAKEOVER_BOUND
    while holder.ask("state")["delivery_rounds"] == 0:
        assert time.monotonic() < deadline, "the holder ran no delivery round"
        time.sleep(0.05)
    assert [f.ask("state")["delivery_rounds"] for f in followers] == [0, 0]

    # SIGKILL: no clean-up at all. Another process takes the lock over.
    os.kill(holder.pid, signal.SIGKILL)
    holder.process.wait(10)
    killed_at = time.monotonic()
    while not [c for c in followers if c.leading()]:
        assert time.monotonic() - killed_at < TAKEOVER_BOUND, "nobody took over"
        time.sleep(0.02)
    took = time.monotonic() - killed_at
    new_holders = [c for c in followers if c.leading()]
    assert len(new_holders) == 1, took
    # Both survivors' writes are read back, the projections are at the head, and the
    # new holder runs the delivery rounds.
    for survivor in followers:
        written = survivor.ask("write")
        assert written["fresh"], written
    deadline = time.monotonic() + TAKEOVER_BOUND
    while new_holders[0].ask("state")["delivery_rounds"] == 0:
        assert time.monotonic() < deadline, "the new holder ran no delivery round"
        time.sleep(0.05)
    app = open_application(sqlite_database)
    engine = build_engine(app, sqlite_database)
    try:
        assert engine.wait_for(app.head_position(), timeout=10)
    finally:
        engine.store.close()
        app.close()
