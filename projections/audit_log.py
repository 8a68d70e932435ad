"""The audit log: one row per event of the log, whatever its type.

Each row says who (actor), did what (type, e.g. "Comment.Edited", and a one-line
summary), when (the event's own timestamp), to which thread and comment, at which
position of the log. Filters (thread, actor, type, time) each have an index that
ends with the position, so every filtered read is a keyset page by position.

A thread's rows are also its timeline: the change points of the thread in log order.

The summary names things by their ids only; a row's reason is stored as the event has
it (sealed personal content; an erasure's basis is a public word). Every read goes
through the one visibility policy (projections/visibility.py, the RECORD surface, via
projections/history.py's rules): reasons are opened only when the viewer may read them
(edit reasons as the revision's reason_verdict, a retraction's reason unless the
comment is withheld from the viewer for another cause, moderation reasons for
moderators), actors by their opened names ("erased author" once erased), and the
comment's author is not named where the policy withholds who wrote it. Erasures and
suppressions are listed like any change, without what was erased or suppressed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from domain.model import ERASED_AUTHOR, ERASURE_BASES, Author, Comment, Thread
from domain.sealing import SEALED_PREFIX
from projections import history, visibility
from projections.db import Sql
from projections.engine import Engine, HandlerError, Projection, Tables, iso
from projections.visibility import Opening, Viewer

OPERATOR_NAME = visibility.OPERATOR_NAME
# Types whose reason is for moderators only.
MODERATION_TYPES = (
    "Comment.Hidden",
    "Comment.Restored",
    "Comment.RevisionSuppressed",
    "Comment.RevisionUnsuppressed",
    "Comment.Approved",
    "Comment.Rejected",
)
ERASURES = (Comment.Erased, Comment.RevisionErased, Author.Erased)
ERASURE_TYPES = history.ERASURE_TYPES
# Types whose stored reason is plaintext and public (a thread's lock reasons).
PUBLIC_REASON_TYPES = ("Thread.Locked", "Thread.Unlocked")
# Rows written before summaries lost their names and reasons.
_LEGACY_REASON = " (reason: "
_LEGACY_ROLE = re.compile(r"\((\w+)\)$")
_SEALED = re.compile("'?" + re.escape(SEALED_PREFIX) + r"[^\s']*'?")


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
    """(summary, public summary) of one event: a short line in words, with ids only.

    No names and no reasons: those are personal content (sealed in the events), kept in
    their own fields and opened at read by the visibility policy. Both summaries are
    the same line now (the second column is kept for the stored layout)."""
    kind = type_name(event)
    cid = event.originator_id
    if isinstance(event, Author.Registered):
        base = f"registered author {cid} ({event.role})"
    elif isinstance(event, Author.Erased):
        base = f"erased author {cid} and everything they wrote ({_basis(event)})"
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
    elif isinstance(event, Comment.Erased):
        covered = " with its author's account" if event.scope == ERASED_AUTHOR else ""
        base = f"erased comment {cid}{covered} ({_basis(event)})"
    elif isinstance(event, Comment.RevisionErased):
        base = f"erased revision {event.revision} of comment {cid} ({_basis(event)})"
    elif isinstance(event, Comment.RevisionSuppressed):
        parts = " and ".join(
            words for words, on in (("text", event.text), ("edit reason", event.edit_reason)) if on
        )
        base = f"suppressed the {parts} of revision {event.revision} of comment {cid}"
    elif isinstance(event, Comment.RevisionUnsuppressed):
        base = f"restored revision {event.revision} of comment {cid} (no longer suppressed)"
    elif isinstance(event, Comment.Held):
        base = (
            f"held revision {event.revision} of comment {cid} for review"
            f" (rules: {', '.join(event.rules)})"
        )
    elif isinstance(event, Comment.Approved):
        base = f"approved revision {event.revision} of comment {cid}"
    elif isinstance(event, Comment.Rejected):
        base = f"rejected revision {event.revision} of comment {cid}"
    elif isinstance(event, Thread.PremoderationSwitched):
        base = f"switched pre-moderation {'on' if event.on else 'off'}"
    elif kind == "ImportRun.Recorded":
        base = f"recorded an import of {event.file_name!r} ({event.source_format})"
    else:
        base = f"{kind} of {cid} (version {event.originator_version})"
    return base, base


def _basis(event: Any) -> str:
    return ERASURE_BASES.get(event.basis, event.basis)


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
        reason = getattr(event, "reason", None)  # sealed: opened at read, if allowed
        if isinstance(event, ERASURES):
            reason = event.basis  # a public word from a fixed list
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


def author_names(engine: Engine, ids: Iterable[str]) -> dict[str, str]:
    """Display names of actors, opened (the operator included; an erased author, or one
    whose name's key is gone, is "erased author")."""
    return visibility.author_names(engine, ids)


def _summary(row: dict[str, Any]) -> str:
    """The stored summary, as a line with ids only, whatever version of the projection
    wrote it: older rows appended the reason and named the registered author."""
    summary = row["summary"]
    reason = row["reason"]
    if reason and summary.endswith(f"{_LEGACY_REASON}{reason})"):
        summary = summary[: -len(f"{_LEGACY_REASON}{reason})")]
    if row["type"] == "Author.Registered":
        role = _LEGACY_ROLE.search(summary)
        summary = f"registered author {row['originator_id']}" + (f" ({role[1]})" if role else "")
    if SEALED_PREFIX in summary:
        summary = _SEALED.sub("[withheld]", summary)
    return summary


class _Opened:
    """A batch of audit rows read for one viewer: today's decisions on their comments,
    who wrote each comment, the reasons the viewer may read and the actors' names,
    each fetched (or opened) once for the batch."""

    def __init__(self, engine: Engine, rows: list[dict[str, Any]], viewer: Viewer):
        self.viewer = viewer
        comment_ids = {r["comment_id"] for r in rows if r["comment_id"]}
        self.decided = visibility.decisions_for(engine, comment_ids)
        self.authors = history.comment_authors(engine, comment_ids)
        self.reasons: dict[int, str | None] = {}
        self.actors: dict[int, str | None] = {}
        opening = Opening(engine)
        for row in rows:
            self.actors[row["position"]] = self._actor_id(row)
            raw = self._reason(row)
            self.reasons[row["position"]] = raw
            opening.want(raw)
        opening.run()
        self.opening = opening
        self.names = author_names(engine, {a for a in self.actors.values() if a})

    def _context(self, row: dict[str, Any]) -> tuple[Any, str | None]:
        comment_id = row["comment_id"]
        return self.decided.get(comment_id), self.authors.get(comment_id)

    def _actor_id(self, row: dict[str, Any]) -> str | None:
        actor_id = row["actor_id"]
        if actor_id is None or row["comment_id"] is None:
            return actor_id
        d, author_id = self._context(row)
        return actor_id if history.actor_shown(d, self.viewer, author_id, actor_id) else None

    def _reason(self, row: dict[str, Any]) -> str | None:
        """The stored reason if the viewer may read it (still sealed), else None."""
        reason, kind = row["reason"], row["type"]
        if reason is None:
            return None
        if kind in ERASURE_TYPES or kind in PUBLIC_REASON_TYPES:
            return reason
        rv_kind = history.KIND_OF_TYPE.get(kind)
        if rv_kind is None:  # a type the policy does not know: moderators only
            return reason if self.viewer.moderator else None
        d, author_id = self._context(row)
        verdict = history.reason_verdict(
            rv_kind, d, self.viewer, author_id, row["originator_version"]
        )
        return reason if verdict.shown else None

    def actor(self, row: dict[str, Any]) -> dict[str, Any] | None:
        actor_id = self.actors[row["position"]]
        if actor_id is None:
            return None
        return {"id": actor_id, "name": self.names.get(actor_id, visibility.ERASED_AUTHOR_NAME)}

    def reason(self, row: dict[str, Any]) -> str | None:
        raw = self.reasons[row["position"]]
        if raw is None:
            return None
        if row["type"] in ERASURE_TYPES:
            return visibility.basis_label(raw)
        text, _ = self.opening.text(raw)
        return text

    def entry(self, row: dict[str, Any]) -> dict[str, Any]:
        return {
            "position": row["position"],
            "at": row["at"],
            "type": row["type"],
            "actor": self.actor(row),
            "thread_id": row["thread_id"],
            "comment_id": row["comment_id"],
            "originator_id": row["originator_id"],
            "version": row["originator_version"],
            "reason": self.reason(row),
            "summary": _summary(row),
        }


def _viewer(viewer: Viewer | None, moderator: bool) -> Viewer:
    return viewer if viewer is not None else Viewer(None, moderator)


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
    viewer: Viewer | None = None,
) -> dict[str, Any]:
    """A keyset page of the audit log, as `viewer` may read it (default: a moderator,
    or anyone when moderator=False). `since`/`until` are ISO UTC texts as stored (the
    event's time, since inclusive, until exclusive); `cursor` the last position seen.
    Filtered by actor, an entry whose actor the policy withholds is left out (the
    filter would name them)."""
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
    opened = _Opened(engine, rows, _viewer(viewer, moderator))
    entries = [opened.entry(r) for r in rows]
    if actor_id is not None:
        entries = [e for e in entries if e["actor"] is not None]
    return {
        "entries": entries,
        "next_cursor": rows[-1]["position"] if more else None,
    }


def timeline(
    engine: Engine,
    thread_id: str,
    *,
    cursor: int | None = None,
    limit: int = 100,
    moderator: bool = False,
    viewer: Viewer | None = None,
) -> dict[str, Any]:
    """The thread's change points in log order (oldest first), a keyset page."""
    page = audit_page(
        engine,
        thread_id=thread_id,
        cursor=cursor,
        limit=limit,
        newest_first=False,
        moderator=moderator,
        viewer=viewer,
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
                "reason": e["reason"],
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
    engine: Engine,
    thread_id: str,
    start: int,
    stop: int,
    *,
    moderator: bool = False,
    viewer: Viewer | None = None,
) -> dict[str, Any]:
    """What changed in a thread after position `start` up to and including `stop`:
    comments added, edited (with the version range), retracted, hidden, restored,
    erased (a comment or one revision, with the basis) and suppressed or unsuppressed
    (a revision), and changes to the thread itself; reasons as `viewer` may read them.
    Rows are read in pages of the thread index."""
    viewer = _viewer(viewer, moderator)
    t = engine.tables("audit")
    sql = engine.store.reader()
    added, retracted, hidden, restored, thread_changes = [], [], [], [], []
    erased, suppressed = [], []
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
        opened = _Opened(engine, rows, viewer)
        revisions = history.decision_revisions(engine, rows)
        for row in rows:
            entry = opened.entry(row)
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
            elif kind in ("Comment.Erased", "Comment.RevisionErased"):
                basis = row["reason"]
                erased.append(
                    {
                        **base,
                        "revision": revisions.get(row["position"]),
                        "scope": "revision" if kind == "Comment.RevisionErased" else "comment",
                        "basis": basis,
                        "basis_label": visibility.basis_label(basis) if basis else None,
                    }
                )
                decided = opened.decided.get(row["comment_id"])
                if kind == "Comment.Erased" and decided is not None:
                    erased[-1]["scope"] = decided.erased_scope or "comment"
            elif kind in ("Comment.RevisionSuppressed", "Comment.RevisionUnsuppressed"):
                suppressed.append(
                    {
                        **base,
                        "kind": (
                            "suppressed" if kind == "Comment.RevisionSuppressed" else "unsuppressed"
                        ),
                        "revision": revisions.get(row["position"]),
                        "reason": entry["reason"],
                    }
                )
            else:
                thread_changes.append(
                    {
                        "kind": kind,
                        "position": row["position"],
                        "at": row["at"],
                        "actor": entry["actor"],
                        "summary": entry["summary"],
                        "reason": entry["reason"],
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
        "erased": erased,
        "suppressed": suppressed,
        "thread": thread_changes,
    }
