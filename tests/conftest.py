"""Shared fixtures: a fresh event store per test on SQLite and on PostgreSQL.

PostgreSQL (127.0.0.1:5432, user postgres, trust auth) and Redis (127.0.0.1:6379)
are real services here and in CI; tests that need them fail loudly if they are
down rather than skip. Each PostgreSQL test gets its own database so that tests
(and parallel runs) never see each other's events.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.sealing import MasterKey
from domain.settings import Database
from projections.setup import initialise, open_application
from tests.support.databases import new_pg_database

REDIS_URL = os.environ.get("DISCUSS_TEST_REDIS", "redis://127.0.0.1:6379/0")
# One master key for the session's stores (PostgreSQL needs it in the environment; the
# processes tests start inherit it). tests/integration/test_sealing.py covers the file
# generated beside an SQLite store when it is not set.
os.environ.setdefault("DISCUSS_MASTER_KEY", MasterKey.generate_text())
# The shipped moderation rules hold a new author's first comment (issue 13): tests of
# everything else post as new authors, so the rules are off unless a test turns them on
# (tests/api/test_moderation*.py, tests/browser/test_moderation.py).
os.environ.setdefault("DISCUSS_RULES", "off")
SEED_FILE = Path(__file__).resolve().parents[1] / "workers" / "data" / "seed-thread.json"


@pytest.fixture
def pg_database() -> Iterator[Database]:
    """A new, initialised PostgreSQL database, dropped after the test."""
    with new_pg_database() as database:
        yield database


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Database:
    database = Database.from_url(f"sqlite:///{tmp_path}/discuss.db")
    initialise(database)
    return database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request) -> Database:
    """Parametrised: the same test runs on SQLite and on PostgreSQL."""
    fixture = {"sqlite": "sqlite_database", "postgres": "pg_database"}[request.param]
    return request.getfixturevalue(fixture)


@pytest.fixture
def sqlite_app(sqlite_database: Database):
    application = open_application(sqlite_database)
    yield application
    application.close()


@pytest.fixture
def app(database: Database):
    application = open_application(database)
    yield application
    application.close()
