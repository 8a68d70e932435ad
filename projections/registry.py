"""Every projection of the product, and the engine that drives them."""

from __future__ import annotations

from domain.application import Discussions
from domain.settings import Database
from projections.audit_log import AuditLog
from projections.author_activity import AuthorActivity
from projections.db import ViewStore
from projections.decisions import Decisions
from projections.engine import Engine, Projection
from projections.hash_chain import HashChain
from projections.revisions import Revisions
from projections.thread_view import ThreadView
from projections.time_travel import TimeTravel


def all_projections() -> list[Projection]:
    return [
        ThreadView(),
        Revisions(),
        AuthorActivity(),
        AuditLog(),
        HashChain(),
        TimeTravel(),
        Decisions(),
    ]


def build_engine(app: Discussions, database: Database) -> Engine:
    return Engine(app, ViewStore(database), all_projections())


def create_projection_tables(database: Database) -> None:
    store = ViewStore(database)
    try:
        Engine(None, store, all_projections()).create_tables()
    finally:
        store.close()
