"""Keeping a projection up to date with the event log: exactly once, complete.

A projection reads a page of notifications after its tracked position, then in
ONE transaction — under a lock per projection, with the position re-checked
inside it — applies the events it has not applied yet and records the new
position. A second worker racing on the same page therefore waits, re-reads the
position, and skips what was applied. Events a projection ignores still advance
its position. An event it cannot handle stops it loudly: the error and position
are recorded for `status`, and ProjectionFailed is raised.

Tables carry a generation suffix (`tv_comments_1`) so that a rebuild can fill
fresh tables while the old ones keep serving, then switch atomically.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from domain.application import Discussions
from projections.db import Sql, ViewStore

PAGE_SIZE = 500

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


class ProjectionFailed(Exception):
    def __init__(self, name: str, position: int, reason: str):
        super().__init__(f"projection {name!r} stopped at position {position}: {reason}")
        self.name = name
        self.position = position
        self.reason = reason


class _HandlerError(Exception):
    def __init__(self, position: int, error: Exception):
        super().__init__(str(error))
        self.position = position
        self.error = error


class Tables:
    """Physical table names of one generation of a projection."""

    def __init__(self, logical: Iterable[str], prefix: str, generation: int):
        self.generation = generation
        self.names = {name: f"{prefix}_{name}_{generation}" for name in logical}

    def __getattr__(self, name: str) -> str:
        try:
            return self.names[name]
        except KeyError:
            raise AttributeError(name) from None


def handles(*event_classes: type) -> Callable:
    """Mark a Projection method as the handler of these event classes."""

    def mark(method: Callable) -> Callable:
        method.handles = event_classes
        return method

    return mark


class Projection:
    """Base of a read model. Subclasses set `name`, `prefix`, `ddl` and handlers."""

    name: ClassVar[str]
    prefix: ClassVar[str]
    # Logical table name -> CREATE TABLE statement with {table} placeholders.
    ddl: ClassVar[dict[str, str]] = {}
    indexes: ClassVar[list[str]] = []
    _handlers: ClassVar[dict[type, Callable]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._handlers = {}
        for klass in reversed(cls.__mro__):
            for attr in vars(klass).values():
                for event_class in getattr(attr, "handles", ()):
                    cls._handlers[event_class] = attr

    def tables(self, generation: int) -> Tables:
        return Tables(self.ddl, self.prefix, generation)

    def create_statements(self, generation: int) -> list[str]:
        names = self.tables(generation).names
        return [sql.format(**names) for sql in [*self.ddl.values(), *self.indexes]]

    def drop_statements(self, generation: int) -> list[str]:
        return [f"DROP TABLE IF EXISTS {name}" for name in self.tables(generation).names.values()]

    def apply(self, sql: Sql, t: Tables, event: Any, position: int) -> None:
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(self, sql, t, event, position)


@dataclass(frozen=True)
class Status:
    name: str
    generation: int
    position: int
    head: int
    lag_events: int
    lag_seconds: float
    error: str | None
    error_position: int | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def iso(ts: datetime) -> str:
    """Timestamps are stored as fixed-width UTC ISO text: identical on both backends."""
    return ts.astimezone(UTC).isoformat(timespec="microseconds")


class Engine:
    """Drives projections over one application's log into one view store."""

    def __init__(self, app: Discussions, store: ViewStore, projections: Iterable[Projection]):
        self.app = app
        self.store = store
        self.projections = {p.name: p for p in projections}

    # ---- set-up and generations --------------------------------------------------

    def create_tables(self) -> None:
        with self.store.transaction(lock="schema") as sql:
            for ddl in STATE_DDL:
                sql.execute(ddl)
            for projection in self.projections.values():
                if self._current(sql, projection.name) is None:
                    self._create_generation(sql, projection, 1)
                    sql.execute(
                        "INSERT INTO projection_current (name, generation) VALUES (?, 1)",
                        (projection.name,),
                    )

    def _create_generation(self, sql: Sql, projection: Projection, generation: int) -> None:
        for statement in projection.create_statements(generation):
            sql.execute(statement)
        sql.execute(
            "INSERT INTO projection_tracking (name, generation, position) VALUES (?, ?, 0)"
            " ON CONFLICT (name, generation) DO NOTHING",
            (projection.name, generation),
        )

    @staticmethod
    def _current(sql: Sql, name: str) -> int | None:
        return sql.execute(
            "SELECT generation FROM projection_current WHERE name = ?", (name,)
        ).scalar()

    def generation(self, name: str) -> int:
        generation = self._current(self.store.reader(), name)
        if generation is None:
            raise RuntimeError(f"projection {name!r} has no tables: run `discuss init-db`")
        return generation

    def tables(self, name: str) -> Tables:
        return self.projections[name].tables(self.generation(name))

    # ---- catching up -------------------------------------------------------------

    def position(self, name: str, generation: int | None = None) -> int:
        generation = generation or self.generation(name)
        return self._position(self.store.reader(), name, generation)

    @staticmethod
    def _position(sql: Sql, name: str, generation: int) -> int:
        value = sql.execute(
            "SELECT position FROM projection_tracking WHERE name = ? AND generation = ?",
            (name, generation),
        ).scalar()
        return int(value or 0)

    def catch_up(
        self,
        name: str,
        *,
        generation: int | None = None,
        page_size: int = PAGE_SIZE,
        max_pages: int | None = None,
        on_page: Callable[[int, int], None] | None = None,
    ) -> int:
        """Apply every event after the tracked position. Returns how many were applied."""
        projection = self.projections[name]
        generation = generation or self.generation(name)
        tables = projection.tables(generation)
        applied = pages = 0
        while max_pages is None or pages < max_pages:
            start = self.position(name, generation)
            notifications = self.app.recorder.select_notifications(start=start + 1, limit=page_size)
            if not notifications:
                break
            applied += self._apply_page(projection, generation, tables, notifications)
            pages += 1
            if on_page:
                on_page(notifications[-1].id, len(notifications))
        return applied

    def catch_up_all(self) -> int:
        return sum(self.catch_up(name) for name in self.projections)

    def _apply_page(self, projection, generation, tables, notifications) -> int:
        name = projection.name
        try:
            with self.store.transaction(lock=f"projection:{name}") as sql:
                # Re-check under the lock: another worker may have applied this page.
                current = self._position(sql, name, generation)
                todo = [n for n in notifications if n.id > current]
                for notification in todo:
                    try:
                        event = self.app.mapper.to_domain_event(notification)
                        projection.apply(sql, tables, event, notification.id)
                    except Exception as error:
                        # Raising inside the transaction rolls the whole page back.
                        raise _HandlerError(notification.id, error) from error
                if todo:
                    sql.execute(
                        "UPDATE projection_tracking SET position = ?, error = NULL,"
                        " error_position = NULL, updated_at = ?"
                        " WHERE name = ? AND generation = ?",
                        (todo[-1].id, iso(datetime.now(UTC)), name, generation),
                    )
        except _HandlerError as failure:
            reason = f"{type(failure.error).__name__}: {failure.error}"
            raise self._record_failure(name, generation, failure.position, reason) from None
        return len(todo)

    def _record_failure(self, name: str, generation: int, position: int, reason: str):
        with self.store.transaction() as sql:
            sql.execute(
                "UPDATE projection_tracking SET error = ?, error_position = ?, updated_at = ?"
                " WHERE name = ? AND generation = ?",
                (reason, position, iso(datetime.now(UTC)), name, generation),
            )
        return ProjectionFailed(name, position, reason)

    # ---- waiting and status ------------------------------------------------------

    def wait_for(
        self,
        position: int,
        timeout: float = 2.0,
        names: Iterable[str] | None = None,
        nudge: Callable[[], None] | None = None,
    ) -> bool:
        """Wait until the projections have reached `position`. False if time ran out."""
        names = list(names or self.projections)
        deadline = time.monotonic() + timeout
        delay = 0.002
        while True:
            if all(self.position(name) >= position for name in names):
                return True
            if time.monotonic() >= deadline:
                return False
            if nudge:
                nudge()
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def status(self) -> list[Status]:
        head = self.app.recorder.max_notification_id() or 0
        reader = self.store.reader()
        result = []
        for name in self.projections:
            generation = self._current(reader, name) or 0
            row = reader.execute(
                "SELECT position, error, error_position FROM projection_tracking"
                " WHERE name = ? AND generation = ?",
                (name, generation),
            ).one() or {"position": 0, "error": None, "error_position": None}
            position = int(row["position"])
            result.append(
                Status(
                    name=name,
                    generation=generation,
                    position=position,
                    head=head,
                    lag_events=self._lag_events(position, head),
                    lag_seconds=self._lag_seconds(position, head),
                    error=row["error"],
                    error_position=row["error_position"],
                )
            )
        return result

    def _lag_events(self, position: int, head: int) -> int:
        if position >= head:
            return 0
        # Positions can have gaps (rolled-back inserts on PostgreSQL): count real events
        # when the lag is small; beyond that, the distance in positions is close enough.
        pending = self.app.recorder.select_notifications(start=position + 1, limit=1000)
        return len(pending) if len(pending) < 1000 else head - position

    def _lag_seconds(self, position: int, head: int) -> float:
        """Age of the oldest event the projection has not applied yet."""
        if position >= head:
            return 0.0
        pending = self.app.recorder.select_notifications(start=position + 1, limit=1)
        if not pending:
            return 0.0
        try:
            event = self.app.mapper.to_domain_event(pending[0])
        except Exception:
            return 0.0
        return max(0.0, (datetime.now(UTC) - event.timestamp).total_seconds())
