"""A worker killed right after taking a job must not stall catch-up: its job stays in
RQ's intermediate queue (or its started registry) and the dedup mark
`discuss:catch-up:pending` must not keep new jobs out for long."""

from __future__ import annotations

import time

from rq import Queue
from rq.registry import StartedJobRegistry

from domain.model import OPERATOR_ID
from projections.registry import build_engine
from workers.jobs import enqueue_catch_up
from workers.rq_worker import CatchUpWorker


def _abandon_the_waiting_job(redis, queue: Queue) -> str:
    """What a worker killed -9 between taking a job and starting it leaves behind: the
    job moved from the queue to the intermediate queue (RQ's BLMOVE), never run."""
    job_id = redis.lmove(queue.key, queue.intermediate_queue.key).decode()
    return job_id


def test_a_job_abandoned_by_a_killed_worker_does_not_stall_catch_up(
    app, database, private_redis, monkeypatch
):
    monkeypatch.setenv("DISCUSS_DATABASE_URL", database.url)
    redis = private_redis.client()
    queue = Queue("projections", connection=redis)
    engine = build_engine(app, database)
    try:
        position = app.open_thread(OPERATOR_ID, "Written before the kill").position
        assert enqueue_catch_up(redis, "projections")
        _abandon_the_waiting_job(redis, queue)

        # Another write a moment later enqueues a job again (the mark does not outlive
        # the worker that would have cleared it by more than a second).
        time.sleep(1.2)
        later = app.open_thread(OPERATOR_ID, "Written after the kill").position
        assert enqueue_catch_up(redis, "projections") is True
        assert queue.count == 1

        # A worker starting clears what killed workers left: the abandoned job runs again.
        redis.delete(queue.key)
        worker = CatchUpWorker([queue], connection=redis)
        worker.work(burst=True)
        assert all(s.position >= max(position, later) for s in engine.status())
        assert redis.llen(queue.intermediate_queue.key) == 0
    finally:
        engine.store.close()


def test_a_worker_start_clears_the_started_registry_of_dead_workers(
    app, database, private_redis, monkeypatch
):
    monkeypatch.setenv("DISCUSS_DATABASE_URL", database.url)
    redis = private_redis.client()
    queue = Queue("projections", connection=redis)
    engine = build_engine(app, database)
    try:
        position = app.open_thread(OPERATOR_ID, "Written before the kill").position
        job = queue.enqueue("workers.jobs.catch_up")
        redis.lrem(queue.key, 1, job.id)  # taken by a worker...
        redis.zadd(StartedJobRegistry(queue=queue).key, {f"{job.id}:dead": time.time() + 600})
        assert StartedJobRegistry(queue=queue).count == 1  # ...that was killed while running it

        CatchUpWorker([queue], connection=redis).work(burst=True)
        assert StartedJobRegistry(queue=queue).count == 0
        assert all(s.position >= position for s in engine.status())
    finally:
        engine.store.close()
