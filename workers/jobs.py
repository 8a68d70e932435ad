"""RQ job functions (top-level, primitive arguments) and their deduplicated enqueue.

A job means "catch up from where you are", never "apply event N": RQ tops out at a
few hundred jobs per second, and a catch-up applies any number of events.

The queue is settings.queue: `projections` unless DISCUSS_QUEUE names another (one
Redis can then serve several deployments, or tests). Enqueueing is deduplicated per queue: while a
job is waiting, a burst of writes enqueues nothing more; a job clears the mark when
it starts, so a write during the job enqueues the next one.

The mark lives one second (PENDING_TTL): a job taken by a worker that is killed before
it starts keeps new jobs out for that long at most, and the sweeper (`discuss sweep`)
catches up meanwhile. A worker starting requeues such abandoned jobs
(workers/rq_worker.py).

Enqueueing fails fast: after a write found Redis unreachable, the writes of the next
BREAKER_SECONDS skip the enqueue altogether (the sweeper and the embedded runner heal),
so an outage costs one failed connection per process per period, not one per write.
"""

from __future__ import annotations

import logging
import threading
import time

from redis import Redis
from rq import Queue
from rq.job import get_current_job

from domain.settings import DEFAULT_QUEUE
from workers.outage import STORE_ERRORS

log = logging.getLogger(__name__)

PENDING_KEY = "discuss:catch-up:pending"  # of the default queue; see pending_key()
PENDING_TTL = 1  # seconds; a lost job stops blocking new ones after this
BREAKER_SECONDS = 1.0  # writes skip the enqueue this long after one found Redis down


def pending_key(queue: str) -> str:
    return PENDING_KEY if queue == DEFAULT_QUEUE else f"{PENDING_KEY}:{queue}"


def catch_up(projection: str | None = None) -> dict[str, int]:
    """Catch one projection (or all) up with the log. A projection that fails does
    not stop the others; the job then fails loudly with the first ProjectionFailed."""
    from workers.bootstrap import services_for  # (the bootstrap imports this module)

    job = get_current_job()
    if job is not None:
        # Clear the pending mark first, so that a write during this job enqueues another.
        job.connection.delete(pending_key(job.origin))
    try:
        services = services_for()  # this worker process's, from its settings
        applied, failures = services.engine.catch_up_many([projection] if projection else None)
    except STORE_ERRORS as error:
        # Transient (a PostgreSQL restart): not a failed job. The sweeper, or the next
        # write's job, catches up once the store is back.
        log.warning("catch-up job: the store is unreachable (%s); leaving it to the next", error)
        return {}
    if job is not None and any(applied.values()):
        from workers.live_notify import publish_caught_up

        publish_caught_up(job.connection, job.origin, services.engine.position("audit"))
    for failure in failures.values():
        log.error("%s", failure)
    if failures:
        raise next(iter(failures.values()))
    return applied


class _Breaker:
    """Open for BREAKER_SECONDS after a failed enqueue (per Redis client); while open,
    enqueue_catch_up returns at once. One warning per outage. A write skipped while it
    is open is owed a job: one timer per process enqueues it when the breaker would
    let a write try again (so the last writes before a quiet spell are projected even
    where no sweeper runs), and keeps trying while Redis stays down."""

    def __init__(self):
        self._lock = threading.Lock()
        self.open_until = 0.0
        self.down = False
        self._timer: threading.Timer | None = None

    def is_open(self) -> bool:
        return time.monotonic() < self.open_until

    def owe(self, redis: Redis, queue: str) -> None:
        with self._lock:
            if self._timer is not None:
                return
            delay = max(0.0, self.open_until - time.monotonic())
            self._timer = threading.Timer(delay, self._pay, (redis, queue))
            self._timer.daemon = True
            self._timer.start()

    def _pay(self, redis: Redis, queue: str) -> None:
        with self._lock:
            self._timer = None
        if not enqueue_catch_up(redis, queue) and self.is_open():
            self.owe(redis, queue)  # still down: try again when the breaker allows

    def trip(self, error: Exception) -> None:
        with self._lock:
            self.open_until = time.monotonic() + BREAKER_SECONDS
            if not self.down:
                self.down = True
                log.warning(
                    "could not enqueue a catch-up job (%s); skipping enqueues for %.0fs at a"
                    " time until Redis is back: the sweep will catch up",
                    error,
                    BREAKER_SECONDS,
                )

    def close(self) -> None:
        if self.down:
            self.down = False
            log.warning("Redis reachable again: catch-up jobs are enqueued again")


def breaker_for(redis: Redis) -> _Breaker:
    """The Redis client's breaker, shared by every enqueue through that client."""
    found = getattr(redis, "_discuss_breaker", None)
    if found is None:
        found = redis._discuss_breaker = _Breaker()
    return found


def enqueue_catch_up(redis: Redis, queue: str) -> bool:
    """Enqueue one catch-up job on `queue` (settings.queue) unless one is already
    waiting. Returns True if enqueued.

    Never raises: the write that calls this has already succeeded, and the periodic
    sweep heals the projections if Redis is down now."""
    breaker = breaker_for(redis)
    if breaker.is_open():
        breaker.owe(redis, queue)
        return False
    try:
        if not redis.set(pending_key(queue), "1", nx=True, ex=PENDING_TTL):
            breaker.close()
            return False
        Queue(queue, connection=redis).enqueue(
            catch_up, job_timeout=600, result_ttl=60, failure_ttl=7 * 86400
        )
    except Exception as error:
        breaker.trip(error)
        breaker.owe(redis, queue)
        return False
    breaker.close()
    return True
