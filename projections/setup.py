"""The explicit set-up step, and opening the application on an existing store.

`initialise` (CLI `discuss init-db`) creates the event store's, the key table's and the
projections' tables: run once, never implicitly at process start (concurrent table
creation from several processes fails on PostgreSQL).

`open_application` builds the application with sealing on (domain/sealing.py): the
master key from the settings (DISCUSS_MASTER_KEY) or, on the embedded default (SQLite),
from the file `master-key` beside the store, generated once by `init-db`. A missing or
wrong master key stops start-up with a clear error, before anything is written.

Each takes the process's Settings (domain/settings.py); a bare Database takes the
other settings from the environment (tests, benchmarks).
"""

from __future__ import annotations

import os
from pathlib import Path

from domain.application import Discussions
from domain.links import LinkSigner
from domain.sealing import MasterKey, MasterKeyError, Sealer
from domain.settings import Database, Settings
from projections.keys import KeyStore, Opener, recorder_topic

MASTER_KEY_FILE = "master-key"


def master_key_path(database: Database) -> Path | None:
    """Where the embedded default keeps its generated master key (None on PostgreSQL:
    several machines share that store, so the key must come from the environment)."""
    if database.backend != "sqlite":
        return None
    return Path(database.path).parent / MASTER_KEY_FILE


def load_master_key(settings: Settings | Database, *, generate: bool = False) -> MasterKey:
    settings = Settings.of(settings)
    if settings.master_key:
        return MasterKey.from_text(settings.master_key)
    path = master_key_path(settings.database)
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


def _library_env(settings: Settings, *, create_table: bool) -> dict[str, str]:
    database = settings.database
    return {
        **database.library_env(
            create_table=create_table, connect_timeout=settings.pg_connect_timeout
        ),
        "APPLICATION_RECORDER_TOPIC": recorder_topic(database),
        "TEXT_MAX_LENGTH": str(settings.text_max_length),
        "TEXT_MIN_LENGTH": str(settings.text_min_length),
    }


def open_application(settings: Settings | Database) -> Discussions:
    """An application on an existing store (tables are not created here).

    settings.seal_content False (DISCUSS_SEAL_CONTENT=off) stores new content in clear:
    only to measure what sealing costs (bench/), never for a site, since clear content
    cannot be forgotten."""
    settings = Settings.of(settings)
    master = load_master_key(settings)
    sealer = Sealer(master) if settings.seal_content else None
    app = Discussions(env=_library_env(settings, create_table=False), sealer=sealer)
    try:
        keys = KeyStore(app.recorder)
        keys.check_master(master)
    except BaseException:
        app.close()
        raise
    app.vault = keys
    app.opener = Opener(keys, master)
    app.links = LinkSigner(master.derive(b"links"))  # emailed links (domain/links.py)
    return app


def initialise(settings: Settings | Database) -> None:
    settings = Settings.of(settings)
    master = load_master_key(settings, generate=True)
    app = Discussions(env=_library_env(settings, create_table=True))
    try:
        keys = KeyStore(app.recorder)
        keys.create_table()
        keys.check_master(master, create=True)
    finally:
        app.close()
    from projections.registry import create_projection_tables

    create_projection_tables(settings)
    from projections.channels import create_channel_tables

    create_channel_tables(settings)
