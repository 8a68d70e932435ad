"""Helpers for read endpoints: the engine, and read-your-writes waits."""

from __future__ import annotations

from projections.engine import Engine
from projections.queries import NotInView
from web.errors import ApiError
from web.runtime import runtime


def engine() -> Engine:
    return runtime().services.engine


def wait_for_position(position: int | None) -> None:
    """Block (bounded) until the projections include `position`; 503 when time runs out.

    A position beyond the head of the log was never returned by a write: that is the
    client's mistake (422), not worth waiting for."""
    if not position or runtime().wait_for(position, timeout=0):
        return
    head = runtime().services.app.head_position()
    if position > head:
        raise ApiError(
            422,
            "validation_failed",
            "some fields are not valid",
            fields={"min_position": [f"beyond the last position of the log ({head})"]},
        )
    if not runtime().wait_for(position):
        raise ApiError(
            503,
            "not_yet_visible",
            f"the projections have not reached position {position} yet; retry shortly",
            headers={"Retry-After": "1"},
        )


def comment_etag_parts(eng: Engine, comment_id: str) -> tuple[str, int]:
    """The thread a comment belongs to and that thread's last applied position: every
    change below the comment touches the thread's row, so this is enough for an ETag
    of the comment's subtree (one indexed read; the body is not built)."""
    t = eng.tables("threads")
    row = (
        eng.store.reader()
        .execute(
            f"SELECT c.thread_id AS thread_id, t.last_position AS last_position"
            f" FROM {t.comments} c JOIN {t.threads} t ON t.thread_id = c.thread_id"
            " WHERE c.comment_id = ?",
            (comment_id,),
        )
        .one()
    )
    if row is None:
        raise NotInView(f"no comment with id {comment_id}")
    return row["thread_id"], int(row["last_position"])
