"""The audit log: one row per event of the log, whatever its type.

Each row says who (actor), did what (type, e.g. "Comment.Edited", and a one-line
summary), when (the event's own timestamp), to which thread and comment, at which
position of the log. Filters (thread, actor, type, time) each have an index that
ends with the position, so every filtered read is a keyset page by position.

A thread's rows are also its timeline: the change points of the thread in log order.
Reasons of moderation (hide/restore) are for moderators: `summary_public` leaves them
out, `summary` keeps them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.model import OPERATOR_ID, Author, Comment, Thread
from projections.db import Sql
from projections.engine import Engine, HandlerError, Projection, Tables, iso

OPERATOR_NAME = "operator"
# Types whose reason is for moderators only (as the thread view shows it).
MODERATION_TYPES = ("Comment.Hidden", "Comment.Restored")


def type_name(event: Any) -> str:
    """The short name of an event's type: "Comment.Edited"."""
    return type(event).__qualname__


def thread_of(event: Any) -> str | None:
    thread_id = getattr(event, "thread_id", None)
    if thread_id is None and isinstance(event, Thread.Event):
        thread_id = event.originator_id
    return str(thread_id) if thread_id is not None else None


def comment_of(event: Any) -> str | None:
    return str(event.originator_id) if isinstance(event, Comment.Event) else None


def summarize(event: Any) -> tuple[str, str]:
    """(summary, public summary) of one event: a short line in words."""
    kind = type_name(event)
    reason = getattr(event, "reason", None)
    cid = event.originator_id
    if isinstance(event, Author.Registered):
        base = f"registered author {event.name!r} ({event.role})"
    elif isinstance(event, Thread.Opened):
        base = f"opened thread {event.title!r}" + (f" for key {event.key!r}" if event.key else "")
    elif isinstance(event, Thread.Retitled):
        base = f"retitled thread to {event.title!r}"
    elif isinstance(event, Thread.Locked):
        base = "locked thread"
    elif isinstance(event, Thread.Unlocked):
        base = "unlocked thread"
    elif isinstance(event, Comment.Posted):
        base = (
            f"replied to comment {event.parent_id} with comment {cid}"
            if event.parent_id
            else f"posted comment {cid}"
        )
    elif isinstance(event, Comment.Edited):
        base = f"edited comment {cid} (now version {event.originator_version})"
    elif isinstance(event, Comment.Retracted):
        base = f"retracted comment {cid}"
    elif isinstance(event, Comment.Hidden):
        base = f"hid comment {cid}"
    elif isinstance(event, Comment.Restored):
        base = f"restored comment {cid}"
    elif kind == "ImportRun.Recorded":
        base = f"recorded an import of {event.file_name!r} ({event.source_format})"
    else:
        base = f"{kind} of {cid} (version {event.originator_version})"
    text = f"{base} (reason: {reason})" if isinstance(reason, str) and reason else base
    return text, (base if kind in MODERATION_TYPES else text)


class AuditLog(Projection):
    name = "audit"
    prefix = "audit"
    ddl = {
        "events": """CREATE TABLE IF NOT EXISTS {events} (
            position BIGINT PRIMARY KEY,
            at TEXT NOT NULL,
            actor_id TEXT,
            type TEXT NOT NULL,
            thread_id TEXT,
            comment_id TEXT,
            originator_id TEXT NOT NULL,
            originator_version BIGINT NOT NULL,
            reason TEXT,
            summary TEXT NOT NULL,
            summary_public TEXT NOT NULL)""",
        "authors": """CREATE TABLE IF NOT EXISTS {authors} (
            author_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL)""",
    }
    indexes = [
        "CREATE INDEX IF NOT EXISTS {events}_thread ON {events} (thread_id, position)",
        "CREATE INDEX IF NOT EXISTS {events}_actor ON {events} (actor_id, position)",
        "CREATE INDEX IF NOT EXISTS {events}_type ON {events} (type, position)",
        "CREATE INDEX IF NOT EXISTS {events}_at ON {events} (at, position)",
        "CREATE INDEX IF NOT EXISTS {events}_comment ON {events} (comment_id, position)",
    ]

    def apply_page(self, sql: Sql, t: Tables, events: Sequence[tuple[int, Any]]) -> None:
        """Every event is recorded, whatever its type: one batch per page."""
        rows, authors = [], []
        for position, event in events:
            try:
                if isinstance(event, Author.Registered):
                    authors.append((str(event.originator_id), event.name, event.role))
                rows.append(self._row(event, position))
            except Exception as error:
                raise HandlerError(position, error) from error
        if authors:
            sql.executemany(
                f"INSERT INTO {t.authors} (author_id, name, role) VALUES (?, ?, ?)", authors
            )
        if rows:
            sql.executemany(
                f"INSERT INTO {t.events} (position, at, actor_id, type, thread_id, comment_id,"
                " originator_id, originator_version, reason, summary, summary_public)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    @staticmethod
    def _row(event: Any, position: int) -> tuple:
        actor_id = getattr(event, "actor_id", None)
        reason = getattr(event, "reason", None)
        summary, public = summarize(event)
        return (
            position,
            iso(event.timestamp),
            str(actor_id) if actor_id is not None else None,
            type_name(event),
            thread_of(event),
            comment_of(event),
            str(event.originator_id),
            event.originator_version,
            reason if isinstance(reason, str) else None,
            summary,
            public,
        )


# ---- reads -------------------------------------------------------------------------------


def author_names(engine: Engine, ids: set[str]) -> dict[str, str]:
    """Display names of actors (the operator included)."""
    ids = {i for i in ids if i}
    names = {str(OPERATOR_ID): OPERATOR_NAME} if str(OPERATOR_ID) in ids else {}
    rest = sorted(ids - set(names))
    if rest:
        t = engine.tables("audit")
        marks = ", ".join("?" * len(rest))
        for row in (
            engine.store.reader()
            .execute(f"SELECT author_id, name FROM {t.authors} WHERE author_id IN ({marks})", rest)
            .all()
        ):
            names[row["author_id"]] = row["name"]
    return names


def _entry(row: dict[str, Any], names: dict[str, str], moderator: bool) -> dict[str, Any]:
    actor_id = row["actor_id"]
    moderated = row["type"] in MODERATION_TYPES and not moderator
    return {
        "position": row["position"],
        "at": row["at"],
        "type": row["type"],
        "actor": {"id": actor_id, "name": names.get(actor_id)} if actor_id else None,
        "thread_id": row["thread_id"],
        "comment_id": row["comment_id"],
        "originator_id": row["originator_id"],
        "version": row["originator_version"],
        "reason": None if moderated else row["reason"],
        "summary": row["summary_public"] if moderated else row["summary"],
    }


def audit_page(
    engine: Engine,
    *,
    thread_id: str | None = None,
    actor_id: str | None = None,
    types: list[str] | None = None,
    since: str | None = None,
    until: str | None = None,
    cursor: int | None = None,
    limit: int = 100,
    newest_first: bool = True,
    moderator: bool = True,
) -> dict[str, Any]:
    """A keyset page of the audit log. `since`/`until` are ISO UTC texts as stored (the
    event's time, since inclusive, until exclusive); `cursor` the last position seen."""
    t = engine.tables("audit")
    where, params = [], []
    for column, value in (("thread_id", thread_id), ("actor_id", actor_id)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if types:
        where.append(f"type IN ({', '.join('?' * len(types))})")
        params += types
    if since is not None:
        where.append("at >= ?")
        params.append(since)
    if until is not None:
        where.append("at < ?")
        params.append(until)
    if cursor is not None:
        where.append("position < ?" if newest_first else "position > ?")
        params.append(cursor)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    order = "DESC" if newest_first else "ASC"
    rows = (
        engine.store.reader()
        .execute(
            f"SELECT * FROM {t.events} {clause} ORDER BY position {order} LIMIT ?",
            (*params, limit + 1),
        )
        .all()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    names = author_names(engine, {r["actor_id"] for r in rows})
    return {
        "entries": [_entry(r, names, moderator) for r in rows],
        "next_cursor": rows[-1]["position"] if more else None,
    }


def timeline(
    engine: Engine,
    thread_id: str,
    *,
    cursor: int | None = None,
    limit: int = 100,
    moderator: bool = False,
) -> dict[str, Any]:
    """The thread's change points in log order (oldest first), a keyset page."""
    page = audit_page(
        engine,
        thread_id=thread_id,
        cursor=cursor,
        limit=limit,
        newest_first=False,
        moderator=moderator,
    )
    return {
        "thread_id": thread_id,
        "entries": [
            {
                "position": e["position"],
                "at": e["at"],
                "kind": e["type"],
                "comment_id": e["comment_id"],
                "actor": e["actor"],
                "version": e["version"],
                "summary": e["summary"],
            }
            for e in page["entries"]
        ],
        "next_cursor": page["next_cursor"],
    }


def thread_known(engine: Engine, thread_id: str) -> bool:
    t = engine.tables("audit")
    return (
        engine.store.reader()
        .execute(f"SELECT position FROM {t.events} WHERE thread_id = ? LIMIT 1", (thread_id,))
        .one()
        is not None
    )


def changes(
    engine: Engine, thread_id: str, start: int, stop: int, *, moderator: bool = False
) -> dict[str, Any]:
    """What changed in a thread after position `start` up to and including `stop`:
    comments added, edited (with the version range), retracted, hidden, restored, and
    changes to the thread itself. Rows are read in pages of the thread index."""
    t = engine.tables("audit")
    sql = engine.store.reader()
    added, retracted, hidden, restored, thread_changes = [], [], [], [], []
    edited: dict[str, dict[str, Any]] = {}
    rows_seen = 0
    cursor = start
    while True:
        rows = sql.execute(
            f"SELECT * FROM {t.events} WHERE thread_id = ? AND position > ? AND position <= ?"
            " ORDER BY position LIMIT 1000",
            (thread_id, cursor, stop),
        ).all()
        if not rows:
            break
        cursor = rows[-1]["position"]
        rows_seen += len(rows)
        names = author_names(engine, {r["actor_id"] for r in rows})
        for row in rows:
            entry = _entry(row, names, moderator)
            kind = row["type"]
            base = {
                "comment_id": row["comment_id"],
                "position": row["position"],
                "at": row["at"],
                "actor": entry["actor"],
            }
            if kind == "Comment.Posted":
                added.append({**base, "version": row["originator_version"]})
            elif kind == "Comment.Edited":
                item = edited.get(row["comment_id"])
                version = row["originator_version"]
                if item is None:
                    edited[row["comment_id"]] = {
                        "comment_id": row["comment_id"],
                        "from_version": version - 1,
                        "to_version": version,
                        "edits": 1,
                        "first_position": row["position"],
                        "last_position": row["position"],
                        "last_at": row["at"],
                    }
                else:
                    item.update(
                        to_version=version,
                        edits=item["edits"] + 1,
                        last_position=row["position"],
                        last_at=row["at"],
                    )
            elif kind == "Comment.Retracted":
                retracted.append({**base, "reason": entry["reason"]})
            elif kind == "Comment.Hidden":
                hidden.append({**base, "reason": entry["reason"]})
            elif kind == "Comment.Restored":
                restored.append({**base, "reason": entry["reason"]})
            else:
                thread_changes.append(
                    {
                        "kind": kind,
                        "position": row["position"],
                        "at": row["at"],
                        "actor": entry["actor"],
                        "summary": entry["summary"],
                    }
                )
    return {
        "thread_id": thread_id,
        "from": start,
        "to": stop,
        "events": rows_seen,
        "added": added,
        "edited": list(edited.values()),
        "retracted": retracted,
        "hidden": hidden,
        "restored": restored,
        "thread": thread_changes,
    }
