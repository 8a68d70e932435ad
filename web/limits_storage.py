"""The `limits` storage of the write limits when there is no Redis: counters in a
SQLite file every web process of the deployment shares (projections/rate_counts.py),
under the scheme `sqlite-shared:///<path>`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from limits.storage import Storage

from domain.settings import Settings
from projections.rate_counts import SharedCounts

SCHEME = "sqlite-shared"


def storage_uri(settings: Settings) -> str:
    """Redis when the deployment has one; else the counter file beside the SQLite store
    (`<name>-limits.db`), or var/limits.db for a PostgreSQL store without Redis (the
    processes of one machine share it)."""
    if settings.redis_url:
        return settings.redis_url
    database = settings.database
    if database.backend == "sqlite":
        path = Path(database.path)
        counts = path.with_name(f"{path.stem}-limits.db")
    else:
        counts = Path("var") / "limits.db"
    return f"{SCHEME}:///{counts.resolve()}"


class SharedFileStorage(Storage):
    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.counts = SharedCounts((uri or "")[len(f"{SCHEME}://") :])

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return sqlite3.Error

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return self.counts.hit(key, expiry, amount)

    def get(self, key: str) -> int:
        return self.counts.count(key)

    def get_expiry(self, key: str) -> float:
        return self.counts.ends_at(key)

    def check(self) -> bool:
        try:
            return self.counts.ping()
        except sqlite3.Error:
            return False

    def reset(self) -> int | None:
        return self.counts.clear_all()

    def clear(self, key: str) -> None:
        self.counts.clear(key)
