"""Catch-up through Redis and RQ, for real: deduplicated enqueueing, in-process and
subprocess workers, loud failures, and healing when Redis is down.

Each test uses Redis database 14 (dedicated to these tests: flushed before and after)
and its own queue name.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue
from rq.registry import FailedJobRegistry, FinishedJobRegistry
from rq.worker import SimpleWorker

from domain.model import OPERATOR_ID
from domain.settings import DEFAULT_QUEUE
from projections.registry import build_engine
from tests.conftest import REDIS_URL
from tests.support.workload import generate
from workers.bootstrap import forget_services
from workers.jobs import enqueue_catch_up, pending_key
from workers.runner import BackgroundRunner

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
REDIS_DB_URL = REDIS_URL.rsplit("/", 1)[0] + "/14"
UNREACHABLE = "redis://127.0.0.1:1/0"


@pytest.fixture
def redis():
    client = Redis.from_url(REDIS_DB_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def queue_name(monkeypatch) -> str:
    name = f"test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("DISCUSS_QUEUE", name)
    return name


@pytest.fixture
def env(monkeypatch, database, queue_name):
    """The environment a worker reads: this test's database and queue."""
    monkeypatch.setenv("DISCUSS_DATABASE_URL", database.url)
    yield {**os.environ}
    forget_services()


@pytest.fixture
def engine(app, database):
    engine = build_engine(app, database)
    yield engine
    engine.store.close()


def positions(engine) -> set[int]:
    return {s.position for s in engine.status()}


def rq_worker(queue: str, *extra: str, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "rq"), "worker", "--burst", "--url", REDIS_DB_URL, *extra, queue],
        cwd=ROOT,
        env={**os.environ},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_a_burst_of_enqueues_makes_one_job(redis, queue_name):
    results = [enqueue_catch_up(redis, queue_name) for _ in range(50)]
    assert results.count(True) == 1
    queue = Queue(queue_name, connection=redis)
    assert queue.count == 1
    assert redis.ttl(pending_key(queue_name)) > 0


def test_a_simple_worker_catches_every_projection_up(app, engine, redis, env, queue_name):
    generate(app, 300, threads=3, batch=100)
    assert positions(engine) == {0}
    assert enqueue_catch_up(redis, queue_name) is True
    assert enqueue_catch_up(redis, queue_name) is False  # one is waiting already
    worker = SimpleWorker([Queue(queue_name, connection=redis)], connection=redis)
    assert worker.work(burst=True)
    assert positions(engine) == {app.head_position()}
    finished = FinishedJobRegistry(queue_name, connection=redis)
    assert finished.count == 1
    # The job cleared the pending mark: the next write enqueues again.
    app.open_thread(OPERATOR_ID, "Later")
    assert enqueue_catch_up(redis, queue_name) is True


@pytest.mark.postgres
def test_an_rq_worker_process_catches_up(pg_database, redis, monkeypatch, queue_name):
    monkeypatch.setenv("DISCUSS_DATABASE_URL", pg_database.url)
    from projections.setup import open_application

    app = open_application(pg_database)
    engine = build_engine(app, pg_database)
    try:
        generate(app, 500, threads=3, batch=100)
        for _ in range(5):
            enqueue_catch_up(redis, queue_name)
        result = rq_worker(queue_name, "--worker-class", "workers.rq_worker.CatchUpWorker")
        assert result.returncode == 0, result.stderr
        assert positions(engine) == {app.head_position()}
        assert FinishedJobRegistry(queue_name, connection=redis).count == 1
        assert FailedJobRegistry(queue_name, connection=redis).count == 0
    finally:
        engine.store.close()
        app.close()


@pytest.mark.postgres
def test_the_worker_class_builds_services_once_per_process(
    pg_database, redis, monkeypatch, queue_name
):
    """CatchUpWorker (a SimpleWorker) reuses one Services for every job; RQ's default
    Worker forks a work horse per job, so every job would build its own."""
    monkeypatch.setenv("DISCUSS_DATABASE_URL", pg_database.url)
    queue = Queue(queue_name, connection=redis)

    def identities(worker_class: str) -> list[list[int]]:
        jobs = [queue.enqueue("tests.support.rq_jobs.services_identity") for _ in range(3)]
        result = rq_worker(queue_name, "--worker-class", worker_class)
        assert result.returncode == 0, result.stderr
        return [job.latest_result().return_value for job in jobs]

    simple = identities("workers.rq_worker.CatchUpWorker")
    assert len({tuple(i) for i in simple}) == 1  # one process, one Services object
    forking = identities("rq.worker.Worker")
    assert len({pid for pid, _ in forking}) == 3  # a new process (and Services) per job


def test_a_failing_projection_fails_the_job_visibly(app, engine, redis, env, queue_name):
    from tests.integration.test_exactly_once import insert_unknown_event

    app.open_thread(OPERATOR_ID, "Before")
    bad = insert_unknown_event(app)
    app.open_thread(OPERATOR_ID, "After")
    assert enqueue_catch_up(redis, queue_name)
    SimpleWorker([Queue(queue_name, connection=redis)], connection=redis).work(burst=True)
    failed = FailedJobRegistry(queue_name, connection=redis)
    assert failed.count == 1
    job = Queue(queue_name, connection=redis).fetch_job(failed.get_job_ids()[0])
    assert "ProjectionFailed" in job.latest_result().exc_string
    assert f"stopped at position {bad}" in job.latest_result().exc_string
    status = {s.name: s for s in engine.status()}
    assert status["threads"].position == bad - 1
    assert status["threads"].error_position == bad


def test_writes_succeed_when_redis_is_down_and_the_sweep_heals(app, engine, caplog):
    down = Redis.from_url(UNREACHABLE, socket_timeout=1, socket_connect_timeout=1)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="workers.jobs"):
        position = app.open_thread(OPERATOR_ID, "Written while Redis is down").position
        assert enqueue_catch_up(down, DEFAULT_QUEUE) is False
    assert time.monotonic() - started < 2
    assert any("could not enqueue" in r.getMessage() for r in caplog.records)
    assert positions(engine) == {0}
    sweeper = BackgroundRunner(build_engine(app, engine.store.database), interval=0.2).start()
    try:
        assert engine.wait_for(position, timeout=10)
    finally:
        sweeper.stop()
    assert positions(engine) == {app.head_position()}


@pytest.mark.postgres
def test_the_sweep_command_heals_without_redis(pg_database):
    from projections.setup import open_application

    app = open_application(pg_database)
    engine = build_engine(app, pg_database)
    env = {**os.environ, "DISCUSS_DATABASE_URL": pg_database.url, "DISCUSS_REDIS_URL": UNREACHABLE}
    sweeper = subprocess.Popen(
        [str(BIN / "discuss"), "sweep", "--interval", "0.3"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        generate(app, 200, threads=2, batch=50)
        assert enqueue_catch_up(Redis.from_url(UNREACHABLE), DEFAULT_QUEUE) is False
        assert engine.wait_for(app.head_position(), timeout=30)
    finally:
        sweeper.terminate()
        sweeper.wait(timeout=10)
        engine.store.close()
        app.close()
