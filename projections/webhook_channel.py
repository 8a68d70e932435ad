"""The webhook channel of the outbox (projections/outbox.py): which endpoints each event
of a thread goes to, queued exactly once per (event position, endpoint).

The channel keeps its endpoints in `webhook_endpoints`, written from the endpoints' own
events (domain/webhooks.py) in the same transaction as the outbox rows and the channel's
position: an endpoint gets the events after the one that registered it, none after the
one that disabled it, whatever pages the log is read in. Like the outbox, the table is
never dropped by a rebuild (channels are not read models).

Rows carry ids only; the sender (workers/webhooks.py) builds the payload at send time,
through the visibility policy (projections/webhooks.py, payload).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from domain.model import Comment, Thread
from domain.webhooks import WebhookEndpoint
from projections.db import Sql
from projections.engine import HandlerError, Tables
from projections.live_events import event_name
from projections.outbox import OUTBOX_DDL, Channel, Delivery

WEBHOOKS = "webhooks"
ENDPOINTS_DDL = """CREATE TABLE IF NOT EXISTS webhook_endpoints (
    endpoint_id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    allow_private INTEGER NOT NULL,
    enabled INTEGER NOT NULL,
    disabled_reason TEXT,
    registered_position BIGINT NOT NULL,
    changed_position BIGINT NOT NULL)"""
# Kept by the sender: consecutive failures, for disabling an endpoint that keeps failing.
HEALTH_DDL = """CREATE TABLE IF NOT EXISTS webhook_health (
    endpoint_id TEXT PRIMARY KEY,
    failures INTEGER NOT NULL DEFAULT 0,
    last_status TEXT,
    last_at TEXT)"""


class WebhookChannel(Channel):
    name = WEBHOOKS
    ddl: ClassVar[dict[str, str]] = {
        "outbox": OUTBOX_DDL[0],
        "endpoints": ENDPOINTS_DDL,
        "health": HEALTH_DDL,
    }

    def apply_page(self, sql: Sql, t: Tables, events: Sequence[tuple[int, Any]]) -> None:
        self._sql = sql  # deliveries() reads the endpoints as this page has left them
        try:
            super().apply_page(sql, t, events)
        finally:
            self._sql = None

    def deliveries(self, event: Any, position: int) -> Iterable[Delivery]:
        if isinstance(event, WebhookEndpoint.Event):
            self._endpoint_changed(event, position)
            return []
        if not isinstance(event, (Comment.Event, Thread.Event)):
            return []
        kind = event_name(type(event).__qualname__)
        payload = {"kind": kind, "at": event.timestamp.isoformat()}
        if isinstance(event, Comment.Event):
            payload["comment_id"] = str(event.originator_id)
            payload["thread_id"] = str(event.thread_id)
        else:
            payload["thread_id"] = str(event.originator_id)
        return [
            Delivery(row["endpoint_id"], kind, payload)
            for row in self._sql.execute(
                "SELECT endpoint_id, events FROM webhook_endpoints WHERE enabled = 1"
            ).all()
            if kind in json.loads(row["events"])
        ]

    def _endpoint_changed(self, event: Any, position: int) -> None:
        sql, endpoint_id = self._sql, str(event.originator_id)
        try:
            if isinstance(event, WebhookEndpoint.Registered):
                sql.execute(
                    "INSERT INTO webhook_endpoints (endpoint_id, url, events, secret,"
                    " allow_private, enabled, registered_position, changed_position)"
                    " VALUES (?, ?, ?, ?, ?, 1, ?, ?)"
                    " ON CONFLICT (endpoint_id) DO NOTHING",
                    (
                        endpoint_id,
                        event.url,
                        json.dumps(list(event.events)),
                        event.secret,
                        1 if event.allow_private else 0,
                        position,
                        position,
                    ),
                )
            elif isinstance(event, WebhookEndpoint.Disabled):
                sql.execute(
                    "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ?,"
                    " changed_position = ? WHERE endpoint_id = ?",
                    (event.reason, position, endpoint_id),
                )
            elif isinstance(event, WebhookEndpoint.Enabled):
                sql.execute(
                    "UPDATE webhook_endpoints SET enabled = 1, disabled_reason = NULL,"
                    " changed_position = ? WHERE endpoint_id = ?",
                    (position, endpoint_id),
                )
                sql.execute(
                    "UPDATE webhook_health SET failures = 0 WHERE endpoint_id = ?", (endpoint_id,)
                )
        except Exception as error:
            raise HandlerError(position, error) from error
