"""Riding out an outage of Redis or PostgreSQL: back off between attempts and say so
once per outage (and once when it ends), not once per attempt.

Used by the RQ worker (workers/rq_worker.py), the embedded runner and the sweeper
(workers/runner.py), and the enqueue breaker (workers/jobs.py)."""

from __future__ import annotations

import logging
import sqlite3
import time

import psycopg
import redis
from eventsourcing import persistence

# What "the dependency is unreachable right now" looks like (a bug is anything else).
REDIS_ERRORS: tuple[type[Exception], ...] = (redis.ConnectionError, redis.TimeoutError)
STORE_ERRORS: tuple[type[Exception], ...] = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    sqlite3.OperationalError,
    persistence.OperationalError,
    persistence.InterfaceError,
)
TRANSIENT = REDIS_ERRORS + STORE_ERRORS


class Outage:
    """One dependency's state as seen by one loop: `failed()` returns how long to wait
    before the next attempt (doubling from `first` up to `cap`) and logs the first
    failure of an outage; `recovered()` logs its end once."""

    def __init__(self, what: str, log: logging.Logger, first: float = 0.1, cap: float = 1.0):
        self.what = what
        self.log = log
        self.first = first
        self.cap = cap
        self.since: float | None = None
        self._delay = first

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, error: BaseException) -> float:
        if self.since is None:
            self.since = time.monotonic()
            self._delay = self.first
            self.log.warning(
                "%s is unreachable (%s: %s); retrying until it is back",
                self.what,
                type(error).__name__,
                str(error).strip().splitlines()[0] if str(error).strip() else "",
            )
        delay = self._delay
        self._delay = min(self.cap, self._delay * 2)
        return delay

    def recovered(self) -> None:
        if self.since is not None:
            gone = time.monotonic() - self.since
            self.log.warning("%s is reachable again after %.1fs", self.what, gone)
            self.since = None
            self._delay = self.first
