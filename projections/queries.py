"""Reads of the thread view for the web: pages of top-level comments with their
subtrees, keyset-paginated, with counts of what is not on the page.

Results are plain dicts and lists, ready for the web's schemas. Cursors are the
`seq` (log position of the post) of the last item on the page: opaque to clients.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from projections.engine import Engine
from projections.thread_view import seq_key

REMOVED_BY_MODERATOR = "removed by a moderator"
RETRACTED_BY_AUTHOR = "retracted"


class NotInView(LookupError):
    """The thread or comment is not in the projection (unknown, or not applied yet)."""


@dataclass(frozen=True)
class PageRequest:
    limit: int = 50  # top-level comments (or direct children) per page
    cursor: int | None = None  # seq of the last item of the previous page
    depth: int = 6  # levels below the page's items; deeper subtrees become "more" markers
    sort: str = "oldest"  # or "newest" (top level only; replies stay in posting order)
    replies_limit: int = 100  # replies per comment before a "more" marker
    moderator: bool = False


def thread_row(engine: Engine, thread_id: str) -> dict[str, Any]:
    t = engine.tables("threads")
    row = (
        engine.store.reader()
        .execute(f"SELECT * FROM {t.threads} WHERE thread_id = ?", (thread_id,))
        .one()
    )
    if row is None:
        raise NotInView(f"no thread with id {thread_id}")
    return row


def thread_id_for_key(engine: Engine, key: str) -> str:
    t = engine.tables("threads")
    thread_id = (
        engine.store.reader()
        .execute(f"SELECT thread_id FROM {t.threads} WHERE thread_key = ?", (key,))
        .scalar()
    )
    if thread_id is None:
        raise NotInView(f"no thread with key {key!r}")
    return thread_id


def thread_meta(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["thread_id"],
        "key": row["thread_key"],
        "title": row["title"],
        "body": row["body"],
        "locked": bool(row["locked"]),
        "opened_at": row["opened_at"],
        "comment_count": row["comment_count"],
        "visible_count": row["visible_count"],
        "top_level_count": row["top_level_count"],
        "last_activity_at": row["last_activity_at"],
        "position": row["last_position"],
    }


def list_threads(engine: Engine, limit: int = 20, cursor: tuple[str, str] | None = None) -> dict:
    """Most recent activity first; cursor = (last_activity_at, thread_id) of the last row."""
    t = engine.tables("threads")
    sql = engine.store.reader()
    where, params = "", []
    if cursor is not None:
        where = "WHERE (last_activity_at < ? OR (last_activity_at = ? AND thread_id < ?))"
        params = [cursor[0], cursor[0], cursor[1]]
    rows = sql.execute(
        f"SELECT * FROM {t.threads} {where} ORDER BY last_activity_at DESC, thread_id DESC LIMIT ?",
        (*params, limit + 1),
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = (rows[-1]["last_activity_at"], rows[-1]["thread_id"]) if more else None
    return {"threads": [thread_meta(r) for r in rows], "next_cursor": next_cursor}


def _comment(row: dict[str, Any], hidden: dict[str, dict], moderator: bool) -> dict[str, Any]:
    state = row["state"]
    author = {"id": row["author_id"], "name": row["author_name"]} if row["author_id"] else None
    text = row["text"]
    placeholder = None
    if state == "hidden":
        placeholder = REMOVED_BY_MODERATOR
        kept = hidden.get(row["comment_id"])
        if moderator and kept:
            author = {"id": kept["author_id"], "name": kept["author_name"]}
            text = kept["text"]
    elif state == "retracted":
        placeholder = RETRACTED_BY_AUTHOR
    return {
        "id": row["comment_id"],
        "parent_id": row["parent_id"],
        "depth": row["depth"],
        "author": author,
        "text": text,
        "state": state,
        "placeholder": placeholder,
        "state_reason": row["state_reason"] if (moderator or state == "retracted") else None,
        "posted_at": row["posted_at"],
        "edited": row["edit_count"] > 0,
        "edit_count": row["edit_count"],
        "last_edited_at": row["edited_at"],
        "version": row["version"],
        "reply_count": row["reply_count"],
        "descendant_count": row["descendant_count"],
        "replies": [],
        "more_replies": None,
    }


def _hidden_texts(engine: Engine, rows: list[dict], moderator: bool) -> dict[str, dict]:
    ids = [r["comment_id"] for r in rows if r["state"] == "hidden"]
    if not moderator or not ids:
        return {}
    t = engine.tables("threads")
    marks = ", ".join("?" * len(ids))
    found = (
        engine.store.reader()
        .execute(f"SELECT * FROM {t.hidden} WHERE comment_id IN ({marks})", ids)
        .all()
    )
    return {r["comment_id"]: r for r in found}


def _nest(
    engine: Engine, tops: list[dict], descendants: list[dict], req: PageRequest, max_depth: int
) -> list[dict]:
    """Assemble rows (tops + their descendants in path order) into nested dicts, cutting
    at `max_depth` and after `replies_limit` replies per comment with "more" markers."""
    hidden = _hidden_texts(engine, tops + descendants, req.moderator)
    by_id: dict[str, dict] = {}
    result = []
    for row in tops:
        node = by_id[row["comment_id"]] = _comment(row, hidden, req.moderator)
        result.append(node)
    for row in descendants:
        parent = by_id.get(row["parent_id"])
        if parent is None:
            continue  # under a cut-off branch
        if row["depth"] > max_depth or len(parent["replies"]) >= req.replies_limit:
            _mark_more(parent)
            continue
        node = by_id[row["comment_id"]] = _comment(row, hidden, req.moderator)
        parent["replies"].append(node)
    for node in by_id.values():
        if node["more_replies"] is not None or len(node["replies"]) < node["reply_count"]:
            _mark_more(node)
    return result


def _mark_more(node: dict) -> None:
    shown = len(node["replies"])
    shown_below = sum(1 + r["descendant_count"] for r in node["replies"])
    node["more_replies"] = {
        "replies": node["reply_count"] - shown,
        "comments": node["descendant_count"] - shown_below,
        "continue_from": node["id"],
    }


def _page_of(engine: Engine, where: str, params: tuple, req: PageRequest) -> tuple[list, bool]:
    t = engine.tables("threads")
    newest = req.sort == "newest"
    op, order = ("<", "DESC") if newest else (">", "ASC")
    cursor_sql = f" AND seq {op} ?" if req.cursor is not None else ""
    cursor_params = (req.cursor,) if req.cursor is not None else ()
    rows = (
        engine.store.reader()
        .execute(
            f"SELECT * FROM {t.comments} WHERE {where}{cursor_sql} ORDER BY seq {order} LIMIT ?",
            (*params, *cursor_params, req.limit + 1),
        )
        .all()
    )
    return rows[: req.limit], len(rows) > req.limit


def _subtrees(engine: Engine, thread_id: str, tops: list[dict], max_depth: int) -> list[dict]:
    """Descendants of the given comments down to max_depth + 1 (to know what is cut)."""
    if not tops:
        return []
    t = engine.tables("threads")
    sql = engine.store.reader()
    rows: list[dict] = []
    for top in tops:
        if top["descendant_count"] == 0:
            continue
        prefix = top["path"] + "/"
        rows += sql.execute(
            f"SELECT * FROM {t.comments} WHERE thread_id = ? AND root_seq = ?"
            " AND path > ? AND path < ? AND depth <= ? ORDER BY path",
            (thread_id, top["root_seq"], prefix, prefix + "~", max_depth + 1),
        ).all()
    return rows


def _remaining(
    engine: Engine, where: str, params: tuple, last_seq: int | None, req: PageRequest
) -> int:
    if last_seq is None:
        return 0
    t = engine.tables("threads")
    op = "<" if req.sort == "newest" else ">"
    return int(
        engine.store.reader()
        .execute(
            f"SELECT COUNT(*) AS n FROM {t.comments} WHERE {where} AND seq {op} ?",
            (*params, last_seq),
        )
        .scalar()
    )


def thread_page(engine: Engine, thread_id: str, req: PageRequest) -> dict[str, Any]:
    row = thread_row(engine, thread_id)
    where, params = "thread_id = ? AND depth = 0", (thread_id,)
    tops, more = _page_of(engine, where, params, req)
    descendants = _subtrees(engine, thread_id, tops, req.depth)
    comments = _nest(engine, tops, descendants, req, req.depth)
    last_seq = tops[-1]["seq"] if tops else None
    remaining = _remaining(engine, where, params, last_seq, req) if more else 0
    return {
        "thread": thread_meta(row),
        "comments": comments,
        "page": {
            "next_cursor": last_seq if more else None,
            "remaining_top_level": remaining,
            "comments_on_page": _count(comments),
        },
    }


def comment_subtree(engine: Engine, comment_id: str, req: PageRequest) -> dict[str, Any]:
    """One comment with a page of its direct replies and their subtrees."""
    t = engine.tables("threads")
    sql = engine.store.reader()
    row = sql.execute(f"SELECT * FROM {t.comments} WHERE comment_id = ?", (comment_id,)).one()
    if row is None:
        raise NotInView(f"no comment with id {comment_id}")
    thread_id = row["thread_id"]
    hidden = _hidden_texts(engine, [row], req.moderator)
    node = _comment(row, hidden, req.moderator)
    where, params = "thread_id = ? AND parent_id = ?", (thread_id, comment_id)
    children, more = _page_of(engine, where, params, req)
    max_depth = row["depth"] + 1 + req.depth
    descendants = _subtrees(engine, thread_id, children, max_depth)
    node["replies"] = _nest(engine, children, descendants, req, max_depth)
    last_seq = children[-1]["seq"] if children else None
    remaining = _remaining(engine, where, params, last_seq, req) if more else 0
    return {
        "thread": thread_meta(thread_row(engine, thread_id)),
        "comment": node,
        "page": {
            "next_cursor": last_seq if more else None,
            "remaining_replies": remaining,
            "comments_on_page": _count(node["replies"]),
        },
    }


def _count(nodes: list[dict]) -> int:
    return sum(1 + _count(n["replies"]) for n in nodes)


def path_key(seq: int) -> str:
    return seq_key(seq)
