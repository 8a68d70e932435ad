"""The one delivery mechanism: outward channels read the log like projections and queue
what each event causes in an outbox; senders deliver from the outbox at least once.

API (for every outward channel: email, webhooks, …):

1. A channel is a `Channel` subclass (a `Projection`, so the same engine, page applier,
   locks and tracking rows keep it exactly once). Give it a `name` (``"mail"``,
   ``"webhooks"``) and implement `deliveries(event, position)`, which returns the
   `Delivery` rows an event causes (a recipient, a kind, a small JSON payload of ids:
   never personal content, which stays sealed in the events). Handlers see decoded
   domain events; set `wants_notifications = True` for the stored records instead.

       class Webhooks(Channel):
           name = "webhooks"
           def deliveries(self, event, position):
               if isinstance(event, Comment.Posted):
                   yield Delivery(recipient=endpoint_id, kind="comment.posted",
                                  payload={"comment_id": str(event.originator_id)})

2. Register the channel in projections/channels.py (`all_channels`) and its sender in
   workers/delivery.py (`senders_for`): an object with `channel` (the channel's name),
   `send(rows) -> Sent | Dropped` (raise to retry), optionally `prepare(rows)` (load
   what the next chunk of deliveries needs at once), `close()` (end of a round) and
   `configured` (False: not run, its rows wait). `rows` are `Queued` rows: one, or
   several of one recipient that share a `batch` key (a digest). `rows[0].key`
   — "<channel>:<position>:<recipient>" — is the idempotency key to give the
   receiver (a Message-ID, a webhook-id).

3. `Outbox(engine)` (built once per process by workers/bootstrap.py) does the rest:
   - `catch_up()`: each channel reads the log after its tracked position and, in ONE
     transaction under the channel's lock, records the new position and inserts the
     page's deliveries. The outbox's primary key is (channel, position, recipient) and
     the insert is `ON CONFLICT DO NOTHING`, so a row is queued exactly once even with
     two workers racing or a worker killed mid-page (its transaction rolls back whole).
   - `claim(channel, limit)`: due rows, leased for `lease_seconds` (their `due_at`
     moves forward and `attempts` counts the try) so that other senders skip them.
   - `sent(rows)`, `dropped(rows, why)`, `failed(rows, error)`: the outcome, each one
     short transaction. A failure is retried after an exponential backoff with full
     jitter (`backoff`), and after `max_attempts` tries the row is dead-lettered.
   - `retry(channel, position=None)`: dead (or all pending) rows due now ("retry now").
   - `status()`: per channel, its position, the log's head, and counts per state.

At least once, honestly: a sender that dies after the receiver accepted a delivery and
before `sent()` committed leaves the row pending; after its lease it is sent again,
with the same idempotency key, so the receiver can tell (an SMTP server cannot be asked
whether it already has a message). The window is one delivery per sender process.

Rebuilds never re-send: channels are not read models. They are kept out of
projections/registry.py (so `discuss rebuild` never touches their positions) and live
in their own Engine (workers/delivery.py). A channel added to an existing store starts
at the log's head at `init-db` time, not at its beginning, so history is not mailed.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from projections.db import Sql
from projections.engine import Engine, HandlerError, Projection, Tables
from projections.tracking import iso

PENDING, SENT, DEAD, DROPPED = "pending", "sent", "dead", "dropped"
STATES = (PENDING, SENT, DEAD, DROPPED)
LEASE_SECONDS = 60  # a claimed row is left alone this long (then due again)
BASE_DELAY = 2.0  # seconds: the first retry's ceiling; doubles per try
MAX_DELAY = 3600.0
DEFAULT_MAX_ATTEMPTS = 8
ERROR_MAX = 300  # characters of a failure kept for `status` (never content)

OUTBOX_DDL = [
    """CREATE TABLE IF NOT EXISTS outbox (
        channel TEXT NOT NULL,
        position BIGINT NOT NULL,
        recipient TEXT NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        batch TEXT,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        due_at TEXT NOT NULL,
        queued_at TEXT NOT NULL,
        done_at TEXT,
        last_error TEXT,
        PRIMARY KEY (channel, position, recipient))""",
    "CREATE INDEX IF NOT EXISTS outbox_due ON outbox (channel, state, due_at)",
]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Delivery:
    """What one event causes for one recipient (a channel's `deliveries` yields these).

    `batch`: rows of one recipient with the same batch key may be sent together (a
    digest); `delay`: seconds before the row is due (a digest's window)."""

    recipient: str
    kind: str
    payload: dict[str, Any] = field(default_factory=dict)
    batch: str | None = None
    delay: float = 0.0


@dataclass(frozen=True)
class Queued:
    """One outbox row as a sender sees it."""

    channel: str
    position: int
    recipient: str
    kind: str
    payload: dict[str, Any]
    batch: str | None
    attempts: int
    queued_at: str

    @property
    def key(self) -> str:
        """The idempotency key: the same on every attempt."""
        return f"{self.channel}:{self.position}:{self.recipient}"


@dataclass(frozen=True)
class Sent:
    pass


@dataclass(frozen=True)
class Dropped:
    """Nothing to send any more (the content was withheld since, the recipient left)."""

    why: str


class Channel(Projection):
    """An outward channel: a projection whose only table is the shared outbox."""

    prefix: ClassVar[str] = "outbox"
    batched: ClassVar[bool] = True  # no pipeline mode: deliveries may read as they go
    ddl: ClassVar[dict[str, str]] = {"outbox": OUTBOX_DDL[0]}
    indexes: ClassVar[list[str]] = [OUTBOX_DDL[1]]

    def deliveries(self, event: Any, position: int) -> Iterable[Delivery]:
        raise NotImplementedError

    def apply_page(self, sql: Sql, t: Tables, events: Sequence[tuple[int, Any]]) -> None:
        now = _now()
        rows = []
        for position, event in events:
            try:
                for d in self.deliveries(event, position) or ():
                    due = iso(now + timedelta(seconds=d.delay))
                    rows.append(
                        (
                            self.name,
                            position,
                            d.recipient,
                            d.kind,
                            json.dumps(d.payload, sort_keys=True),
                            d.batch,
                            due,
                            iso(now),
                        )
                    )
            except Exception as error:
                raise HandlerError(position, error) from error
        if rows:
            sql.executemany(
                "INSERT INTO outbox (channel, position, recipient, kind, payload, batch,"
                " due_at, queued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (channel, position, recipient) DO NOTHING",
                rows,
            )

    def drop_statements(self, generation: int) -> list[str]:
        return []  # the outbox is never dropped by a rebuild


def backoff(attempts: int, base: float = BASE_DELAY, cap: float = MAX_DELAY) -> float:
    """Seconds before the next try after `attempts` tries: exponential with full jitter
    (AWS Architecture Blog, "Exponential Backoff And Jitter"), so that many rows that
    failed together do not come back together."""
    return random.uniform(0, min(cap, base * 2 ** max(0, attempts - 1)))


class Outbox:
    """Channels' catch-up into the outbox, and the outbox's rows for senders."""

    def __init__(
        self,
        engine: Engine,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        lease_seconds: float = LEASE_SECONDS,
    ):
        self.engine = engine  # an Engine over the channels only (never rebuilt)
        self.store = engine.store
        self.max_attempts = max_attempts
        self.lease_seconds = lease_seconds

    @property
    def channels(self) -> dict[str, Channel]:
        return self.engine.projections

    def create_tables(self) -> None:
        """The outbox and a tracking row per channel; a new channel starts at the head."""
        existing = set(self._known_channels())
        self.engine.create_tables()
        head = self.engine.app.head_position() if self.engine.app is not None else 0
        with self.store.transaction(lock="schema") as sql:
            for name in self.channels:
                if name not in existing and head:
                    sql.execute(
                        "UPDATE projection_tracking SET position = ?"
                        " WHERE name = ? AND generation = 1 AND position = 0",
                        (head, name),
                    )

    def _known_channels(self) -> list[str]:
        try:
            rows = self.store.reader().execute("SELECT name FROM projection_current").all()
        except Exception:
            return []  # no tracking tables yet
        return [r["name"] for r in rows]

    def skip_to_head(self) -> int:
        """Channels move to the log's head without queueing anything: after importing a
        history (`discuss import-history`), whose mails its old store sent already."""
        head = self.engine.app.head_position()
        with self.store.transaction() as sql:
            for name in sorted(self.channels):
                self.engine.tracking.lock(sql, name, 1)
                sql.execute(
                    "UPDATE projection_tracking SET position = ? WHERE name = ?"
                    " AND generation = 1 AND position < ?",
                    (head, name, head),
                )
        return head

    def catch_up(self, page_size: int = 500) -> tuple[dict[str, int], dict[str, Exception]]:
        return self.engine.catch_up_many(page_size=page_size)

    # ---- senders -----------------------------------------------------------------------

    def claim(self, channel: str, limit: int = 50) -> list[Queued]:
        """Due rows of `channel`, oldest first, leased to the caller. A row of a batch
        brings the other due rows of its batch (one digest)."""
        now = _now()
        lease = iso(now + timedelta(seconds=self.lease_seconds))
        skip = " FOR UPDATE SKIP LOCKED" if self.store.postgres else ""
        with self.store.transaction() as sql:
            self._relaxed(sql)
            rows = sql.execute(
                "SELECT * FROM outbox WHERE channel = ? AND state = 'pending' AND due_at <= ?"
                f" ORDER BY due_at, position LIMIT ?{skip}",
                (channel, iso(now), limit),
            ).all()
            batches = {r["batch"] for r in rows if r["batch"]}
            for batch in sorted(batches):
                known = {(r["position"], r["recipient"]) for r in rows}
                more = sql.execute(
                    "SELECT * FROM outbox WHERE channel = ? AND state = 'pending'"
                    f" AND batch = ? AND due_at <= ?{skip}",
                    (channel, batch, iso(now)),
                ).all()
                rows += [r for r in more if (r["position"], r["recipient"]) not in known]
            if rows:
                sql.executemany(
                    "UPDATE outbox SET due_at = ?, attempts = attempts + 1"
                    " WHERE channel = ? AND position = ? AND recipient = ? AND state = 'pending'",
                    [(lease, channel, r["position"], r["recipient"]) for r in rows],
                )
        return [
            Queued(
                channel=r["channel"],
                position=int(r["position"]),
                recipient=r["recipient"],
                kind=r["kind"],
                payload=json.loads(r["payload"]),
                batch=r["batch"],
                attempts=int(r["attempts"]) + 1,
                queued_at=r["queued_at"],
            )
            for r in rows
        ]

    @staticmethod
    def groups(rows: Sequence[Queued]) -> list[list[Queued]]:
        """What one `send` call gets: each unbatched row alone, a batch's rows together."""
        out: list[list[Queued]] = []
        batches: dict[tuple[str, str], list[Queued]] = {}
        for row in sorted(rows, key=lambda r: r.position):
            if row.batch is None:
                out.append([row])
            else:
                batches.setdefault((row.recipient, row.batch), []).append(row)
        return out + list(batches.values())

    def _relaxed(self, sql: Sql) -> None:
        """PostgreSQL: this transaction's commit does not wait for the WAL flush (like a
        projection's page, projections/tracking.py). A server crash right after could
        lose the outcome (the delivery is then made again: at least once still holds)
        or a lease. A channel's page may be lost the same way, its queued rows together
        with its position, so they are queued again from the log: never lost."""
        if self.store.postgres:
            sql.execute("SELECT set_config('synchronous_commit', 'off', true)")

    def _finish(self, rows: Sequence[Queued], state: str, error: str | None) -> None:
        now = iso(_now())
        with self.store.transaction() as sql:
            self._relaxed(sql)
            sql.executemany(
                "UPDATE outbox SET state = ?, done_at = ?, last_error = ?"
                " WHERE channel = ? AND position = ? AND recipient = ? AND state = 'pending'",
                [(state, now, error, r.channel, r.position, r.recipient) for r in rows],
            )

    def sent(self, rows: Sequence[Queued]) -> None:
        self._finish(rows, SENT, None)

    def dropped(self, rows: Sequence[Queued], why: str) -> None:
        self._finish(rows, DROPPED, why[:ERROR_MAX])

    def failed(self, rows: Sequence[Queued], error: str) -> None:
        """Retry later (backoff with jitter), or dead-letter after max_attempts tries."""
        now = _now()
        error = error[:ERROR_MAX]
        with self.store.transaction() as sql:
            for r in rows:
                if r.attempts >= self.max_attempts:
                    sql.execute(
                        "UPDATE outbox SET state = 'dead', done_at = ?, last_error = ?"
                        " WHERE channel = ? AND position = ? AND recipient = ?"
                        " AND state = 'pending'",
                        (iso(now), error, r.channel, r.position, r.recipient),
                    )
                else:
                    due = iso(now + timedelta(seconds=backoff(r.attempts)))
                    sql.execute(
                        "UPDATE outbox SET due_at = ?, last_error = ?"
                        " WHERE channel = ? AND position = ? AND recipient = ?"
                        " AND state = 'pending'",
                        (due, error, r.channel, r.position, r.recipient),
                    )

    def retry(self, channel: str | None = None, position: int | None = None) -> int:
        """Dead rows (of a channel, of one position) pending again and due now, with their
        tries counted from zero; pending rows waiting for a retry are made due now too."""
        where, params = ["state IN ('dead', 'pending')"], []
        if channel is not None:
            where.append("channel = ?")
            params.append(channel)
        if position is not None:
            where.append("position = ?")
            params.append(position)
        with self.store.transaction() as sql:
            sql.execute(
                "UPDATE outbox SET state = 'pending', attempts = CASE WHEN state = 'dead'"
                " THEN 0 ELSE attempts END, due_at = ?, done_at = NULL"
                f" WHERE {' AND '.join(where)}",
                (iso(_now()), *params),
            )
            return sql.rowcount

    def next_due(self, channel: str) -> datetime | None:
        """When the earliest pending row of `channel` is due (None: nothing pending)."""
        value = (
            self.store.reader()
            .execute(
                "SELECT MIN(due_at) AS due FROM outbox WHERE channel = ? AND state = 'pending'",
                (channel,),
            )
            .scalar()
        )
        return datetime.fromisoformat(value) if value else None

    # ---- status ------------------------------------------------------------------------

    def status(self) -> list[dict[str, Any]]:
        """Per channel: position, head, lag, rows per state, its error."""
        statuses = {s.name: s for s in self.engine.status()}
        counts: dict[str, dict[str, int]] = {}
        for row in (
            self.store.reader()
            .execute("SELECT channel, state, COUNT(*) AS n FROM outbox GROUP BY channel, state")
            .all()
        ):
            counts.setdefault(row["channel"], {})[row["state"]] = int(row["n"])
        out = []
        for name in self.channels:
            s = statuses.get(name)
            by_state = counts.get(name, {})
            out.append(
                {
                    "channel": name,
                    "position": s.position if s else 0,
                    "head": s.head if s else 0,
                    "lag_events": s.lag_events if s else 0,
                    "error": s.error if s else None,
                    **{state: by_state.get(state, 0) for state in STATES},
                }
            )
        return out

    def rows(
        self, channel: str | None = None, state: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Outbox rows for the moderators' page (newest first): ids and states only."""
        where, params = [], []
        if channel:
            where.append("channel = ?")
            params.append(channel)
        if state:
            where.append("state = ?")
            params.append(state)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        return (
            self.store.reader()
            .execute(
                "SELECT channel, position, recipient, kind, state, attempts, due_at,"
                f" queued_at, done_at, last_error FROM outbox{clause}"
                " ORDER BY position DESC, recipient LIMIT ?",
                (*params, limit),
            )
            .all()
        )
