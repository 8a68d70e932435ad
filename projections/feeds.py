"""Named queries of the Atom feeds (web/pages/feeds.py): recent comments site-wide or of
one thread, replies to one author, and the recent changes (every event) for moderators.

Pages are keysets on the log position, newest first: `before` reads older entries,
`after` newer ones (RFC 5005 paged feeds: the web turns `older`/`newer` into links).
Every entry goes through the one visibility policy as a thread page shows it to a
reader who is not signed in (projections/queries.py, comments_as_seen): a comment that
is hidden, retracted, erased, whose current text is suppressed, or whose key is gone is
left out, today, whenever it was posted, so an entry withheld later leaves the feed.
The recent changes are the audit log as the moderator reading it may see it.

`version()` is what a feed's ETag is made of: the positions (and generations) of the
read models the feeds read, so it moves with every event that could change one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from projections import audit_log, queries, visibility
from projections.engine import Engine
from projections.visibility import Viewer

READ_MODELS = ("threads", "audit", "decisions", "replies")
POSTED = "Comment.Posted"


@dataclass(frozen=True)
class Window:
    """Which page: the newest (neither), older than `before`, or newer than `after`."""

    before: int | None = None
    after: int | None = None
    limit: int = 30


def version(engine: Engine) -> tuple[int, ...]:
    return tuple(
        part for name in READ_MODELS for part in (engine.generation(name), engine.position(name))
    )


def _page(rows: list[dict[str, Any]], window: Window) -> tuple[list[dict], dict[str, int | None]]:
    """Rows read limit+1 in the window's order, as newest first, with the cursors of the
    neighbouring pages (None where there is none)."""
    more = len(rows) > window.limit
    rows = rows[: window.limit]
    if window.after is not None:
        rows.reverse()
    if not rows:
        return rows, {"older": window.after, "newer": window.before}
    newest, oldest = rows[0]["position"], rows[-1]["position"]
    older = oldest if (more or window.after is not None) else None
    newer = newest if (window.before is not None or (window.after is not None and more)) else None
    return rows, {"older": older, "newer": newer}


def _keyset(window: Window) -> tuple[str, list[int], str]:
    if window.after is not None:
        return " AND position > ?", [window.after], "ASC"
    if window.before is not None:
        return " AND position < ?", [window.before], "DESC"
    return "", [], "DESC"


def _comment_entries(engine: Engine, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with position and comment_id, as feed entries (withheld ones left out)."""
    nodes = queries.comments_as_seen(engine, [r["comment_id"] for r in rows])
    threads: dict[str, dict[str, Any]] = {}
    entries = []
    for row in rows:
        node = nodes.get(row["comment_id"])
        if node is None or node["state"] != "visible" or node["text"] is None:
            continue
        if node["author"] is None:
            continue
        thread_id = node["thread_id"]
        if thread_id not in threads:
            threads[thread_id] = queries.thread_meta(queries.thread_row(engine, thread_id))
        entries.append(
            {
                "position": row["position"],
                "comment_id": node["id"],
                "parent_id": node["parent_id"],
                "thread": threads[thread_id],
                "author": node["author"],
                "text": node["text"],
                "posted_at": node["posted_at"],
                "updated_at": node["last_edited_at"] or node["posted_at"],
            }
        )
    return entries


def recent_comments(engine: Engine, window: Window, thread_id: str | None = None) -> dict[str, Any]:
    """Comments newest first (site-wide, or of one thread), as anyone may read them."""
    t = engine.tables("audit")
    where, params, order = _keyset(window)
    if thread_id is not None:
        where += " AND thread_id = ?"
        params.append(thread_id)
    rows = (
        engine.store.reader()
        .execute(
            f"SELECT position, comment_id FROM {t.events} WHERE type = ?{where}"
            f" ORDER BY position {order} LIMIT ?",
            (POSTED, *params, window.limit + 1),
        )
        .all()
    )
    rows, links = _page(rows, window)
    return {"entries": _comment_entries(engine, rows), **links}


def replies_to(engine: Engine, author_id: str, window: Window) -> dict[str, Any]:
    """Replies to the comments of one author, newest first. A reply is listed only while
    both it and the comment it answers may be read, with that author named: a reply to
    a comment that is withheld now does not tie its author to it."""
    t = engine.tables("replies")
    where, params, order = _keyset(window)
    rows = (
        engine.store.reader()
        .execute(
            f"SELECT position, comment_id, parent_id FROM {t.replies}"
            f" WHERE parent_author_id = ?{where} ORDER BY position {order} LIMIT ?",
            (author_id, *params, window.limit + 1),
        )
        .all()
    )
    rows, links = _page(rows, window)
    parents = queries.comments_as_seen(engine, [r["parent_id"] for r in rows])
    named = [
        r
        for r in rows
        if (p := parents.get(r["parent_id"])) is not None
        and p["author"] is not None
        and p["author"]["id"] == author_id
    ]
    return {"entries": _comment_entries(engine, named), **links}


def author_name(engine: Engine, author_id: str) -> str | None:
    """The author's display name as pages show it (None: no such author)."""
    return visibility.author_names(engine, [author_id]).get(author_id)


def recent_changes(engine: Engine, viewer: Viewer, window: Window) -> dict[str, Any]:
    """Every event, newest first, as the audit log shows it to `viewer` (a moderator)."""
    cursor = window.after if window.after is not None else window.before
    page = audit_log.audit_page(
        engine,
        cursor=cursor,
        limit=window.limit,
        newest_first=window.after is None,
        viewer=viewer,
    )
    entries = page["entries"]
    rows = [{"position": e["position"]} for e in entries]
    if page["next_cursor"] is not None:
        rows.append({"position": page["next_cursor"]})  # stands for "more" in _page
    ordered, links = _page(rows, window)
    by_position = {e["position"]: e for e in entries}
    return {"entries": [by_position[r["position"]] for r in ordered], **links}
