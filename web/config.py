"""The web's one setting derived from Settings (domain/settings.py): the secret key that
signs cookies and CSRF tokens. Every other web setting is read from Settings itself."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from domain.settings import Database, Settings

SECRET_KEY_MODE = 0o600  # owner only: the key signs every cookie and CSRF token


def secret_key(settings: Settings) -> str:
    """settings.secret_key (DISCUSS_SECRET_KEY), or one generated once and kept beside
    the SQLite store (var/ on PostgreSQL)."""
    return settings.secret_key or _secret_key(settings.database)


def _secret_key(database: Database) -> str:
    """The key generated once and kept beside the SQLite store, so that every worker
    process of the embedded default signs cookies with the same key.

    The file is created owner-only (0600, whatever the umask) and exclusively: the first
    process to start wins, the others read what it wrote. A key file left group- or
    world-readable by an older version is narrowed to 0600 when it is read."""
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
