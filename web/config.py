"""Web settings from environment variables, with embedded defaults (see README)."""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from domain.settings import Database


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on", "y")


SECRET_KEY_MODE = 0o600  # owner only: the key signs every cookie and CSRF token


def _secret_key(database: Database) -> str:
    """DISCUSS_SECRET_KEY, or one generated once and kept beside the SQLite store, so that
    every worker process of the embedded default signs cookies with the same key.

    The file is created owner-only (0600, whatever the umask) and exclusively: the first
    process to start wins, the others read what it wrote. A key file left group- or
    world-readable by an older version is narrowed to 0600 when it is read."""
    configured = os.environ.get("DISCUSS_SECRET_KEY")
    if configured:
        return configured
    folder = Path(database.path).parent if database.backend == "sqlite" else Path("var")
    path = folder / "secret-key"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, SECRET_KEY_MODE)
        except FileExistsError:
            pass  # another process won: read its key below
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    _owner_only(path)
    return _read_key(path)


def _owner_only(path: Path) -> None:
    try:
        if path.stat().st_mode & 0o077:
            path.chmod(SECRET_KEY_MODE)
    except OSError:
        pass  # not ours to change (another owner): it is still read


def _read_key(path: Path, wait: float = 2.0) -> str:
    """The key in `path`; waits briefly while the process that created the file has
    not written it yet (an empty key would sign with a different key per process)."""
    deadline = time.monotonic() + wait
    while True:
        key = path.read_text().strip()
        if key or time.monotonic() >= deadline:
            break
        time.sleep(0.01)
    if not key:
        raise RuntimeError(
            f"the secret key file {path} is empty: delete it or set DISCUSS_SECRET_KEY"
        )
    return key


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
