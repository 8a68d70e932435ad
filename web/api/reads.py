"""Helpers for read endpoints: the engine, and read-your-writes waits."""

from __future__ import annotations

from projections.engine import Engine
from web.errors import ApiError
from web.runtime import runtime


def engine() -> Engine:
    return runtime().services.engine


def wait_for_position(position: int | None) -> None:
    """Block (bounded) until the projections include `position`; 503 when time runs out."""
    if position and not runtime().wait_for(position):
        raise ApiError(
            503,
            "not_yet_visible",
            f"the projections have not reached position {position} yet; retry shortly",
            headers={"Retry-After": "1"},
        )
