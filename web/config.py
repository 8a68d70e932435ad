"""Web settings from environment variables, with embedded defaults (see README)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from domain.settings import Database


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on", "y")


def _secret_key(database: Database) -> str:
    """DISCUSS_SECRET_KEY, or one generated once and kept beside the SQLite store, so that
    every worker process of the embedded default signs cookies with the same key."""
    configured = os.environ.get("DISCUSS_SECRET_KEY")
    if configured:
        return configured
    folder = Path(database.path).parent if database.backend == "sqlite" else Path("var")
    path = folder / "secret-key"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        try:
            with open(path, "x") as handle:  # "x": the first process to start wins
                handle.write(secrets.token_hex(32))
        except FileExistsError:
            pass
    return path.read_text().strip()


@dataclass(frozen=True)
class WebConfig:
    database: Database
    redis_url: str | None
    secret_key: str
    open_registration: bool = True
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = 64 * 1024
    write_rate_limit: str = "30 per minute"
    read_wait_seconds: float = 5.0
    history_policy: str = "public"  # or "restricted": the author and moderators only
    embedded_runner: bool = True
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, **overrides) -> WebConfig:
        database = overrides.pop("database", None) or Database.from_env()
        redis_url = os.environ.get("DISCUSS_REDIS_URL") or None
        origins = os.environ.get("DISCUSS_CORS_ORIGINS", "")
        values = dict(
            database=database,
            redis_url=redis_url,
            secret_key=_secret_key(database),
            open_registration=_flag("DISCUSS_OPEN_REGISTRATION", True),
            cors_origins=tuple(o.strip() for o in origins.split(",") if o.strip()),
            max_body_bytes=int(os.environ.get("DISCUSS_MAX_BODY_BYTES") or 64 * 1024),
            write_rate_limit=os.environ.get("DISCUSS_WRITE_RATE_LIMIT") or "30 per minute",
            read_wait_seconds=float(os.environ.get("DISCUSS_READ_WAIT_SECONDS") or 5.0),
            history_policy=os.environ.get("DISCUSS_HISTORY_POLICY") or "public",
            # Without Redis, the web process keeps the projections up to date itself.
            embedded_runner=_flag("DISCUSS_EMBEDDED_RUNNER", redis_url is None),
        )
        values.update(overrides)
        if values["history_policy"] not in ("public", "restricted"):
            raise ValueError("DISCUSS_HISTORY_POLICY must be 'public' or 'restricted'")
        return cls(**values)
