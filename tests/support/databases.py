"""Fresh, initialised databases for fixtures of any scope (conftest's are per test),
and for the benchmarks (bench/common.py), which name their own admin URL and prefix."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from domain.settings import Database
from projections.setup import initialise

PG_ADMIN_URL = os.environ.get("DISCUSS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextmanager
def new_pg_database(
    initialised: bool = True, *, admin_url: str = PG_ADMIN_URL, prefix: str = "discuss_test"
) -> Iterator[Database]:
    """A new PostgreSQL database (initialised unless told not), dropped WITH FORCE after."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        database = Database.from_url(f"{admin_url.rsplit('/', 1)[0]}/{name}")
        if initialised:
            initialise(database)
        yield database
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def new_sqlite_database(directory: Path, initialised: bool = True) -> Iterator[Database]:
    path = Path(directory) / f"discuss-{uuid.uuid4().hex[:8]}.db"
    database = Database.from_url(f"sqlite:///{path}")
    if initialised:
        initialise(database)
    yield database


@contextmanager
def new_database(backend: str, directory: Path, initialised: bool = True) -> Iterator[Database]:
    if backend == "postgres":
        with new_pg_database(initialised) as database:
            yield database
    else:
        with new_sqlite_database(directory, initialised) as database:
            yield database
