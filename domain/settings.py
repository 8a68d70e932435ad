"""Where the event store lives, from environment variables with embedded defaults.

DISCUSS_DATABASE_URL: `sqlite:///path/to/file.db` (default `sqlite:///var/discuss.db`)
or `postgresql://user[:password]@host[:port]/dbname`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

DEFAULT_DATABASE_URL = "sqlite:///var/discuss.db"


def connect_timeout() -> str:
    """Seconds to wait for a PostgreSQL connection (DISCUSS_PG_CONNECT_TIMEOUT, default 5):
    the library tries 10 times, so this bounds how long a stopped database blocks a caller."""
    return os.environ.get("DISCUSS_PG_CONNECT_TIMEOUT") or "5"


@dataclass(frozen=True)
class Database:
    url: str
    backend: str  # "sqlite" or "postgres"
    path: str | None = None
    host: str | None = None
    port: int = 5432
    user: str | None = None
    password: str | None = None
    dbname: str | None = None

    @classmethod
    def from_url(cls, url: str) -> Database:
        parsed = urlparse(url)
        if parsed.scheme == "sqlite":
            # sqlite:///relative/path or sqlite:////absolute/path
            path = url[len("sqlite:///") :]
            if not path:
                raise ValueError(f"no file path in DISCUSS_DATABASE_URL {url!r}")
            return cls(url=url, backend="sqlite", path=path)
        if parsed.scheme in ("postgres", "postgresql"):
            return cls(
                url=url,
                backend="postgres",
                host=parsed.hostname or "127.0.0.1",
                port=parsed.port or 5432,
                user=unquote(parsed.username or "postgres"),
                password=unquote(parsed.password or ""),
                dbname=(parsed.path or "/").lstrip("/") or "discuss",
            )
        raise ValueError(
            f"DISCUSS_DATABASE_URL must start with sqlite:/// or postgresql://, got {url!r}"
        )

    @classmethod
    def from_env(cls) -> Database:
        return cls.from_url(os.environ.get("DISCUSS_DATABASE_URL", DEFAULT_DATABASE_URL))

    def library_env(self, *, create_table: bool = False) -> dict[str, str]:
        """The eventsourcing library's settings for this database."""
        env = {"CREATE_TABLE": "y" if create_table else "n"}
        if self.backend == "sqlite":
            if create_table:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            env.update(
                PERSISTENCE_MODULE="eventsourcing.sqlite",
                SQLITE_DBNAME=self.path,
                SQLITE_LOCK_TIMEOUT="30",
            )
        else:
            env.update(
                PERSISTENCE_MODULE="eventsourcing.postgres",
                POSTGRES_DBNAME=self.dbname,
                POSTGRES_HOST=self.host,
                POSTGRES_PORT=str(self.port),
                POSTGRES_USER=self.user,
                POSTGRES_PASSWORD=self.password or "",
                POSTGRES_POOL_SIZE="5",
                POSTGRES_MAX_OVERFLOW="10",
                POSTGRES_CONN_MAX_AGE="300",
                POSTGRES_PRE_PING="y",
                POSTGRES_CONNECT_TIMEOUT=connect_timeout(),
                # Kept off on purpose: with it on, a reader following the log missed
                # events committed out of order. The table lock keeps commit order.
                POSTGRES_ENABLE_DB_FUNCTIONS="n",
            )
        return env
