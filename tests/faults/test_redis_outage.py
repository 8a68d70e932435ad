"""Redis goes away and comes back: the Procfile's worker outlives it (and one started
during the outage waits for it), and writes stop paying for the failed enqueue.

Each test has a private redis-server (tests/support/private_redis.py), stopped and
started again on the same port."""

from __future__ import annotations

import os
import socket
import threading

import pytest
from rq import Queue

from domain.model import OPERATOR_ID
from projections.registry import build_engine
from projections.setup import open_application
from tests.faults.conftest import eventually, procfile_command
from workers.jobs import enqueue_catch_up

pytestmark = pytest.mark.postgres


def _env(database, redis_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DISCUSS_DATABASE_URL": database.url,
        "DISCUSS_REDIS_URL": redis_url,
        "DISCUSS_QUEUE": "projections",
    }


def _caught_up(engine, position: int) -> bool:
    return all(s.position >= position for s in engine.status())


def test_the_procfile_worker_outlives_a_redis_restart(pg_database, private_redis, procs):
    app = open_application(pg_database)
    engine = build_engine(app, pg_database)
    try:
        worker = procs(procfile_command("worker"), _env(pg_database, private_redis.url), "worker")
        first = app.open_thread(OPERATOR_ID, "Before the outage").position
        assert enqueue_catch_up(private_redis.client(), "projections")
        assert eventually(lambda: _caught_up(engine, first)), worker.text()

        # Busy when Redis stops: the job ends during the outage.
        Queue("projections", connection=private_redis.client()).enqueue(
            "tests.support.rq_jobs.slow_catch_up", 1.0
        )
        assert eventually(lambda: "slow_catch_up" in worker.text()), worker.text()
        private_redis.stop()
        assert not eventually(lambda: not worker.alive(), seconds=3), worker.text()
        private_redis.start()

        second = app.open_thread(OPERATOR_ID, "After the outage").position
        assert eventually(lambda: enqueue_catch_up(private_redis.client(), "projections"))
        assert eventually(lambda: _caught_up(engine, second)), worker.text()
        assert worker.alive(), worker.text()
    finally:
        engine.store.close()
        app.close()


def test_a_worker_started_while_redis_is_down_waits_for_it(pg_database, private_redis, procs):
    app = open_application(pg_database)
    engine = build_engine(app, pg_database)
    try:
        private_redis.stop()
        worker = procs(procfile_command("worker"), _env(pg_database, private_redis.url), "worker")
        assert not eventually(lambda: not worker.alive(), seconds=3), worker.text()
        private_redis.start()
        position = app.open_thread(OPERATOR_ID, "Written after Redis came back").position
        assert enqueue_catch_up(private_redis.client(), "projections")
        assert eventually(lambda: _caught_up(engine, position)), worker.text()
    finally:
        engine.store.close()
        app.close()


class _RefusingListener:
    """Accepts TCP connections and closes them at once (a Redis that is not answering),
    counting them: how often the writes tried to reach Redis."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.count = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.count += 1
            conn.close()

    def close(self):
        self.sock.close()


def test_writes_stop_trying_redis_while_it_is_unreachable(sqlite_database):
    """After one failed enqueue, the next writes skip it for a short while (the sweep
    heals): 20 writes in a row reach for Redis once or twice, not 20 times or more."""
    from domain.settings import Settings
    from workers.bootstrap import bootstrap

    listener = _RefusingListener()
    settings = Settings.from_env(
        database=sqlite_database,
        redis_url=f"redis://127.0.0.1:{listener.port}/0",
        embedded_runner=False,
    )
    services = bootstrap(settings, serving=True)
    try:
        for n in range(20):
            position = services.app.open_thread(OPERATOR_ID, f"T{n}").position
            services.after_write(position)
        assert 1 <= listener.count <= 2
    finally:
        services.close()
        listener.close()
