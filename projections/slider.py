"""Named queries of a thread's change points (the audit log's rows of the thread), for
the time slider: its range, the index of a point, and the point at an index. Outside
moderators' views the points leave out what readers may not know of (comments held
for review: projections/audit_log.readers_filter), as the labelled points do."""

from __future__ import annotations

from typing import Any

from projections.audit_log import readers_filter
from projections.engine import Engine


def _events(engine: Engine) -> str:
    return engine.tables("audit").events


def _seen(engine: Engine, thread_id: str, moderator: bool) -> tuple[str, tuple]:
    if moderator:
        return "", ()
    condition, params = readers_filter(engine, thread_id)
    return f" AND {condition}", params


def span(engine: Engine, thread_id: str, moderator: bool = False) -> dict[str, Any]:
    """{"count", "first", "last"}: how many change points, the first and last positions."""
    seen, more = _seen(engine, thread_id, moderator)
    row = (
        engine.store.reader()
        .execute(
            f"SELECT COUNT(*) AS n, MIN(position) AS first, MAX(position) AS last"
            f" FROM {_events(engine)} WHERE thread_id = ?{seen}",
            (thread_id, *more),
        )
        .one()
    )
    count = int(row["n"] or 0) if row else 0
    return {
        "count": count,
        "first": row["first"] if count else None,
        "last": row["last"] if count else None,
    }


def points_up_to(engine: Engine, thread_id: str, position: int, moderator: bool = False) -> int:
    """How many change points the thread has at or before `position`."""
    seen, more = _seen(engine, thread_id, moderator)
    found = (
        engine.store.reader()
        .execute(
            f"SELECT COUNT(*) AS n FROM {_events(engine)} WHERE thread_id = ?"
            f" AND position <= ?{seen}",
            (thread_id, position, *more),
        )
        .scalar()
    )
    return int(found or 0)


def position_at(
    engine: Engine, thread_id: str, index: int, moderator: bool = False
) -> tuple[int, bool] | None:
    """(position, is the latest) of the index-th (0-based, clamped) change point."""
    count = span(engine, thread_id, moderator)["count"]
    if count == 0:
        return None
    index = min(max(index, 0), count - 1)
    seen, more = _seen(engine, thread_id, moderator)
    position = (
        engine.store.reader()
        .execute(
            f"SELECT position FROM {_events(engine)} WHERE thread_id = ?{seen}"
            " ORDER BY position LIMIT 1 OFFSET ?",
            (thread_id, *more, index),
        )
        .scalar()
    )
    return int(position), index == count - 1
