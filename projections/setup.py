"""The explicit set-up step: create the event store's and the projections' tables.

Run once (CLI `discuss init-db`), never implicitly at process start: concurrent
table creation from several processes fails on PostgreSQL.
"""

from domain.application import Discussions
from domain.settings import Database


def open_application(database: Database) -> Discussions:
    """An application on an existing store (tables are not created here)."""
    return Discussions(env=database.library_env(create_table=False))


def initialise(database: Database) -> None:
    app = Discussions(env=database.library_env(create_table=True))
    app.close()
    from projections.registry import create_projection_tables

    create_projection_tables(database)
