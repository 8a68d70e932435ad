"""Per-process objects of the web app, built lazily after any fork (gunicorn), and
the write hook that keeps projections fresh: in the embedded default the web
process runs the projection runner itself and nudges it after each write; when
scaled out it enqueues a deduplicated RQ catch-up job.
"""

from __future__ import annotations

import os
import threading

from flask import current_app
from redis import Redis

from domain.settings import Settings
from workers.jobs import enqueue_catch_up
from workers.runner import BackgroundRunner
from workers.services import Services, services_for


class Runtime:
    def __init__(self, config: Settings):
        self.config = config
        self._pid: int | None = None
        self._lock = threading.Lock()
        self.runner: BackgroundRunner | None = None
        self.redis: Redis | None = None

    def _ensure(self) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            services = services_for(self.config.database)
            if self.config.redis_url:
                self.redis = Redis.from_url(
                    self.config.redis_url, socket_timeout=1, socket_connect_timeout=1
                )
            if self.config.embedded_runner:
                self.runner = BackgroundRunner(services.engine, interval=0.5)
                # Catch up once before serving, so a fresh start never shows an empty view.
                self.runner.run_once()
                self.runner.start()
            self._pid = os.getpid()

    @property
    def services(self) -> Services:
        self._ensure()
        return services_for(self.config.database)

    def after_write(self, position: int) -> None:
        self._ensure()
        if self.runner is not None:
            self.runner.nudge()
        if self.redis is not None:
            enqueue_catch_up(self.redis)

    def wait_for(self, position: int | None, timeout: float | None = None) -> bool:
        """Wait (bounded) until the projections have applied `position`."""
        if not position:
            return True
        nudge = self.runner.nudge if self.runner is not None else None
        return self.services.engine.wait_for(
            position,
            timeout=self.config.read_wait_seconds if timeout is None else timeout,
            nudge=nudge,
        )

    def stop(self) -> None:
        if self.runner is not None:
            self.runner.stop()


def runtime() -> Runtime:
    return current_app.extensions["discuss"]
