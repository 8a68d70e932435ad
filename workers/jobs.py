"""RQ job functions (top-level, primitive arguments) and their deduplicated enqueue.

A job means "catch up from where you are", never "apply event N": RQ tops out at a
few hundred jobs per second, and a catch-up applies any number of events.

The queue is settings.queue: `projections` unless DISCUSS_QUEUE names another (one
Redis can then serve several deployments, or tests). Enqueueing is deduplicated per queue: while a
job is waiting, a burst of writes enqueues nothing more; a job clears the mark when
it starts, so a write during the job enqueues the next one.
"""

from __future__ import annotations

import logging

from redis import Redis
from rq import Queue
from rq.job import get_current_job

from domain.settings import DEFAULT_QUEUE

log = logging.getLogger(__name__)

PENDING_KEY = "discuss:catch-up:pending"  # of the default queue; see pending_key()
PENDING_TTL = 30  # seconds; a lost job stops blocking new ones after this


def pending_key(queue: str) -> str:
    return PENDING_KEY if queue == DEFAULT_QUEUE else f"{PENDING_KEY}:{queue}"


def catch_up(projection: str | None = None) -> dict[str, int]:
    """Catch one projection (or all) up with the log. A projection that fails does
    not stop the others; the job then fails loudly with the first ProjectionFailed."""
    from workers.bootstrap import services_for  # (the bootstrap imports this module)

    services = services_for()  # this worker process's, from its settings
    job = get_current_job()
    if job is not None:
        # Clear the pending mark first, so that a write during this job enqueues another.
        job.connection.delete(pending_key(job.origin))
    applied, failures = services.engine.catch_up_many([projection] if projection else None)
    if job is not None and any(applied.values()):
        from workers.live_notify import publish_caught_up

        publish_caught_up(job.connection, job.origin, services.engine.position("audit"))
    for failure in failures.values():
        log.error("%s", failure)
    if failures:
        raise next(iter(failures.values()))
    return applied


def enqueue_catch_up(redis: Redis, queue: str) -> bool:
    """Enqueue one catch-up job on `queue` (settings.queue) unless one is already
    waiting. Returns True if enqueued.

    Never raises: the write that calls this has already succeeded, and the periodic
    sweep heals the projections if Redis is down now."""
    try:
        if not redis.set(pending_key(queue), "1", nx=True, ex=PENDING_TTL):
            return False
        Queue(queue, connection=redis).enqueue(
            catch_up, job_timeout=600, result_ttl=60, failure_ttl=7 * 86400
        )
        return True
    except Exception as error:
        log.warning("could not enqueue a catch-up job (%s); the sweep will catch up", error)
        return False
