"""The web app's per-process objects, from the bootstrap (workers/bootstrap.py): built
lazily on first use, after any fork (gunicorn), with what keeps the projections fresh
after a write (the embedded runner, or catch-up jobs on RQ when scaled out).
"""

from __future__ import annotations

from flask import current_app
from redis import Redis

from domain.moderation_rules import rules_for
from domain.settings import Settings
from workers.bootstrap import BackgroundRunner, Services, built_services, services_for


class Runtime:
    def __init__(self, settings: Settings):
        self.settings = settings
        # An invalid moderation rule file stops the start here, naming its line, before
        # any connection is made (the services load the rules again after a fork).
        rules_for(settings.rules)
        self.on_stop: list = []  # callables run by stop() (the live updates' hub)

    @property
    def services(self) -> Services:
        return services_for(self.settings, serving=True)

    @property
    def _built(self) -> Services | None:
        return built_services(self.settings, serving=True)

    @property
    def runner(self) -> BackgroundRunner | None:
        """The embedded runner, if this process has built its services yet."""
        return self._built.runner if self._built is not None else None

    @property
    def redis(self) -> Redis | None:
        """The catch-up jobs' Redis, if this process has built its services yet."""
        return self._built.redis if self._built is not None else None

    def after_write(self, position: int) -> None:
        self.services.after_write(position)

    def wait_for(self, position: int | None, timeout: float | None = None) -> bool:
        """Wait (bounded) until the projections have applied `position`."""
        if not position:
            return True
        return self.services.wait_for(position, timeout)

    def stop(self) -> None:
        for stop in self.on_stop:
            stop()
        built = self._built
        if built is not None:
            built.stop()


def runtime() -> Runtime:
    return current_app.extensions["discuss"]
