"""A hash chain over the stored events, in log order: tamper evidence.

    link_n = sha256(link_{n-1} || canonical bytes of the stored record n)

The canonical bytes of a record are its position, originator id, originator version,
topic and the stored state bytes exactly as the event store holds them (see
`record_bytes`), identical on SQLite and PostgreSQL. The first link's predecessor is
32 zero bytes.

The projection trails the log like every other (it asks the engine for the stored
records, `wants_notifications`), and keeps per position the record's own digest and
the link. `verify` walks the log again, recomputes every link, and reports the first
position where the log no longer matches the recorded chain (a modified payload, a
deleted, inserted or reordered event) or a checkpoint (position, link) kept elsewhere:
a checkpoint catches even a rewrite of the log *and* of the chain table.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from projections.db import Sql
from projections.engine import Engine, HandlerError, Projection, Tables

GENESIS = bytes(32)
PAGE = 1000


def canonical_id(originator_id: UUID | str) -> str:
    return str(originator_id) if isinstance(originator_id, UUID) else str(UUID(str(originator_id)))


def record_bytes(
    position: int, originator_id: UUID | str, originator_version: int, topic: str, state: bytes
) -> bytes:
    """Canonical bytes of one stored record: a header line per field, then the state."""
    state = bytes(state)
    header = (
        f"{position}\n{canonical_id(originator_id)}\n{originator_version}\n{topic}\n{len(state)}\n"
    )
    return header.encode("utf-8") + state


def notification_bytes(n: Notification) -> bytes:
    return record_bytes(n.id, n.originator_id, n.originator_version, n.topic, n.state)


def next_link(previous: bytes, record: bytes) -> bytes:
    return hashlib.sha256(previous + record).digest()


class HashChain(Projection):
    name = "chain"
    prefix = "chain"
    wants_notifications = True
    ddl = {
        "links": """CREATE TABLE IF NOT EXISTS {links} (
            position BIGINT PRIMARY KEY,
            originator_id TEXT NOT NULL,
            originator_version BIGINT NOT NULL,
            digest TEXT NOT NULL,
            link TEXT NOT NULL)""",
    }

    def apply_page(self, sql: Sql, t: Tables, events: Sequence[tuple[int, Any]]) -> None:
        """Chain a page of stored records: one read of the previous link, one batch."""
        if not events:
            return
        previous = sql.execute(
            f"SELECT link FROM {t.links} WHERE position < ? ORDER BY position DESC LIMIT 1",
            (events[0][0],),
        ).scalar()
        link = bytes.fromhex(previous) if previous else GENESIS
        rows = []
        for position, n in events:
            try:
                data = notification_bytes(n)
                link = next_link(link, data)
                rows.append(
                    (
                        position,
                        canonical_id(n.originator_id),
                        n.originator_version,
                        hashlib.sha256(data).hexdigest(),
                        link.hex(),
                    )
                )
            except Exception as error:
                raise HandlerError(position, error) from error
        sql.executemany(
            f"INSERT INTO {t.links} (position, originator_id, originator_version, digest, link)"
            " VALUES (?, ?, ?, ?, ?)",
            rows,
        )


# ---- reads -------------------------------------------------------------------------------


def head(engine: Engine) -> dict[str, Any]:
    """The chain's head: the last chained position and its link (64 zeros when empty)."""
    t = engine.tables("chain")
    row = (
        engine.store.reader()
        .execute(f"SELECT position, link FROM {t.links} ORDER BY position DESC LIMIT 1")
        .one()
    )
    if row is None:
        return {"position": 0, "hash": GENESIS.hex()}
    return {"position": int(row["position"]), "hash": row["link"]}


def recorded_links(engine: Engine, start: int = 0) -> Iterator[dict[str, Any]]:
    """The recorded chain after `start`, in position order, read page by page."""
    t = engine.tables("chain")
    sql = engine.store.reader()
    while True:
        rows = sql.execute(
            f"SELECT * FROM {t.links} WHERE position > ? ORDER BY position LIMIT ?",
            (start, PAGE),
        ).all()
        yield from rows
        if len(rows) < PAGE:
            return
        start = rows[-1]["position"]


def notifications(app: Any, start: int = 0, stop: int | None = None) -> Iterator[Notification]:
    """The stored records after `start` (up to `stop`), in log order, page by page."""
    while True:
        page = app.recorder.select_notifications(start=start + 1, limit=PAGE, stop=stop)
        yield from page
        if len(page) < PAGE:
            return
        start = page[-1].id


@dataclass(frozen=True)
class Checkpoint:
    position: int
    link: str

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """POSITION:HASH (the HASH in hex, as /audit/head gives it)."""
        position, sep, link = text.strip().partition(":")
        if not sep or not position.isdigit() or int(position) < 1:
            raise ValueError(f"a checkpoint is POSITION:HASH with POSITION >= 1, not {text!r}")
        link = link.lower()
        if len(link) != 64 or any(c not in "0123456789abcdef" for c in link):
            raise ValueError(f"the hash of checkpoint {text!r} is not 64 hex digits")
        return cls(int(position), link)


@dataclass
class Verification:
    ok: bool = True
    position: int | None = None  # the first position where something is wrong
    problem: str | None = None  # "modified", "deleted", "inserted", "replaced", ...
    message: str = ""
    checked: int = 0  # stored events walked
    chained_to: int = 0  # the recorded chain's head
    head: int = 0  # the log's last position
    head_link: str = GENESIS.hex()  # recomputed link at the log's last position
    checkpoints: list[Checkpoint] = field(default_factory=list)

    def fail(self, position: int, problem: str, message: str) -> Verification:
        self.ok, self.position, self.problem, self.message = False, position, problem, message
        return self


def _describe(n: Notification) -> str:
    kind = n.topic.rpartition(":")[2]
    return f"{kind} of {canonical_id(n.originator_id)} v{n.originator_version}"


def verify(
    app: Any,
    engine: Engine,
    checkpoints: Iterable[Checkpoint] = (),
    on_event: Callable[[int], None] | None = None,
) -> Verification:
    """Walk the log, recompute the chain, compare it with the recorded chain and the
    checkpoints; stop at the first position where they differ."""
    result = Verification(checkpoints=sorted(checkpoints, key=lambda c: c.position))
    pending = list(result.checkpoints)
    recorded = recorded_links(engine)
    result.chained_to = head(engine)["position"]
    expected = next(recorded, None)
    link = GENESIS
    for n in notifications(app):
        result.checked += 1
        if on_event:
            on_event(n.id)
        # Recorded positions the log no longer has: deleted events.
        if expected is not None and expected["position"] < n.id:
            p = int(expected["position"])
            return result.fail(
                p,
                "deleted",
                f"the event at position {p} ({expected['originator_id']}"
                f" v{expected['originator_version']}) is missing from the log: deleted",
            )
        # A checkpoint whose position the log no longer has.
        if pending and pending[0].position < n.id:
            cp = pending[0]
            return result.fail(
                cp.position,
                "checkpoint",
                f"checkpoint {cp.position} names a position the log no longer has: an event"
                " was deleted",
            )
        data = notification_bytes(n)
        link = next_link(link, data)
        if expected is not None and expected["position"] == n.id:
            same_event = expected["originator_id"] == canonical_id(n.originator_id) and int(
                expected["originator_version"]
            ) == int(n.originator_version)
            if not same_event:
                return result.fail(
                    n.id,
                    "replaced",
                    f"position {n.id} holds {_describe(n)}, but the chain recorded"
                    f" {expected['originator_id']} v{expected['originator_version']} there:"
                    " an event was inserted, deleted or moved (reordered)",
                )
            if expected["digest"] != hashlib.sha256(data).hexdigest():
                return result.fail(
                    n.id,
                    "modified",
                    f"the stored record at position {n.id} ({_describe(n)}) differs from the"
                    " one chained: its payload or type was modified (or swapped with another)",
                )
            if expected["link"] != link.hex():
                return result.fail(
                    n.id,
                    "chain",
                    f"the recorded chain link at position {n.id} does not follow from the"
                    " log: the chain table was altered",
                )
            expected = next(recorded, None)
        elif n.id <= result.chained_to:
            return result.fail(
                n.id,
                "inserted",
                f"position {n.id} holds {_describe(n)}, which the chain never recorded:"
                " an event was inserted",
            )
        if pending and pending[0].position == n.id:
            cp = pending.pop(0)
            if cp.link != link.hex():
                return result.fail(
                    n.id,
                    "checkpoint",
                    f"the chain at position {n.id} does not match checkpoint {cp.position}:"
                    f"{cp.link[:12]}…: an event at or before position {n.id} was changed"
                    " since the checkpoint was taken",
                )
        result.head = n.id
        result.head_link = link.hex()
    if expected is not None:
        p = int(expected["position"])
        return result.fail(
            p,
            "deleted",
            f"the event at position {p} ({expected['originator_id']}"
            f" v{expected['originator_version']}) is missing from the log: deleted",
        )
    if pending:
        cp = pending[0]
        return result.fail(
            cp.position,
            "checkpoint",
            f"checkpoint {cp.position} is beyond the end of the log (position {result.head}):"
            " events were deleted",
        )
    unchained = max(0, result.head - result.chained_to)
    result.message = f"intact: {result.checked} events verified up to position {result.head}" + (
        f" ({unchained} positions after {result.chained_to} not chained yet)" if unchained else ""
    )
    return result
