"""A thread's current state as the simple nested JSON of the demo thread's file
(workers/data/seed-thread.json), for people who only want the text:

    {"site": ..., "title": ..., "body": ...,
     "comments": [{"author": name, "text": text, "replies": [...]}, ...]}

Read from the live thread view (the `tv_` tables), as the public sees the thread:
comments nested under their parents, top level and replies in posting order, each
with its current (latest edited) text and its author's display name.

A comment that is not visible keeps its place, so that its replies keep theirs, as
a placeholder: `{"author": null, "text": null, "state": "retracted" | "hidden",
"replies": [...]}`. Only placeholders have a "state": a visible comment is exactly
the seed file's shape. A hidden comment's text is not exported (moderators read it
in the thread view). "site" is not known to the store: the caller may name it.
"""

from __future__ import annotations

from typing import Any

from domain.model import VISIBLE
from projections.engine import Engine
from projections.queries import thread_row


def export_thread_state(
    engine: Engine, thread_id: Any, *, site: str | None = None
) -> dict[str, Any]:
    """The thread as nested JSON-ready dicts; NotInView if the view has no such thread."""
    thread_id = str(thread_id)
    thread = thread_row(engine, thread_id)
    t = engine.tables("threads")
    rows = (
        engine.store.reader()
        .execute(
            f"SELECT comment_id, parent_id, author_name, text, state FROM {t.comments}"
            " WHERE thread_id = ? ORDER BY seq",
            (thread_id,),
        )
        .all()
    )
    top: list[dict[str, Any]] = []
    nodes: dict[str, dict[str, Any]] = {}
    for row in rows:  # posting order: a parent comes before its replies
        if row["state"] == VISIBLE:
            node = {"author": row["author_name"], "text": row["text"], "replies": []}
        else:
            node = {"author": None, "text": None, "state": row["state"], "replies": []}
        nodes[row["comment_id"]] = node
        parent_id = row["parent_id"]
        if parent_id is None:
            top.append(node)
        else:
            parent = nodes.get(parent_id)
            if parent is None:
                raise LookupError(f"comment {row['comment_id']}: parent {parent_id} not in view")
            parent["replies"].append(node)
    return {"site": site, "title": thread["title"], "body": thread["body"], "comments": top}
