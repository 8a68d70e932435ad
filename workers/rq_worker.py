"""The RQ worker for catch-up jobs: `discuss worker` (the Procfile's), or
`rq worker -w workers.rq_worker.CatchUpWorker` (which exits if Redis is down at start).

RQ's default `Worker` forks a work horse for every job, so each job would build its
application, recorder and connections again (the cache in workers/bootstrap.py is
per process): about half a second of lag per job. `SimpleWorker` runs jobs in the
worker process itself, so they are built once per process and reused by every job.
This subclass also reads the settings and builds them when the worker starts (before
the first job, not during it) and closes them when it stops. Nothing is built before a fork: an
`rq worker-pool` forks its workers first, and each builds its own.

It outlives Redis: RQ's own loop quits on a Redis error met anywhere but while
waiting for a job (a job finishing during an outage, a heartbeat), and `rq worker`
exits at once when Redis is down at start. Here the loop waits for Redis (backing off,
one log line per outage) and starts again, under the same name. Each (re)start first
requeues the jobs that killed workers left behind (RQ's intermediate queue, its started
registry): catch-up jobs only mean "catch up from where you are", so running one twice
is harmless, while leaving one there stalls nothing but the queue's bookkeeping.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import time
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from rq import Queue
from rq.registry import StartedJobRegistry
from rq.worker import SimpleWorker

from workers.bootstrap import forget_services, process_settings, services_for
from workers.outage import REDIS_ERRORS, Outage

log = logging.getLogger(__name__)

RESTART_PAUSE = 0.2  # seconds between RQ's loop ending on an error and its next start


class CatchUpWorker(SimpleWorker):
    def work(self, burst: bool = False, *args: Any, **kwargs: Any) -> bool:
        try:
            # This process's settings, application and connections, built once.
            services_for(process_settings())
        except Exception:  # the job will report it; the worker itself stays up
            log.exception("could not build the services before the first job")
        outage = Outage("Redis", log, first=0.1, cap=1.0)
        worked = False
        try:
            while True:
                if not self._wait_for_redis(outage):
                    return worked
                requeue_abandoned(self.queues, self.connection)
                try:
                    worked = super().work(burst, *args, **kwargs) or worked
                except REDIS_ERRORS as error:  # RQ's teardown, during the outage
                    outage.failed(error)
                if self._done(burst, kwargs):
                    return worked
                # RQ's loop ended on an error (it has logged it): go on once Redis is back.
                self._default_signals()
                with contextlib.suppress(Exception):
                    self.unsubscribe()
                time.sleep(RESTART_PAUSE)
        finally:
            forget_services()

    def _done(self, burst: bool, kwargs: dict[str, Any]) -> bool:
        """True if RQ's loop ended as asked (a signal, --burst, a job or idle limit)."""
        return bool(
            burst
            or self._stop_requested
            or self._shutdown_requested_date is not None
            or kwargs.get("max_jobs")
            or kwargs.get("max_idle_time")
        )

    def _default_signals(self) -> None:
        # RQ's handlers talk to Redis: outside its loop a signal simply ends the process.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def _wait_for_redis(self, outage: Outage) -> bool:
        """Block until Redis answers; clear this worker's registration left by an
        interrupted loop so that it can register again under its name."""
        wait_for_redis(self.connection, outage)
        self.connection.delete(self.key)
        return True


def wait_for_redis(connection: Redis, outage: Outage) -> None:
    while True:
        try:
            connection.ping()
        except REDIS_ERRORS as error:
            time.sleep(outage.failed(error))
            continue
        outage.recovered()
        return


def requeue_abandoned(queues: list[Queue], connection: Redis) -> int:
    """Put back on their queue the jobs whose worker was killed: those in the
    intermediate queue that no live worker has started, and those in the started
    registry of a worker that no longer runs. Returns how many."""
    count = 0
    for queue in queues:
        started = StartedJobRegistry(queue=queue)
        running: dict[str, str] = {}
        for entry in connection.zrange(started.key, 0, -1):
            entry = entry.decode()
            job_id = entry.split(":", 1)[0]
            job = queue.fetch_job(job_id)
            if job is not None and _worker_alive(connection, job.worker_name):
                running[job_id] = entry
                continue
            connection.zrem(started.key, entry)
            if job is not None:
                connection.lrem(queue.intermediate_queue.key, 0, job_id)
                queue.enqueue_job(job, at_front=True)
                count += 1
        for raw in connection.lrange(queue.intermediate_queue.key, 0, -1):
            job_id = raw.decode()
            if job_id in running:
                continue
            connection.lrem(queue.intermediate_queue.key, 0, job_id)
            job = queue.fetch_job(job_id)
            if job is not None:
                queue.enqueue_job(job, at_front=True)
                count += 1
    if count:
        log.warning("requeued %d job(s) left behind by killed workers", count)
    return count


def _worker_alive(connection: Redis, name: str | None) -> bool:
    """A worker is alive if it is registered, not dead, and (on this host) its process
    runs; on another host, if its last heartbeat is recent."""
    if not name:
        return False
    fields = connection.hgetall(f"rq:worker:{name}")
    if not fields or b"death" in fields:
        return False
    if fields.get(b"hostname", b"").decode() == socket.gethostname():
        pid = int(fields.get(b"pid", b"0") or 0)
        if pid <= 0:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    beat = fields.get(b"last_heartbeat", b"").decode()
    try:
        seen = datetime.fromisoformat(beat.replace("Z", "+00:00"))
    except ValueError:
        return False
    ttl = int(fields.get(b"worker_ttl", b"420") or 420)
    return (datetime.now(UTC) - seen).total_seconds() < ttl + 60


def run_worker(queue_name: str, redis_url: str) -> None:
    """`discuss worker`: a CatchUpWorker on `queue_name` that waits for Redis at start
    (RQ's own `rq worker` exits when Redis is down)."""
    from rq.logutils import setup_loghandlers

    setup_loghandlers("INFO", name="rq.worker")
    # Our own lines (outages, requeued jobs) beside RQ's, which has its own handler.
    ours = logging.getLogger("workers")
    if not ours.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
        ours.addHandler(handler)
        ours.setLevel(logging.INFO)
    connection = Redis.from_url(redis_url, socket_connect_timeout=2, health_check_interval=30)
    wait_for_redis(connection, Outage("Redis", log, first=0.1, cap=1.0))  # RQ's Worker needs it
    CatchUpWorker([Queue(queue_name, connection=connection)], connection=connection).work()
