"""The in-process runner of the embedded default: a daemon thread that keeps every
projection caught up, polling the log (SQLite's recorder cannot subscribe) and
woken at once by `nudge()` after a local write.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable

from projections.engine import Engine

log = logging.getLogger(__name__)

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
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.run_once()
            except Exception:  # keep the thread alive: the store may be briefly unreachable
                log.exception("projection runner: catch-up failed; retrying")
            self._wake.wait(self.interval)
        self.engine.store.close()
