"""The explicit set-up step, and opening the application on an existing store.

`initialise` (CLI `discuss init-db`) creates the event store's, the key table's and the
projections' tables: run once, never implicitly at process start (concurrent table
creation from several processes fails on PostgreSQL).

`open_application` builds the application with sealing on (domain/sealing.py): the
master key from DISCUSS_MASTER_KEY or, on the embedded default (SQLite), from the file
`master-key` beside the store, generated once by `init-db`. A missing or wrong master
key stops start-up with a clear error, before anything is written.
"""

from __future__ import annotations

import os
from pathlib import Path

from domain.application import Discussions
from domain.sealing import MasterKey, MasterKeyError, Sealer
from domain.settings import Database
from projections.keys import KeyStore, Opener, recorder_topic

MASTER_KEY_FILE = "master-key"


def _limits_env() -> dict[str, str]:
    names = {
        "TEXT_MAX_LENGTH": "DISCUSS_TEXT_MAX_LENGTH",
        "TEXT_MIN_LENGTH": "DISCUSS_TEXT_MIN_LENGTH",
    }
    return {key: os.environ[var] for key, var in names.items() if os.environ.get(var)}


def master_key_path(database: Database) -> Path | None:
    """Where the embedded default keeps its generated master key (None on PostgreSQL:
    several machines share that store, so the key must come from the environment)."""
    if database.backend != "sqlite":
        return None
    return Path(database.path).parent / MASTER_KEY_FILE


def load_master_key(database: Database, *, generate: bool = False) -> MasterKey:
    configured = os.environ.get("DISCUSS_MASTER_KEY")
    if configured:
        return MasterKey.from_text(configured)
    path = master_key_path(database)
    if path is None:
        raise MasterKeyError(
            "DISCUSS_MASTER_KEY is not set: a PostgreSQL store needs its master key in the"
            " environment. Make one with `discuss new-master-key` and keep it safe: without"
            " it nothing personal in the store can be read."
        )
    if generate and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process generated it first
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(MasterKey.generate_text())
    if not path.exists():
        raise MasterKeyError(
            f"no master key: DISCUSS_MASTER_KEY is not set and {path} does not exist"
            " (run `discuss init-db` once)"
        )
    return MasterKey.from_text(path.read_text())


def _library_env(database: Database, *, create_table: bool) -> dict[str, str]:
    return {
        **database.library_env(create_table=create_table),
        "APPLICATION_RECORDER_TOPIC": recorder_topic(database),
        **_limits_env(),
    }


def sealing_on() -> bool:
    """DISCUSS_SEAL_CONTENT=off stores new content in clear: only to measure what sealing
    costs (bench/), never for a site, since clear content cannot be forgotten."""
    return (os.environ.get("DISCUSS_SEAL_CONTENT") or "on").strip().lower() not in ("off", "0")


def open_application(database: Database) -> Discussions:
    """An application on an existing store (tables are not created here)."""
    master = load_master_key(database)
    sealer = Sealer(master) if sealing_on() else None
    app = Discussions(env=_library_env(database, create_table=False), sealer=sealer)
    try:
        keys = KeyStore(app.recorder)
        keys.check_master(master)
    except BaseException:
        app.close()
        raise
    app.vault = keys
    app.opener = Opener(keys, master)
    return app


def initialise(database: Database) -> None:
    master = load_master_key(database, generate=True)
    app = Discussions(env=_library_env(database, create_table=True))
    try:
        keys = KeyStore(app.recorder)
        keys.create_table()
        keys.check_master(master, create=True)
    finally:
        app.close()
    from projections.registry import create_projection_tables

    create_projection_tables(database)
