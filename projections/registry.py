"""Every projection of the product, and the engine that drives them."""

from __future__ import annotations

from domain.application import Discussions
from domain.settings import DEFAULT_CHECKPOINT_EVERY, Database, Settings
from projections.audit_log import AuditLog
from projections.author_activity import AuthorActivity
from projections.db import ViewStore
from projections.decisions import Decisions
from projections.email_addresses import EmailAddresses
from projections.engine import Engine, Projection
from projections.hash_chain import HashChain
from projections.moderation import Moderation
from projections.replies import Replies
from projections.revisions import Revisions
from projections.thread_view import ThreadView
from projections.time_travel import TimeTravel


def all_projections(checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY) -> list[Projection]:
    return [
        ThreadView(),
        Revisions(),
        AuthorActivity(),
        AuditLog(),
        HashChain(),
        TimeTravel(checkpoint_every),
        Decisions(),
        Moderation(),
        Replies(),
        EmailAddresses(),
    ]


def _view_store(settings: Settings) -> ViewStore:
    return ViewStore(settings.database, connect_timeout=settings.pg_connect_timeout)


def build_engine(app: Discussions, settings: Settings | Database) -> Engine:
    """The engine of every projection (a bare Database: settings from the environment)."""
    settings = Settings.of(settings)
    return Engine(app, _view_store(settings), all_projections(settings.checkpoint_every))


def create_projection_tables(settings: Settings | Database) -> None:
    settings = Settings.of(settings)
    store = _view_store(settings)
    try:
        Engine(None, store, all_projections(settings.checkpoint_every)).create_tables()
    finally:
        store.close()
