"""RQ job functions (top-level, primitive arguments) and their deduplicated enqueue.

A job means "catch up from where you are", never "apply event N": RQ tops out at a
few hundred jobs per second, and a catch-up applies any number of events.
"""

from __future__ import annotations

import logging

from redis import Redis
from rq import Queue
from rq.job import get_current_job

from workers.services import services_for

log = logging.getLogger(__name__)

QUEUE_NAME = "projections"
PENDING_KEY = "discuss:catch-up:pending"
PENDING_TTL = 30  # seconds; a lost job stops blocking new ones after this


def catch_up(projection: str | None = None) -> dict[str, int]:
    """Catch one projection (or all) up with the log. Raises ProjectionFailed loudly."""
    services = services_for()
    job = get_current_job()
    if job is not None:
        # Clear the pending mark first, so that a write during this job enqueues another.
        job.connection.delete(PENDING_KEY)
    names = [projection] if projection else list(services.engine.projections)
    return {name: services.engine.catch_up(name) for name in names}


def enqueue_catch_up(redis: Redis) -> bool:
    """Enqueue one catch-up job unless one is already waiting. Returns True if enqueued.

    Never raises: the write that calls this has already succeeded, and the periodic
    sweep heals the projections if Redis is down now."""
    try:
        if not redis.set(PENDING_KEY, "1", nx=True, ex=PENDING_TTL):
            return False
        Queue(QUEUE_NAME, connection=redis).enqueue(
            catch_up, job_timeout=600, result_ttl=60, failure_ttl=7 * 86400
        )
        return True
    except Exception as error:
        log.warning("could not enqueue a catch-up job (%s); the sweep will catch up", error)
        return False
