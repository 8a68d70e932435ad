"""Helpers for read endpoints: the engine, and read-your-writes waits."""

from __future__ import annotations

import sqlite3
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg

from projections import queries
from projections.engine import Engine, Tables
from projections.queries import NotInView
from web.errors import ApiError
from web.runtime import runtime

T = TypeVar("T")

# The thread view's generation each engine last saw serving. Only a hint: every read
# checks it in the same statement as the thread row (serving_thread_row), so a
# rebuild's switch is seen by the next request, with no extra round trip.
_serving_hint: weakref.WeakKeyDictionary[Engine, int] = weakref.WeakKeyDictionary()


def engine() -> Engine:
    return runtime().services.engine


def page_request(args: dict[str, Any], moderator: bool) -> queries.PageRequest:
    """The page of a thread or subtree a read asks for (its query, loaded by a schema)."""
    return queries.PageRequest(
        limit=args["limit"],
        cursor=args["cursor"],
        depth=args["depth"],
        sort=args["sort"],
        moderator=moderator,
    )


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


def _dropped_table(error: Exception) -> bool:
    if isinstance(error, psycopg.errors.UndefinedTable):
        return True
    return isinstance(error, sqlite3.OperationalError) and "no such table" in str(error)


def on_serving_tables(eng: Engine, read: Callable[[], T]) -> T:
    """`read()`, once more if it hit a table that a rebuild dropped meanwhile (its
    switch came after the generation was read, and the 2 s grace has passed): the
    next attempt reads the serving generation afresh. Never a 500 for a switch."""
    try:
        return read()
    except (psycopg.errors.UndefinedTable, sqlite3.OperationalError) as error:
        if not _dropped_table(error):
            raise
        _serving_hint[eng] = eng.generation("threads")
        return read()


def _serving_read(eng: Engine, read_row: Callable, key: str, what: str):
    """(tables, row) from read_row(engine, key, generation) -> (serving, row): one
    statement when the generation is the one seen last (always, but after a switch)."""

    def read() -> tuple[Tables, dict[str, Any]]:
        generation = _serving_hint.get(eng)
        if generation is None:
            generation = _serving_hint[eng] = eng.generation("threads")
        serving, row = read_row(eng, key, generation)
        if serving != generation:  # a rebuild switched since: read the new tables
            _serving_hint[eng] = serving
            generation, row = serving, read_row(eng, key, serving)[1]
        if row is None:
            raise NotInView(f"no {what} with id {key}")
        return eng.projections["threads"].tables(generation), row

    return on_serving_tables(eng, read)


def serving_thread(eng: Engine, thread_id: str) -> tuple[Tables, dict[str, Any]]:
    """The serving tables of the thread view and the thread's row."""
    return _serving_read(eng, queries.serving_thread_row, thread_id, "thread")


def serving_comment(eng: Engine, comment_id: str) -> tuple[Tables, dict[str, Any]]:
    """The serving tables and the comment's thread id and that thread's last applied
    position: every change below the comment touches the thread's row, so this is
    enough for an ETag of the comment's subtree (the body is not built)."""
    return _serving_read(eng, queries.serving_comment_thread, comment_id, "comment")
