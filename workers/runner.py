"""The in-process runner of the embedded default: a daemon thread that keeps every
projection caught up, polling the log (SQLite's recorder cannot subscribe) and
woken at once by `nudge()` after a local write. The sweeper (`discuss sweep`) is the
same loop in a process of its own.

The store may go away and come back (a PostgreSQL restart): the loop then backs off
(up to OUTAGE_CAP between attempts, so it resumes within that of the store's return)
and logs once per outage (workers/outage.py), never exits.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable

from projections.engine import Engine
from workers.outage import STORE_ERRORS, Outage

log = logging.getLogger(__name__)

OUTAGE_CAP = 0.5  # seconds: the longest wait between attempts while the store is down

# Runners alive in this process, so that closing shared connections can stop them first.
_live: weakref.WeakSet[BackgroundRunner] = weakref.WeakSet()


def stop_all_runners() -> None:
    for runner in list(_live):
        runner.stop()


class BackgroundRunner:
    def __init__(self, engine: Engine, interval: float = 0.5):
        self.engine = engine
        self.interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failures: dict[str, str] = {}
        # Called after a catch-up that applied events (the live updates' hub).
        self.on_applied: list[Callable[[], None]] = []

    def start(self) -> BackgroundRunner:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="projection-runner", daemon=True)
            self._thread.start()
            _live.add(self)
        return self

    def nudge(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        _live.discard(self)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run_once(self) -> int:
        applied, failures = self.engine.catch_up_many()
        for name in self.engine.projections:
            failure = failures.get(name)
            if failure is None:
                self.failures.pop(name, None)
                continue
            if self.failures.get(name) != str(failure):
                log.error("%s", failure)
            self.failures[name] = str(failure)
        count = sum(applied.values())
        if count:
            for listener in list(self.on_applied):
                listener()
        return count

    def _run(self) -> None:
        outage = Outage("the store (projection runner)", log, first=0.05, cap=OUTAGE_CAP)
        while not self._stop.is_set():
            self._wake.clear()
            wait = self.interval
            try:
                self.run_once()
                outage.recovered()
            except STORE_ERRORS as error:
                wait = min(wait, outage.failed(error))
            except Exception:  # keep the thread alive whatever happens
                log.exception("projection runner: catch-up failed; retrying")
            self._wake.wait(wait)
        self.engine.store.close()
