"""Named queries of the live updates (Server-Sent Events, web/api/live.py): a thread's
changes after a position of the log, each with the comment it concerns as a thread page
shows it to the viewer now (projections/queries.py, comments_as_seen, through the one
visibility policy): a comment hidden, retracted or erased since it was posted comes as
its placeholder, never its text, whichever position a client resumes from.

Changes are read from the audit log (one row per event, in log order), up to
`served_position()`: the position every read model the events need has applied, so a
change is never sent before the comment it names can be shown, and a client resuming
after position P gets every change of its thread after P, none twice, in order.
"""

from __future__ import annotations

import re
from typing import Any

from projections import queries
from projections.engine import Engine

# What the events need: the change (audit), the comment (threads), today's decisions.
READ_MODELS = ("audit", "threads", "decisions")
THREAD_KINDS = ("Comment.", "Thread.")
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def event_name(kind: str) -> str:
    """ "Comment.RevisionSuppressed" -> "comment.revision_suppressed"."""
    aggregate, _, name = kind.partition(".")
    return f"{aggregate.lower()}.{_CAMEL.sub('_', name).lower()}"


def served_position(engine: Engine) -> int:
    return min(engine.position(name) for name in READ_MODELS)


def touched_threads(engine: Engine, after: int, until: int) -> set[str]:
    """The threads with a change after `after` up to `until`."""
    t = engine.tables("audit")
    rows = (
        engine.store.reader()
        .execute(
            f"SELECT DISTINCT thread_id FROM {t.events}"
            " WHERE position > ? AND position <= ? AND thread_id IS NOT NULL",
            (after, until),
        )
        .all()
    )
    return {r["thread_id"] for r in rows}


def thread_changes(
    engine: Engine,
    thread_id: str,
    after: int,
    until: int,
    *,
    moderator: bool = False,
    limit: int = 500,
) -> tuple[list[dict[str, Any]], int]:
    """The thread's changes after `after` up to `until` (at most `limit`, oldest first),
    as the viewer may see them: {position, event, thread_id, comment_id, at, comment};
    and the position they go through (`until`, or the last one read when `limit` cut
    the page short: read on from there)."""
    t = engine.tables("audit")
    rows = (
        engine.store.reader()
        .execute(
            f"SELECT position, type, at, comment_id FROM {t.events}"
            " WHERE thread_id = ? AND position > ? AND position <= ?"
            " ORDER BY position LIMIT ?",
            (thread_id, after, until, limit),
        )
        .all()
    )
    through = rows[-1]["position"] if len(rows) == limit else until
    rows = [r for r in rows if r["type"].startswith(THREAD_KINDS)]
    nodes = queries.comments_as_seen(
        engine, [r["comment_id"] for r in rows if r["comment_id"]], moderator
    )
    changes = []
    for row in rows:
        node = nodes.get(row["comment_id"]) if row["comment_id"] else None
        if node is not None:
            node = {k: v for k, v in node.items() if k not in ("replies", "more_replies")}
        changes.append(
            {
                "position": row["position"],
                "event": event_name(row["type"]),
                "thread_id": thread_id,
                "comment_id": row["comment_id"],
                "parent_id": node["parent_id"] if node else None,
                "at": row["at"],
                "comment": node,
            }
        )
    return changes, through


def thread_exists(engine: Engine, thread_id: str) -> bool:
    try:
        queries.thread_row(engine, thread_id)
    except queries.NotInView:
        return False
    return True
