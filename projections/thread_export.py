"""A thread's current state as the simple nested JSON of the demo thread's file
(workers/data/seed-thread.json), for people who only want the text:

    {"site": ..., "title": ..., "body": ...,
     "comments": [{"author": name, "text": text, "replies": [...]}, ...]}

Read from the live thread view as the public sees the thread: through the one
visibility policy (projections/visibility.py) with the anonymous viewer on the THREAD
surface -- the very nodes of `queries.thread_page` (today's decisions applied, names
and texts opened) -- comments nested under their parents, top level and replies in
posting order, each with its current (latest edited) text and its author's display
name.

A comment whose text the anonymous viewer may not read (retracted, hidden, erased, a
suppressed revision, content whose key is lost) keeps its place, so that its replies
keep theirs, as a placeholder with the policy's words and no text:
`{"author": null, "text": null, "state": "retracted" | "hidden" | "erased" | ...,
"placeholder": "retracted by its author on 6 December 2026", "replies": [...]}`. The
author is named only where the policy names them to the public (a suppressed
revision's author, say); a withheld comment's author is null. Only placeholders have a
"state": a visible comment is exactly the seed file's shape. "site" is not known to
the store: the caller may name it.
"""

from __future__ import annotations

from typing import Any

from projections import queries
from projections.engine import Engine
from projections.queries import PageRequest

# Top-level comments read per page of the thread (each with all its replies).
PAGE = 500
EVERY_LEVEL = 1_000_000


def export_thread_state(
    engine: Engine, thread_id: Any, *, site: str | None = None
) -> dict[str, Any]:
    """The thread as nested JSON-ready dicts; NotInView if the view has no such thread."""
    thread_id = str(thread_id)
    request = PageRequest(limit=PAGE, depth=EVERY_LEVEL, replies_limit=EVERY_LEVEL)
    page = queries.thread_page(engine, thread_id, request)
    thread = page["thread"]
    comments = [_node(c) for c in page["comments"]]
    while page["page"]["next_cursor"] is not None:
        request = PageRequest(
            limit=PAGE,
            cursor=page["page"]["next_cursor"],
            depth=EVERY_LEVEL,
            replies_limit=EVERY_LEVEL,
        )
        page = queries.thread_page(engine, thread_id, request)
        comments += [_node(c) for c in page["comments"]]
    return {"site": site, "title": thread["title"], "body": thread["body"], "comments": comments}


def _node(comment: dict[str, Any]) -> dict[str, Any]:
    """A node of the policy's page (anonymous viewer) in the seed file's shape."""
    if comment["more_replies"] is not None:  # every level is read: never cut
        raise LookupError(f"comment {comment['id']}: its replies were not all read")
    author = comment["author"]["name"] if comment["author"] else None
    replies = [_node(reply) for reply in comment["replies"]]
    if comment["text"] is not None and comment["placeholder"] is None:
        return {"author": author, "text": comment["text"], "replies": replies}
    return {
        "author": author,
        "text": None,
        "state": comment["state"],
        "placeholder": comment["placeholder"],
        "replies": replies,
    }
