"""Where a comment is shown: the URL of the page that contains it (a page of the
thread, or a "continue this thread" page), from its place in the thread
(projections/locate.py)."""

from __future__ import annotations

from typing import Any

from flask import url_for

from projections.engine import Engine
from projections.locate import Place, cursor_for, numbers, numbers_for, place
from web.pages.common import PAGE_DEPTH, PAGE_LIMIT, REPLIES_LIMIT, SUBTREE_LIMIT, thread_ref

__all__ = ["Place", "cursor_for", "numbers", "numbers_for", "place", "url_of"]


def url_of(engine: Engine, where: Place, thread: dict[str, Any]) -> str:
    """The URL of the page that shows the comment, anchored to it."""
    anchor = f"c-{where.comment_id}"
    deep = where.depth > PAGE_DEPTH or any(i > REPLIES_LIMIT for i in where.indexes[1:])
    if not deep:
        cursor = cursor_for(engine, where.thread_id, where.indexes[0], PAGE_LIMIT, None)
        params = {"cursor": cursor} if cursor is not None else {}
        return url_for("pages.thread", ref=thread_ref(thread), _anchor=anchor, **params)
    # Deep: the page of its parent's replies that holds it.
    parent_id = where.parent_id
    cursor = cursor_for(engine, where.thread_id, where.indexes[-1], SUBTREE_LIMIT, parent_id)
    params = {"cursor": cursor} if cursor is not None else {}
    return url_for(
        "pages.subtree",
        thread_id=where.thread_id,
        comment_id=parent_id,
        _anchor=anchor,
        **params,
    )
