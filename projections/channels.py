"""Every outward channel of the product, and the outbox that drives them.

Kept apart from projections/registry.py on purpose: channels are not read models, so
`discuss rebuild` (which rebuilds what the registry lists) never resets their positions
and nothing is sent twice. Add a channel here (and its sender in workers/delivery.py).
"""

from __future__ import annotations

from typing import Any

from domain.settings import Database, Settings
from projections.db import ViewStore
from projections.engine import Engine
from projections.mail_channel import MailChannel
from projections.outbox import Channel, Outbox
from projections.webhook_channel import WebhookChannel


def all_channels(app: Any, settings: Settings, projections: Engine | None = None) -> list[Channel]:
    """`projections`: the read models' engine, for channels that look up recipients."""
    return [MailChannel(app, settings.digest_minutes, projections), WebhookChannel()]


def build_outbox(app: Any, settings: Settings | Database, projections: Engine) -> Outbox:
    """The outbox of `app`, sharing the projection engine's view store and decoded log."""
    settings = Settings.of(settings)
    engine = Engine(app, projections.store, all_channels(app, settings, projections))
    engine.log = engine.applier.log = projections.log  # read and decode the log once
    return Outbox(
        engine,
        max_attempts=settings.outbox_max_attempts,
        lease_seconds=settings.outbox_lease_seconds,
    )


def create_channel_tables(settings: Settings | Database) -> None:
    """The outbox and the channels' tracking rows (`init-db`); a new channel starts at
    the log's head."""
    from projections.setup import open_application

    settings = Settings.of(settings)
    app = open_application(settings)
    store = ViewStore(settings.database, connect_timeout=settings.pg_connect_timeout)
    try:
        Outbox(Engine(app, store, all_channels(app, settings))).create_tables()
    finally:
        store.close()
        app.close()
