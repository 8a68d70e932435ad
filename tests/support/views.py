"""Small helpers for tests of the projections."""

from __future__ import annotations

from domain.settings import Database
from projections.engine import Engine
from projections.registry import build_engine
from projections.setup import open_application

# The projections these tests check; others (audit, chain, ...) have their own tests.
MINE = ("threads", "revisions", "authors")


def catch_up(engine: Engine, names=MINE, **kwargs) -> int:
    return sum(engine.catch_up(name, **kwargs) for name in names)


def fresh_engine(database: Database) -> Engine:
    """A new application and engine on a database (own connections)."""
    return build_engine(open_application(database), database)


def close(engine: Engine) -> None:
    engine.store.close()
    engine.app.close()
