"""Named queries of the webhooks: endpoints, their delivery log, redelivery from a
position, the sender's bookkeeping (failures in a row, order per endpoint), and the
payload of one delivery, built at send time through the one visibility policy.

The payload shows a comment as a thread page shows it to a reader who is not signed in
(projections/queries.py, comments_as_seen), decided when it is sent: a comment hidden,
retracted or erased since the event goes out without its text or author, and a
redelivery of an old event never brings back what is withheld today.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from projections import queries
from projections.db import ViewStore
from projections.engine import Engine
from projections.webhook_channel import WEBHOOKS

ENDPOINT_COLUMNS = (
    "e.endpoint_id, e.url, e.events, e.allow_private, e.enabled, e.disabled_reason,"
    " e.registered_position, h.failures, h.last_status, h.last_at"
)


def _endpoint(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["endpoint_id"],
        "url": row["url"],
        "events": json.loads(row["events"]),
        "allow_private": bool(row["allow_private"]),
        "enabled": bool(row["enabled"]),
        "disabled_reason": row["disabled_reason"],
        "registered_position": row["registered_position"],
        "failures_in_a_row": row["failures"] or 0,
        "last_status": row["last_status"],
        "last_attempt_at": row["last_at"],
    }


def endpoints(store: ViewStore) -> list[dict[str, Any]]:
    rows = (
        store.reader()
        .execute(
            f"SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints e"
            " LEFT JOIN webhook_health h ON h.endpoint_id = e.endpoint_id"
            " ORDER BY e.registered_position"
        )
        .all()
    )
    return [_endpoint(r) for r in rows]


def endpoint(store: ViewStore, endpoint_id: str) -> dict[str, Any] | None:
    row = (
        store.reader()
        .execute(
            f"SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints e"
            " LEFT JOIN webhook_health h ON h.endpoint_id = e.endpoint_id"
            " WHERE e.endpoint_id = ?",
            (endpoint_id,),
        )
        .one()
    )
    return _endpoint(row) if row else None


def secret_of(store: ViewStore, endpoint_id: str) -> str | None:
    """The endpoint's secret as stored (sealed)."""
    row = (
        store.reader()
        .execute("SELECT secret FROM webhook_endpoints WHERE endpoint_id = ?", (endpoint_id,))
        .one()
    )
    return row["secret"] if row else None


def deliveries(
    store: ViewStore, endpoint_id: str, cursor: int | None = None, limit: int = 50
) -> dict[str, Any]:
    """The endpoint's delivery log, newest first (keyset on the position)."""
    where, params = "", []
    if cursor is not None:
        where, params = " AND position < ?", [cursor]
    rows = (
        store.reader()
        .execute(
            "SELECT position, kind, state, attempts, due_at, queued_at, done_at, last_error"
            f" FROM outbox WHERE channel = ? AND recipient = ?{where}"
            " ORDER BY position DESC LIMIT ?",
            (WEBHOOKS, endpoint_id, *params, limit + 1),
        )
        .all()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "deliveries": [
            {
                "webhook_id": str(r["position"]),
                "position": r["position"],
                "event": r["kind"],
                "state": r["state"],
                "attempts": r["attempts"],
                "queued_at": r["queued_at"],
                "next_attempt_at": r["due_at"] if r["state"] == "pending" else None,
                "done_at": r["done_at"],
                "last_error": r["last_error"],
            }
            for r in rows
        ],
        "next_cursor": rows[-1]["position"] if more else None,
    }


def redeliver(store: ViewStore, endpoint_id: str, from_position: int) -> int:
    """Every delivery to the endpoint from `from_position` on, sent again (due now, tries
    counted from zero), with the same webhook-id. Returns how many."""
    now = datetime.now(UTC).isoformat()
    with store.transaction() as sql:
        sql.execute(
            "UPDATE outbox SET state = 'pending', attempts = 0, due_at = ?, done_at = NULL,"
            " last_error = NULL WHERE channel = ? AND recipient = ? AND position >= ?",
            (now, WEBHOOKS, endpoint_id, from_position),
        )
        return sql.rowcount


# ---- the sender's bookkeeping ----------------------------------------------------------


def earlier_pending(store: ViewStore, endpoint_id: str, position: int) -> str | None:
    """When the endpoint's earliest pending delivery before `position` is due (None:
    none): deliveries to one endpoint go in log order."""
    row = (
        store.reader()
        .execute(
            "SELECT MIN(due_at) AS due FROM outbox WHERE channel = ? AND recipient = ?"
            " AND state = 'pending' AND position < ?",
            (WEBHOOKS, endpoint_id, position),
        )
        .one()
    )
    return row["due"] if row else None


def defer(store: ViewStore, endpoint_id: str, position: int, until: str) -> None:
    """Put a claimed delivery back until `until`, its try not counted (it was not tried:
    an earlier one to the same endpoint is still waiting)."""
    with store.transaction() as sql:
        sql.execute(
            "UPDATE outbox SET due_at = ?, attempts = CASE WHEN attempts > 0"
            " THEN attempts - 1 ELSE 0 END WHERE channel = ? AND recipient = ?"
            " AND position = ? AND state = 'pending'",
            (until, WEBHOOKS, endpoint_id, position),
        )


def record_attempt(store: ViewStore, endpoint_id: str, ok: bool, status: str) -> int:
    """Count a failure in a row (or reset on success); returns failures in a row now."""
    now = datetime.now(UTC).isoformat()
    with store.transaction() as sql:
        sql.execute(
            "INSERT INTO webhook_health (endpoint_id, failures, last_status, last_at)"
            " VALUES (?, 0, ?, ?) ON CONFLICT (endpoint_id) DO NOTHING",
            (endpoint_id, status, now),
        )
        if ok:
            sql.execute(
                "UPDATE webhook_health SET failures = 0, last_status = ?, last_at = ?"
                " WHERE endpoint_id = ?",
                (status, now, endpoint_id),
            )
        else:
            sql.execute(
                "UPDATE webhook_health SET failures = failures + 1, last_status = ?,"
                " last_at = ? WHERE endpoint_id = ?",
                (status[:300], now, endpoint_id),
            )
        row = sql.execute(
            "SELECT failures FROM webhook_health WHERE endpoint_id = ?", (endpoint_id,)
        ).one()
    return int(row["failures"])


# ---- the payload ---------------------------------------------------------------------


def payload(engine: Engine, position: int, kind: str, ids: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of one delivery (Standard Webhooks: type, timestamp, data)."""
    data: dict[str, Any] = {"position": position, "thread_id": ids.get("thread_id")}
    comment_id = ids.get("comment_id")
    if comment_id:
        node = queries.comments_as_seen(engine, [comment_id]).get(comment_id)
        if node is not None:
            node = {k: v for k, v in node.items() if k not in ("replies", "more_replies")}
        data["comment_id"] = comment_id
        data["comment"] = node
    thread_id = ids.get("thread_id")
    if thread_id:
        try:
            meta = queries.thread_meta(queries.thread_row(engine, thread_id))
            data["thread"] = {k: meta[k] for k in ("id", "key", "title", "locked")}
        except queries.NotInView:
            data["thread"] = None
    return {"type": kind, "timestamp": ids.get("at"), "data": data}
