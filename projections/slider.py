"""Named queries of a thread's change points (the audit log's rows of the thread), for
the time slider: its range, the index of a point, and the point at an index."""

from __future__ import annotations

from typing import Any

from projections.engine import Engine


def _events(engine: Engine) -> str:
    return engine.tables("audit").events


def span(engine: Engine, thread_id: str) -> dict[str, Any]:
    """{"count", "first", "last"}: how many change points, the first and last positions."""
    row = (
        engine.store.reader()
        .execute(
            f"SELECT COUNT(*) AS n, MIN(position) AS first, MAX(position) AS last"
            f" FROM {_events(engine)} WHERE thread_id = ?",
            (thread_id,),
        )
        .one()
    )
    count = int(row["n"] or 0) if row else 0
    return {
        "count": count,
        "first": row["first"] if count else None,
        "last": row["last"] if count else None,
    }


def points_up_to(engine: Engine, thread_id: str, position: int) -> int:
    """How many change points the thread has at or before `position`."""
    found = (
        engine.store.reader()
        .execute(
            f"SELECT COUNT(*) AS n FROM {_events(engine)} WHERE thread_id = ? AND position <= ?",
            (thread_id, position),
        )
        .scalar()
    )
    return int(found or 0)


def position_at(engine: Engine, thread_id: str, index: int) -> tuple[int, bool] | None:
    """(position, is the latest) of the index-th (0-based, clamped) change point."""
    count = span(engine, thread_id)["count"]
    if count == 0:
        return None
    index = min(max(index, 0), count - 1)
    position = (
        engine.store.reader()
        .execute(
            f"SELECT position FROM {_events(engine)} WHERE thread_id = ?"
            " ORDER BY position LIMIT 1 OFFSET ?",
            (thread_id, index),
        )
        .scalar()
    )
    return int(position), index == count - 1
