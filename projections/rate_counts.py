"""Counters of the web's write limits in one SQLite file, shared by every process of a
deployment without Redis (the embedded default): gunicorn's workers each count into
the same rows, so a budget of N writes a minute is N, not N per process.

Fixed windows (flask-limiter's default strategy): a key's count and the moment its
window ends. One statement per hit (an UPSERT that starts a new window when the old
one has ended), in WAL mode with synchronous=OFF: counters need no durability, a
crash at most forgets a minute of counts. Why our own: the `limits` library ships
memory, Redis, Memcached, MongoDB and etcd storages, none of them a file that
processes on one machine can share.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

SWEEP_EVERY = 1000  # hits between deletions of ended windows

_SCHEMA = """CREATE TABLE IF NOT EXISTS rate_counts (
    key TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    ends_at REAL NOT NULL)"""
_HIT = """INSERT INTO rate_counts (key, count, ends_at) VALUES (?, ?, ?)
    ON CONFLICT(key) DO UPDATE SET
        count = CASE WHEN ends_at <= ? THEN excluded.count ELSE count + excluded.count END,
        ends_at = CASE WHEN ends_at <= ? THEN excluded.ends_at ELSE ends_at END
    RETURNING count"""


class SharedCounts:
    """The counter table at `path`; one connection per process (opened after a fork),
    used under a lock by the process's threads."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._hits = 0

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute(_SCHEMA)
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def hit(self, key: str, window: float, amount: int = 1) -> int:
        """Count `amount` against `key`; the count of its current window."""
        now = time.time()
        with self._lock:
            conn = self._connection()
            (count,) = conn.execute(_HIT, (key, amount, now + window, now, now)).fetchone()
            self._hits += 1
            if self._hits % SWEEP_EVERY == 0:
                conn.execute("DELETE FROM rate_counts WHERE ends_at <= ?", (now,))
        return count

    def _row(self, key: str) -> tuple[int, float] | None:
        with self._lock:
            row = (
                self._connection()
                .execute("SELECT count, ends_at FROM rate_counts WHERE key = ?", (key,))
                .fetchone()
            )
        return row if row and row[1] > time.time() else None

    def count(self, key: str) -> int:
        row = self._row(key)
        return row[0] if row else 0

    def ends_at(self, key: str) -> float:
        row = self._row(key)
        return row[1] if row else time.time()

    def clear(self, key: str) -> None:
        with self._lock:
            self._connection().execute("DELETE FROM rate_counts WHERE key = ?", (key,))

    def clear_all(self) -> int:
        with self._lock:
            return self._connection().execute("DELETE FROM rate_counts").rowcount

    def ping(self) -> bool:
        with self._lock:
            self._connection().execute("SELECT 1").fetchone()
        return True
