"""Where each projection is: its generations, the one serving reads, the position each
has applied, and the failure that stopped it.

Two small tables beside the read models: `projection_current` (name -> the serving
generation) and `projection_tracking` (name, generation -> position, error). A page's
rows and its new position are written in the same transaction (projections/applier.py),
under the generation's lock, so a position never runs ahead of or behind its rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from projections.db import Sql, ViewStore, lock_key

STATE_DDL = [
    """CREATE TABLE IF NOT EXISTS projection_tracking (
        name TEXT NOT NULL,
        generation INTEGER NOT NULL,
        position BIGINT NOT NULL DEFAULT 0,
        error TEXT,
        error_position BIGINT,
        updated_at TEXT,
        PRIMARY KEY (name, generation))""",
    """CREATE TABLE IF NOT EXISTS projection_current (
        name TEXT PRIMARY KEY,
        generation INTEGER NOT NULL)""",
]


def iso(ts: datetime) -> str:
    """Timestamps are stored as fixed-width UTC ISO text: identical on both backends."""
    if ts.tzinfo is not UTC:
        ts = ts.astimezone(UTC)
    return ts.isoformat(timespec="microseconds")


def now_iso() -> str:
    return iso(datetime.now(UTC))


class ProjectionFailed(Exception):
    def __init__(self, name: str, position: int, reason: str):
        super().__init__(f"projection {name!r} stopped at position {position}: {reason}")
        self.name = name
        self.position = position
        self.reason = reason


class Tracking:
    """The tracking tables of one view store."""

    def __init__(self, store: ViewStore):
        self.store = store

    # ---- generations -----------------------------------------------------------------

    def create(self, projections: Iterable[Any]) -> None:
        """The tracking tables, and generation 1 of every projection that has none."""
        with self.store.transaction(lock="schema") as sql:
            for ddl in STATE_DDL:
                sql.execute(ddl)
            for projection in projections:
                if self.current(sql, projection.name) is None:
                    self.create_generation(sql, projection, 1)
                    sql.execute(
                        "INSERT INTO projection_current (name, generation) VALUES (?, 1)",
                        (projection.name,),
                    )

    @staticmethod
    def create_generation(
        sql: Sql, projection: Any, generation: int, read_indexes: bool = True
    ) -> None:
        for statement in projection.create_statements(generation, read_indexes):
            sql.execute(statement)
        sql.execute(
            "INSERT INTO projection_tracking (name, generation, position) VALUES (?, ?, 0)"
            " ON CONFLICT (name, generation) DO NOTHING",
            (projection.name, generation),
        )

    @staticmethod
    def current(sql: Sql, name: str) -> int | None:
        """The serving generation; None if the projection has no tables."""
        return sql.execute(
            "SELECT generation FROM projection_current WHERE name = ?", (name,)
        ).scalar()

    def generation(self, name: str) -> int:
        generation = self.current(self.store.reader(), name)
        if generation is None:
            raise RuntimeError(f"projection {name!r} has no tables: run `discuss init-db`")
        return generation

    # ---- locks -----------------------------------------------------------------------

    @staticmethod
    def lock_name(name: str, generation: int) -> str:
        """Writers of one generation of a projection are serialised on this name."""
        return f"projection:{name}:{generation}"

    def lock(self, sql: Sql, name: str, generation: int) -> None:
        """Take one more generation's lock inside an open transaction (PostgreSQL; on
        SQLite the transaction holds the only writer's lock already)."""
        if self.store.postgres:
            sql.execute(
                "SELECT pg_advisory_xact_lock(?)", (lock_key(self.lock_name(name, generation)),)
            )

    # ---- positions -------------------------------------------------------------------

    @staticmethod
    def serving(sql: Sql, name: str) -> tuple[int, int]:
        """(generation, position) of the generation serving reads."""
        row = sql.execute(
            "SELECT c.generation AS generation, t.position AS position"
            " FROM projection_current c LEFT JOIN projection_tracking t"
            " ON t.name = c.name AND t.generation = c.generation WHERE c.name = ?",
            (name,),
        ).one()
        if row is None:
            raise RuntimeError(f"projection {name!r} has no tables: run `discuss init-db`")
        return int(row["generation"]), int(row["position"] or 0)

    def serving_many(self, names: list[str]) -> tuple[dict[str, tuple[int, int]], set[str]]:
        """In one query: (generation, position) of each projection's serving generation,
        in name order, and the names that cannot go with the others (an error recorded,
        no tracking row)."""
        if not names:
            return {}, set()
        rows = (
            self.store.reader()
            .execute(
                "SELECT c.name AS name, c.generation AS generation, t.position AS position,"
                " t.error AS error FROM projection_current c LEFT JOIN projection_tracking t"
                " ON t.name = c.name AND t.generation = c.generation"
                f" WHERE c.name IN ({', '.join('?' * len(names))})",
                names,
            )
            .all()
        )
        found, apart = {}, set()
        for row in rows:
            if row["error"] is not None or row["position"] is None:
                apart.add(row["name"])
            else:
                found[row["name"]] = (int(row["generation"]), int(row["position"]))
        apart.update(name for name in names if name not in found)
        return dict(sorted(found.items())), apart

    @staticmethod
    def tracked(sql: Sql, name: str, generation: int) -> int | None:
        """The generation's position; None if the generation does not exist (dropped)."""
        value = sql.execute(
            "SELECT position FROM projection_tracking WHERE name = ? AND generation = ?",
            (name, generation),
        ).scalar()
        return None if value is None else int(value)

    @classmethod
    def position_in(cls, sql: Sql, name: str, generation: int) -> int:
        return cls.tracked(sql, name, generation) or 0

    def position(self, name: str, generation: int | None = None) -> int:
        """The position of the serving generation, or of `generation`."""
        if generation is None:
            return self.serving(self.store.reader(), name)[1]
        return self.position_in(self.store.reader(), name, generation)

    def tracked_in_page(self, sql: Sql, name: str, generation: int) -> int | None:
        """`tracked`, first thing in a page's transaction (after its lock). On PostgreSQL
        it also turns off the page commit's wait for the WAL flush: if the server crashed
        right after, the rows and the position written with them would be lost together
        and applied again (the events themselves are committed durably)."""
        if not self.store.postgres:
            return self.tracked(sql, name, generation)
        row = sql.execute(
            "SELECT set_config('synchronous_commit', 'off', true) AS sync, position"
            " FROM projection_tracking WHERE name = ? AND generation = ?",
            (name, generation),
        ).one()
        return None if row is None else int(row["position"])

    @staticmethod
    def advance(sql: Sql, name: str, generation: int, position: int) -> None:
        sql.execute(
            "UPDATE projection_tracking SET position = ?, error = NULL,"
            " error_position = NULL, updated_at = ? WHERE name = ? AND generation = ?",
            (position, now_iso(), name, generation),
        )

    def record_failure(
        self, name: str, generation: int, position: int, reason: str
    ) -> ProjectionFailed:
        with self.store.transaction() as sql:
            sql.execute(
                "UPDATE projection_tracking SET error = ?, error_position = ?, updated_at = ?"
                " WHERE name = ? AND generation = ?",
                (reason, position, now_iso(), name, generation),
            )
        return ProjectionFailed(name, position, reason)

    # ---- waiting and status -------------------------------------------------------------

    def reached(self, names: list[str], position: int) -> bool:
        marks = ", ".join("?" * len(names))
        low = (
            self.store.reader()
            .execute(
                "SELECT MIN(COALESCE(t.position, 0)) AS low, COUNT(*) AS n"
                " FROM projection_current c LEFT JOIN projection_tracking t"
                " ON t.name = c.name AND t.generation = c.generation"
                f" WHERE c.name IN ({marks})",
                names,
            )
            .one()
        )
        return low["n"] == len(names) and int(low["low"]) >= position

    def wait_for(
        self,
        names: list[str],
        position: int,
        timeout: float,
        nudge: Callable[[], None] | None = None,
    ) -> bool:
        deadline = time.monotonic() + timeout
        delay = 0.001
        while True:
            if self.reached(names, position):
                return True
            if time.monotonic() >= deadline:
                return False
            if nudge:
                nudge()
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 0.02)

    def row(self, name: str) -> tuple[int, dict[str, Any]]:
        """(serving generation, its tracking row) for `status`."""
        reader = self.store.reader()
        generation = self.current(reader, name) or 0
        row = reader.execute(
            "SELECT position, error, error_position FROM projection_tracking"
            " WHERE name = ? AND generation = ?",
            (name, generation),
        ).one() or {"position": 0, "error": None, "error_position": None}
        return generation, row
