"""The explicit set-up step: create the event store's and the projections' tables.

Run once (CLI `discuss init-db`), never implicitly at process start: concurrent
table creation from several processes fails on PostgreSQL.
"""

import os

from domain.application import Discussions
from domain.settings import Database


def _limits_env() -> dict[str, str]:
    names = {
        "TEXT_MAX_LENGTH": "DISCUSS_TEXT_MAX_LENGTH",
        "TEXT_MIN_LENGTH": "DISCUSS_TEXT_MIN_LENGTH",
    }
    return {key: os.environ[var] for key, var in names.items() if os.environ.get(var)}


def open_application(database: Database) -> Discussions:
    """An application on an existing store (tables are not created here)."""
    return Discussions(env={**database.library_env(create_table=False), **_limits_env()})


def initialise(database: Database) -> None:
    app = Discussions(env=database.library_env(create_table=True))
    app.close()
    from projections.registry import create_projection_tables

    create_projection_tables(database)
