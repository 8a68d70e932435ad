"""Which projections a `discuss rebuild` run still has to rebuild, kept in the store so
that a run killed in its middle (kill -9, a crash, Ctrl-C) continues when started again
instead of rebuilding from the first event the projections it had already switched.

One small table, `projection_rebuild_queue` (name): a run queues its projections, and
each one's row is deleted in the transaction of its switch (projections/rebuild.py), so
a row exists exactly while that projection still has to be switched. The table is
created by the rebuild command itself (an explicit operator command), so stores made
before it need no new `init-db`."""

from __future__ import annotations

from collections.abc import Sequence

from projections.db import Sql
from projections.engine import Engine
from projections.tracking import now_iso

DDL = """CREATE TABLE IF NOT EXISTS projection_rebuild_queue (
    name TEXT PRIMARY KEY,
    queued_at TEXT NOT NULL)"""


def start_run(engine: Engine, names: Sequence[str]) -> list[str]:
    """The projections this run rebuilds, in `names`' order: those of `names` still
    queued by an interrupted run, if any; else all of `names`, queued now."""
    with engine.store.transaction(lock="schema") as sql:
        sql.execute(DDL)
        queued = {r["name"] for r in sql.execute("SELECT name FROM projection_rebuild_queue").all()}
        left = [name for name in names if name in queued]
        if left:
            return left
        at = now_iso()
        for name in names:
            sql.execute(
                "INSERT INTO projection_rebuild_queue (name, queued_at) VALUES (?, ?)", (name, at)
            )
        return list(names)


def finished(sql: Sql, name: str) -> None:
    """Called inside the switch's transaction: `name` no longer has to be rebuilt."""
    sql.execute("DELETE FROM projection_rebuild_queue WHERE name = ?", (name,))
