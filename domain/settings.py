"""Every setting of the product, read from the environment once per process.

Each entry point (web/wsgi.py and web's create_app, the RQ worker class and its jobs,
the `discuss` command line) calls `Settings.from_env()` once and passes the result
down; no other module reads the environment. The variables, their embedded defaults
and their meanings are listed in the README (Configuration) and mirrored by
`Settings.from_env`, the one place that parses them.

`Database` is where the event store and the read models live (DISCUSS_DATABASE_URL:
`sqlite:///path/to/file.db` or `postgresql://user[:password]@host[:port]/dbname`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

DEFAULT_DATABASE_URL = "sqlite:///var/discuss.db"
DEFAULT_QUEUE = "projections"
DEFAULT_PG_CONNECT_TIMEOUT = 5  # seconds; gunicorn's default is 2 (web/wsgi.py)
DEFAULT_CHECKPOINT_EVERY = 100
DEFAULT_TEXT_MAX_LENGTH = 20_000
DEFAULT_TEXT_MIN_LENGTH = 1
HISTORY_POLICIES = ("public", "restricted")


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

    def library_env(
        self, *, create_table: bool = False, connect_timeout: int = DEFAULT_PG_CONNECT_TIMEOUT
    ) -> dict[str, str]:
        """The eventsourcing library's settings for this database: `connect_timeout` is
        how long to wait for a PostgreSQL connection (the library tries 10 times, so
        this bounds how long a stopped database blocks a caller)."""
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
                POSTGRES_CONNECT_TIMEOUT=str(connect_timeout),
                # Kept off on purpose: with it on, a reader following the log missed
                # events committed out of order. The table lock keeps commit order.
                POSTGRES_ENABLE_DB_FUNCTIONS="n",
            )
        return env


def _flag(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on", "y")


def _switch(value: str) -> bool:
    """On unless 'off' or '0' (DISCUSS_SEAL_CONTENT)."""
    return value.strip().lower() not in ("off", "0")


def _origins(value: str) -> tuple[str, ...]:
    return tuple(origin.strip() for origin in value.split(",") if origin.strip())


@dataclass(frozen=True)
class Settings:
    """Every DISCUSS_* value (README, Configuration), with its embedded default.

    Frozen and hashable: the bootstrap keys its per-process objects by it."""

    database: Database = field(default_factory=lambda: Database.from_url(DEFAULT_DATABASE_URL))
    # Scaling out: writes enqueue catch-up jobs on this Redis and queue.
    redis_url: str | None = None
    queue: str = DEFAULT_QUEUE
    # The projection runner thread inside each web process (on when no Redis).
    embedded_runner: bool = True
    # Signs cookies and CSRF tokens; None: generated once into a file (web/config.py).
    secret_key: str | None = field(default=None, repr=False)
    # Wraps the data keys that seal personal content; None: the file beside a SQLite
    # store (projections/setup.py), required on PostgreSQL.
    master_key: str | None = field(default=None, repr=False)
    seal_content: bool = True  # False only to measure what sealing costs (bench/)
    open_registration: bool = True
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = 64 * 1024
    write_rate_limit: str = "30 per minute"
    read_wait_seconds: float = 5.0
    history_policy: str = "public"  # or "restricted": the author and moderators only
    pg_connect_timeout: int = DEFAULT_PG_CONNECT_TIMEOUT
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY  # time travel: every K events
    text_max_length: int = DEFAULT_TEXT_MAX_LENGTH
    text_min_length: int = DEFAULT_TEXT_MIN_LENGTH
    # Moderation rules (issue 13): "default" (domain/data/default-rules.toml), "off",
    # or the path of a TOML rule file.
    rules: str = "default"

    # Live updates (Server-Sent Events): open streams per process (beyond: 503), the
    # seconds between heartbeats, and between polls of the projections' position.
    stream_max: int = 2
    stream_heartbeat_seconds: float = 15.0
    stream_poll_seconds: float = 0.1
    # Email and the outbox (projections/outbox.py, workers/mail.py): the SMTP server
    # (smtp://, smtp+starttls://, smtps://, user:password@ allowed); unset: no mail.
    smtp_url: str | None = field(default=None, repr=False)
    mail_from: str = "discuss <discuss@localhost>"
    public_url: str = "http://127.0.0.1:8000"  # the site's address, for links in mail
    outbox_max_attempts: int = 8  # tries before a delivery is dead-lettered
    digest_minutes: int = 60  # a digest gathers replies this long
    outbox_lease_seconds: float = 60.0  # a claimed delivery is retried after this
    # Webhooks (workers/webhooks.py): seconds to connect and to read, whether loopback
    # and private addresses may be reached, failures in a row before an endpoint is
    # disabled (0: never).
    webhook_timeout_seconds: float = 5.0
    webhook_allow_private: bool = False
    webhook_disable_after: int = 20

    # Concurrent writes of a process share one transaction (domain/group_commit.py);
    # off only to measure what it gains (bench/).
    group_commit: bool = True

    # Access tokens stop signing in this many days after their issue (0: never).
    token_ttl_days: float = 365.0
    # Reverse proxies in front of the web whose X-Forwarded-For/-Proto are trusted.
    trusted_proxies: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "cors_origins", tuple(self.cors_origins))
        if self.history_policy not in HISTORY_POLICIES:
            raise ValueError("DISCUSS_HISTORY_POLICY must be 'public' or 'restricted'")
        if self.trusted_proxies < 0 or self.token_ttl_days < 0:
            raise ValueError("DISCUSS_TRUSTED_PROXIES and DISCUSS_TOKEN_TTL_DAYS must be >= 0")

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        defaults: Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> Settings:
        """The settings of this process: `environ` (default: os.environ), where an unset
        or empty variable takes its entry of `defaults` (by field name) or else the
        embedded default; then `overrides` (by field name) replace any value.

        `defaults` is for an entry point's own default that the environment may still
        change (gunicorn's connect timeout, web/wsgi.py); `overrides` for tests."""
        env = os.environ if environ is None else environ
        unknown = set(overrides) | set(defaults or ())
        unknown -= {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        embedded = {f.name: _default_of(f) for f in fields(cls) if f.name != "embedded_runner"}
        embedded.update(defaults or {})

        def read(name: str, variable: str, parse=str) -> Any:
            if name in overrides:
                return overrides[name]
            value = env.get(variable) or ""
            return parse(value) if value else embedded[name]

        redis_url = read("redis_url", "DISCUSS_REDIS_URL")
        # Without Redis, the web process keeps the projections up to date itself.
        embedded.setdefault("embedded_runner", redis_url is None)
        return cls(
            database=read("database", "DISCUSS_DATABASE_URL", Database.from_url),
            redis_url=redis_url,
            queue=read("queue", "DISCUSS_QUEUE"),
            embedded_runner=read("embedded_runner", "DISCUSS_EMBEDDED_RUNNER", _flag),
            secret_key=read("secret_key", "DISCUSS_SECRET_KEY"),
            master_key=read("master_key", "DISCUSS_MASTER_KEY"),
            seal_content=read("seal_content", "DISCUSS_SEAL_CONTENT", _switch),
            open_registration=read("open_registration", "DISCUSS_OPEN_REGISTRATION", _flag),
            cors_origins=read("cors_origins", "DISCUSS_CORS_ORIGINS", _origins),
            max_body_bytes=read("max_body_bytes", "DISCUSS_MAX_BODY_BYTES", int),
            write_rate_limit=read("write_rate_limit", "DISCUSS_WRITE_RATE_LIMIT"),
            read_wait_seconds=read("read_wait_seconds", "DISCUSS_READ_WAIT_SECONDS", float),
            history_policy=read("history_policy", "DISCUSS_HISTORY_POLICY"),
            pg_connect_timeout=read("pg_connect_timeout", "DISCUSS_PG_CONNECT_TIMEOUT", int),
            checkpoint_every=read("checkpoint_every", "DISCUSS_CHECKPOINT_EVERY", int),
            text_max_length=read("text_max_length", "DISCUSS_TEXT_MAX_LENGTH", int),
            text_min_length=read("text_min_length", "DISCUSS_TEXT_MIN_LENGTH", int),
            rules=read("rules", "DISCUSS_RULES"),
            stream_max=read("stream_max", "DISCUSS_STREAM_MAX", int),
            stream_heartbeat_seconds=read(
                "stream_heartbeat_seconds", "DISCUSS_STREAM_HEARTBEAT_SECONDS", float
            ),
            stream_poll_seconds=read("stream_poll_seconds", "DISCUSS_STREAM_POLL_SECONDS", float),
            smtp_url=read("smtp_url", "DISCUSS_SMTP_URL"),
            mail_from=read("mail_from", "DISCUSS_MAIL_FROM"),
            public_url=read("public_url", "DISCUSS_PUBLIC_URL").rstrip("/"),
            outbox_max_attempts=read("outbox_max_attempts", "DISCUSS_OUTBOX_MAX_ATTEMPTS", int),
            digest_minutes=read("digest_minutes", "DISCUSS_DIGEST_MINUTES", int),
            outbox_lease_seconds=read(
                "outbox_lease_seconds", "DISCUSS_OUTBOX_LEASE_SECONDS", float
            ),
            group_commit=read("group_commit", "DISCUSS_GROUP_COMMIT", _switch),
            token_ttl_days=read("token_ttl_days", "DISCUSS_TOKEN_TTL_DAYS", float),
            trusted_proxies=read("trusted_proxies", "DISCUSS_TRUSTED_PROXIES", int),
            webhook_timeout_seconds=read(
                "webhook_timeout_seconds", "DISCUSS_WEBHOOK_TIMEOUT_SECONDS", float
            ),
            webhook_allow_private=read(
                "webhook_allow_private", "DISCUSS_WEBHOOK_ALLOW_PRIVATE", _flag
            ),
            webhook_disable_after=read(
                "webhook_disable_after", "DISCUSS_WEBHOOK_DISABLE_AFTER", int
            ),
        )

    @classmethod
    def of(cls, given: Settings | Database) -> Settings:
        """`given`, or for a bare Database (tests, benchmarks, scripts) the settings of
        the environment on that database. Entry points always pass their Settings."""
        return given if isinstance(given, Settings) else cls.from_env(database=given)


def _default_of(f: Field) -> Any:
    return f.default if f.default_factory is MISSING else f.default_factory()
