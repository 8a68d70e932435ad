"""One bootstrap for every entry point: from the process's Settings (domain/settings.py)
it builds the objects a process needs, the same way for the web, the RQ worker and the
command line (the model is cosmicpython's `bootstrap.py`).

- `bootstrap(settings)`: the application (projections/setup.py) and the projection
  engine (projections/registry.py). With `serving=True` (a web process) also what
  keeps the projections fresh after a write: the embedded BackgroundRunner when
  settings.embedded_runner, and the Redis connection that enqueues a catch-up job when
  scaled out (settings.redis_url). The write rate limiter is the web's own Flask
  extension; its storage is settings.redis_url too (web/__init__.py).
- `services_for(settings)`: the same, built once per process and after any fork:
  objects built before a fork made children hang or fail, so the cache is keyed by
  process id. The web (web/runtime.py) and the RQ worker (workers/rq_worker.py,
  workers/jobs.py) use it; `forget_services()` closes this process's (tests, shutdown).
- `process_settings()`: the settings of a process whose entry point has none to pass
  (an RQ worker and its jobs): read from the environment once per process.
- `command_services()`: a `discuss` command's objects, built from the settings read
  once for the invocation and closed when the command ends (workers/cli.py, *_cli.py).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import click
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from domain.application import Discussions
from domain.settings import Database, Settings
from projections.channels import build_outbox
from projections.engine import Engine
from projections.outbox import Outbox
from projections.registry import build_engine
from projections.screening import RulesInForce, install_rules
from projections.setup import open_application
from workers.delivery import DeliveryRunner, enqueue_deliver, senders_for
from workers.jobs import enqueue_catch_up
from workers.outage import STORE_ERRORS, Outage
from workers.runner import BackgroundRunner, stop_all_runners
from workers.runner_election import ElectedRunner, embedded_runner

_log = logging.getLogger(__name__)

RUNNER_INTERVAL = 0.5  # seconds between the embedded runner's polls of the log


@dataclass
class Services:
    settings: Settings
    app: Discussions
    engine: Engine
    # The embedded runner (serving, no Redis): elected among processes on SQLite.
    runner: BackgroundRunner | ElectedRunner | None = None
    redis: Redis | None = None  # catch-up jobs' Redis (serving, scaled out)
    rules: RulesInForce | None = None  # moderation rules in force (serving)

    outbox: Outbox | None = None  # outward channels (projections/outbox.py)
    delivery: DeliveryRunner | None = None  # the embedded delivery thread (serving)

    @property
    def database(self) -> Database:
        return self.settings.database

    def after_write(self, position: int) -> None:
        """Keep the projections fresh after a write: wake the embedded runner at once,
        or enqueue a deduplicated catch-up job when scaled out."""
        if self.runner is not None:
            self.runner.nudge()
        if self.delivery is not None:
            self.delivery.nudge()
        if self.redis is not None:
            enqueue_catch_up(self.redis, self.settings.queue)
            enqueue_deliver(self.redis, self.settings.queue)

    def wait_for(self, position: int | None, timeout: float | None = None) -> bool:
        """Wait (bounded, settings.read_wait_seconds by default) until the projections
        have applied `position`."""
        if not position:
            return True
        return self.engine.wait_for(
            position,
            timeout=self.settings.read_wait_seconds if timeout is None else timeout,
            nudge=self.runner.nudge if self.runner is not None else None,
        )

    def stop(self) -> None:
        """Stop the embedded runner (its connections stay open until `close`)."""
        if self.runner is not None:
            self.runner.stop()
        if self.delivery is not None:
            self.delivery.stop()

    def close(self) -> None:
        self.stop()
        if self.redis is not None:
            self.redis.close()
        self.engine.store.close()
        self.app.close()


def bootstrap(settings: Settings, *, serving: bool = False) -> Services:
    """Build a process's objects from its settings (not cached: see services_for)."""
    app = open_application(settings)
    try:
        services = Services(settings, app, build_engine(app, settings))
        if serving:  # an invalid rule file stops the start, naming its line
            services.rules = install_rules(app, services.engine, settings.rules)

        services.outbox = build_outbox(app, settings, services.engine)
        if serving and settings.redis_url:
            # No retries: redis-py's default (3, with backoff of up to seconds) made
            # each write wait for a Redis that is down; the enqueue breaker
            # (workers/jobs.py) decides when to try again.
            services.redis = Redis.from_url(
                settings.redis_url,
                socket_timeout=1,
                socket_connect_timeout=1,
                retry=Retry(NoBackoff(), 0),
            )
        if serving and settings.embedded_runner:
            services.runner = embedded_runner(
                services.engine, settings.database, interval=RUNNER_INTERVAL
            )
            # Catch up once before serving, so a fresh start never shows an empty view.
            services.runner.run_once()
            services.runner.start()
            services.delivery = _delivery_runner(services)
    except BaseException:
        app.close()
        raise
    return services


def _delivery_runner(services: Services) -> DeliveryRunner:
    """The embedded delivery thread; with an elected runner, it follows the election."""
    runner = services.runner
    elected = isinstance(runner, ElectedRunner)
    leading = (lambda: runner.leading) if elected else None
    delivery = DeliveryRunner(services.outbox, senders_for(services), leading=leading)
    if elected:
        runner.on_applied.append(delivery.nudge)  # called in the holder only
    return delivery.start()


def bootstrap_when_reachable(settings: Settings) -> Services:
    """bootstrap(settings), retried while the store is unreachable (one log line per
    outage, backing off up to a second)."""
    outage = Outage("the store", _log, first=0.1, cap=1.0)
    while True:
        try:
            services = bootstrap(settings)
        except STORE_ERRORS as error:
            time.sleep(outage.failed(error))
            continue
        outage.recovered()
        return services


# ---- once per process ----------------------------------------------------------------

_lock = threading.Lock()
_cache: dict[tuple[int, Settings, bool], Services] = {}
_settings: dict[int, Settings] = {}


def process_settings() -> Settings:
    """This process's settings, read from the environment on the first call (per
    process id: an RQ work horse forked after it reads its own)."""
    pid = os.getpid()
    with _lock:
        found = _settings.get(pid)
        if found is None:
            found = _settings[pid] = Settings.from_env()
        return found


def services_for(settings: Settings | None = None, *, serving: bool = False) -> Services:
    """This process's Services for `settings` (default: process_settings()), built on
    the first call in each process."""
    settings = settings or process_settings()
    key = (os.getpid(), settings, serving)
    with _lock:
        found = _cache.get(key)
        if found is None:
            found = _cache[key] = bootstrap(settings, serving=serving)
        return found


def built_services(settings: Settings, *, serving: bool = False) -> Services | None:
    """This process's Services for `settings` if built already (never builds)."""
    with _lock:
        return _cache.get((os.getpid(), settings, serving))


def forget_services() -> None:
    """Close and drop this process's services and settings (tests, shutdown). Runner
    threads share these connections, so every runner is stopped first."""
    stop_all_runners()
    pid = os.getpid()
    with _lock:
        for key in [k for k in _cache if k[0] == pid]:
            _cache.pop(key).close()
        _cache.clear()  # other processes' (built before a fork) are not ours to close
        _settings.clear()


# ---- the command line ----------------------------------------------------------------


def command_settings() -> Settings:
    """The settings of this `discuss` invocation: read from the environment once, kept
    on the root click context; a malformed value is a usage error."""
    root = click.get_current_context().find_root()
    if not isinstance(root.obj, Settings):
        try:
            root.obj = Settings.from_env()
        except ValueError as error:
            raise click.UsageError(str(error)) from None
    return root.obj


@contextmanager
def command_services(*, wait: bool = False) -> Iterator[Services]:
    """The application and engine of one command, closed when it ends. (A missing or
    wrong master key is one error line: `discuss`'s group, workers/cli.py, says it.)
    With `wait` (a long-running command: the sweeper), a store that cannot be reached
    yet is waited for, not an error."""
    services = (
        bootstrap_when_reachable(command_settings()) if wait else bootstrap(command_settings())
    )
    try:
        yield services
    finally:
        services.close()
