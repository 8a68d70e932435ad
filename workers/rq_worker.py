"""The RQ worker class for catch-up jobs: `rq worker -w workers.rq_worker.CatchUpWorker`.

RQ's default `Worker` forks a work horse for every job, so each job would build its
application, recorder and connections again (the cache in workers/bootstrap.py is
per process): about half a second of lag per job. `SimpleWorker` runs jobs in the
worker process itself, so they are built once per process and reused by every job.
This subclass also reads the settings and builds them when the worker starts (before
the first job, not during it) and closes them when it stops. Nothing is built before a fork: an
`rq worker-pool` forks its workers first, and each builds its own.

Procfile:
    worker: rq worker --worker-class workers.rq_worker.CatchUpWorker \
            --url ${DISCUSS_REDIS_URL} ${DISCUSS_QUEUE:-projections}
"""

from __future__ import annotations

import logging
from typing import Any

from rq.worker import SimpleWorker

from workers.bootstrap import forget_services, process_settings, services_for

log = logging.getLogger(__name__)


class CatchUpWorker(SimpleWorker):
    def work(self, *args: Any, **kwargs: Any) -> bool:
        try:
            # This process's settings, application and connections, built once.
            services_for(process_settings())
        except Exception:  # the job will report it; the worker itself stays up
            log.exception("could not build the services before the first job")
        try:
            return super().work(*args, **kwargs)
        finally:
            forget_services()
