"""Keeping a projection up to date with the event log: exactly once, complete.

A projection reads a page of notifications after its tracked position, then in
ONE transaction — under a lock per projection, with the position re-checked
inside it — applies the events it has not applied yet and records the new
position. A second worker racing on the same page therefore waits, re-reads the
position, and skips what was applied. Events a projection ignores still advance
its position. An event it cannot decode or handle stops it loudly: the events
before it are committed, the error and its position are recorded for `status`,
and ProjectionFailed is raised; nothing after it is applied until it is fixed.

Tables carry a generation suffix (`tv_comments_1`) so that a rebuild can fill
fresh tables while the old ones keep serving, then switch atomically
(projections/rebuild.py). Each generation has its own tracking row and lock.

A projection applies a whole page at once (`apply_page`): batched projections
read what the page needs in one query and write with `executemany` at the end of
the page, so a page costs a handful of round trips, not several per event. A
failure that cannot be pinned on one event (a write at the end of the page) is
located by applying the page again one event at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from domain.application import Discussions
from projections.db import Sql, ViewStore, lock_key
from projections.decoding import EventDecoder

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


class HandlerError(Exception):
    """An event's handler failed: raised by `apply_page` with the event's position."""

    def __init__(self, position: int, error: Exception):
        super().__init__(str(error))
        self.position = position
        self.error = error


_HandlerError = HandlerError  # the former private name


class _Located(Exception):
    """Internal: rolls back the transaction that located a failing event."""

    def __init__(self, position: int, reason: str):
        self.position = position
        self.reason = reason


def _reason(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


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
    """Base of a read model. Subclasses set `name`, `prefix`, `ddl` and handlers.

    Handlers are `handler(self, sql, t, event, position)`, one call per event. A
    projection may instead override `apply_page` to handle a page in batches. With
    `wants_notifications = True` it gets the stored records (Notification objects)
    instead of decoded events, undecodable ones included."""

    name: ClassVar[str]
    prefix: ClassVar[str]
    # Logical table name -> CREATE TABLE statement with {table} placeholders.
    ddl: ClassVar[dict[str, str]] = {}
    indexes: ClassVar[list[str]] = []
    # True: handlers receive the stored record (the library's Notification: position,
    # originator id and version, topic, state bytes) instead of the decoded domain event,
    # for read models over the records themselves (the hash chain).
    wants_notifications: ClassVar[bool] = False
    wants_notifications: ClassVar[bool] = False
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

    def apply_page(self, sql: Sql, t: Tables, events: Sequence[tuple[int, Any]]) -> None:
        """Apply (position, event) pairs in order, inside the page's transaction.

        Raises HandlerError(position, error) when an event's handler fails; any other
        exception means "somewhere in this page" and the engine locates the event."""
        for position, event in events:
            handler = self._handlers.get(type(event))
            if handler is None:
                continue
            try:
                handler(self, sql, t, event, position)
            except Exception as error:
                raise HandlerError(position, error) from error

    def apply(self, sql: Sql, t: Tables, event: Any, position: int) -> None:
        self.apply_page(sql, t, [(position, event)])


class BatchProjection(Projection):
    """A projection that buffers a page: `begin_page` reads what the page needs (one
    query or so), handlers `handler(self, page, event, position)` change the buffer,
    `flush` writes it (a few `executemany`)."""

    def begin_page(self, sql: Sql, t: Tables, events: Sequence[tuple[int, Any]]) -> Any:
        raise NotImplementedError

    def flush(self, page: Any) -> None:
        raise NotImplementedError

    def apply_page(self, sql: Sql, t: Tables, events: Sequence[tuple[int, Any]]) -> None:
        handled = [(p, e) for p, e in events if type(e) in self._handlers]
        if not handled:
            return
        page = self.begin_page(sql, t, handled)
        handlers = self._handlers
        for position, event in handled:
            try:
                handlers[type(event)](self, page, event, position)
            except Exception as error:
                raise HandlerError(position, error) from error
        self.flush(page)


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


def now_iso() -> str:
    return iso(datetime.now(UTC))


class Engine:
    """Drives projections over one application's log into one view store."""

    def __init__(self, app: Discussions, store: ViewStore, projections: Iterable[Projection]):
        self.app = app
        self.store = store
        self.projections = {p.name: p for p in projections}
        self._decoder: EventDecoder | None = None

    @property
    def decoder(self) -> EventDecoder:
        if self._decoder is None:
            self._decoder = EventDecoder(self.app.mapper)
        return self._decoder

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

    @staticmethod
    def lock_name(name: str, generation: int) -> str:
        """Writers of one generation of a projection are serialised on this name."""
        return f"projection:{name}:{generation}"

    def lock(self, sql: Sql, name: str, generation: int) -> None:
        """Take one more generation's lock inside an open transaction (PostgreSQL; on
        SQLite the transaction holds the only writer's lock already)."""
        if self.store.postgres:
            key = lock_key(self.lock_name(name, generation))
            sql.execute("SELECT pg_advisory_xact_lock(?)", (key,))

    # ---- catching up -------------------------------------------------------------

    def position(self, name: str, generation: int | None = None) -> int:
        if generation is None:
            return self._serving(self.store.reader(), name)[1]
        return self._position(self.store.reader(), name, generation)

    @staticmethod
    def _serving(sql: Sql, name: str) -> tuple[int, int]:
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

    @staticmethod
    def _tracked(sql: Sql, name: str, generation: int) -> int | None:
        """The generation's position; None if the generation does not exist (dropped)."""
        value = sql.execute(
            "SELECT position FROM projection_tracking WHERE name = ? AND generation = ?",
            (name, generation),
        ).scalar()
        return None if value is None else int(value)

    @classmethod
    def _position(cls, sql: Sql, name: str, generation: int) -> int:
        return cls._tracked(sql, name, generation) or 0

    def catch_up(
        self,
        name: str,
        *,
        generation: int | None = None,
        page_size: int = PAGE_SIZE,
        max_pages: int | None = None,
        on_page: Callable[[int, int], None] | None = None,
        stop: int | None = None,
    ) -> int:
        """Apply every event after the tracked position (up to `stop` if given).
        Returns how many events this call applied (ignored ones included).

        Without `generation`, the serving generation is looked up before every page,
        so a catch-up that runs across a rebuild's switch continues on the new one."""
        projection = self.projections[name]
        pinned = generation
        applied = pages = 0
        while max_pages is None or pages < max_pages:
            reader = self.store.reader()
            if pinned is None:
                generation, start = self._serving(reader, name)
            else:
                start = self._position(reader, name, generation)
            if stop is not None and start >= stop:
                break
            notifications = self.app.recorder.select_notifications(
                start=start + 1, limit=page_size, stop=stop
            )
            if not notifications:
                break
            done = self._apply_page(projection, generation, notifications)
            if done is None:  # the generation was dropped meanwhile
                if pinned is not None:
                    break
                continue
            applied += done
            pages += 1
            if on_page:
                on_page(notifications[-1].id, len(notifications))
        return applied

    def catch_up_all(self) -> int:
        return sum(self.catch_up(name) for name in self.projections)

    def prepare(
        self, projection: Projection, notifications: Sequence[Any]
    ) -> tuple[list[tuple[int, Any]], tuple[int, str] | None]:
        """(position, event) pairs for a projection, and (position, reason) of the first
        event that cannot be decoded (the pairs stop before it). A projection with
        `wants_notifications` gets the stored records themselves."""
        if getattr(projection, "wants_notifications", False):
            return [(n.id, n) for n in notifications], None
        return self._decode(notifications)

    def _decode(self, notifications: Sequence[Any]) -> tuple[list[tuple[int, Any]], tuple | None]:
        """Decode a page; stop at the first event that cannot be decoded."""
        decode = self.decoder.decode
        events = []
        for notification in notifications:
            try:
                events.append((notification.id, decode(notification)))
            except Exception as error:
                return events, (notification.id, _reason(error))
        return events, None

    def _apply_page(
        self, projection: Projection, generation: int, notifications: Sequence[Any]
    ) -> int | None:
        """Apply one page in one transaction. Returns how many events were applied
        (0 if another worker had applied them), None if the generation is gone."""
        name = projection.name
        if projection.wants_notifications:
            events, bad = [(n.id, n) for n in notifications], None
        else:
            events, bad = self.prepare(projection, notifications)  # outside the lock: CPU only
        try:
            try:
                applied = self.apply_events(projection, generation, events)
            except HandlerError as failure:
                raise _Located(failure.position, _reason(failure.error)) from None
            except Exception:
                # Not pinned on one event (a batched write failed, or the connection
                # hiccuped): apply the page one event at a time.
                applied = self._apply_one_by_one(projection, generation, events)
        except _Located as located:
            position, reason = located.position, located.reason
            # Commit everything before the failing event, then stop loudly.
            self.apply_events(projection, generation, [e for e in events if e[0] < position])
            raise self._record_failure(name, generation, position, reason) from None
        if bad is None or applied is None:
            return applied
        position, reason = bad
        if position <= self.position(name, generation):
            return applied  # another worker got past it (a newer deployment)
        raise self._record_failure(name, generation, position, reason)

    def apply_events(
        self,
        projection: Projection,
        generation: int,
        events: Sequence[tuple[int, Any]],
        sql: Sql | None = None,
    ) -> int | None:
        """Apply decoded events newer than the tracked position and record the new
        position, in one transaction under the generation's lock (or in `sql`, an open
        transaction that holds it). Returns the number applied; None if no generation."""
        if sql is None:
            lock = self.lock_name(projection.name, generation)
            with self.store.transaction(lock=lock) as sql:
                return self.apply_events(projection, generation, events, sql)
        current = self._tracked(sql, projection.name, generation)
        if current is None:
            return None
        todo = [item for item in events if item[0] > current]
        if not todo:
            return 0
        tables = projection.tables(generation)
        if self.store.postgres and not isinstance(projection, BatchProjection):
            # One event at a time, but without a round trip per statement: PostgreSQL's
            # pipeline mode sends writes without waiting. An error then surfaces later
            # than its statement, so it is not pinned here: the engine locates it.
            try:
                with self.store.connection().pipeline():
                    projection.apply_page(sql, tables, todo)
            except HandlerError as failure:
                raise RuntimeError(f"a page failed in pipeline mode: {failure}") from failure
        else:
            projection.apply_page(sql, tables, todo)
        self._advance(sql, projection.name, generation, todo[-1][0])
        return len(todo)

    @staticmethod
    def _advance(sql: Sql, name: str, generation: int, position: int) -> None:
        sql.execute(
            "UPDATE projection_tracking SET position = ?, error = NULL,"
            " error_position = NULL, updated_at = ? WHERE name = ? AND generation = ?",
            (position, now_iso(), name, generation),
        )

    def _apply_one_by_one(
        self, projection: Projection, generation: int, events: Sequence[tuple[int, Any]]
    ) -> int | None:
        """Like apply_events, one event per batch; raises _Located (after rolling back)
        with the first event that fails."""
        name = projection.name
        with self.store.transaction(lock=self.lock_name(name, generation)) as sql:
            current = self._tracked(sql, name, generation)
            if current is None:
                return None
            tables = projection.tables(generation)
            todo = [item for item in events if item[0] > current]
            for item in todo:
                try:
                    projection.apply_page(sql, tables, [item])
                except HandlerError as failure:
                    raise _Located(failure.position, _reason(failure.error)) from None
                except Exception as failure:
                    raise _Located(item[0], _reason(failure)) from None
            if todo:
                self._advance(sql, name, generation, todo[-1][0])
            return len(todo)

    def _record_failure(self, name: str, generation: int, position: int, reason: str):
        with self.store.transaction() as sql:
            sql.execute(
                "UPDATE projection_tracking SET error = ?, error_position = ?, updated_at = ?"
                " WHERE name = ? AND generation = ?",
                (reason, position, now_iso(), name, generation),
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
        delay = 0.001
        while True:
            if self._reached(names, position):
                return True
            if time.monotonic() >= deadline:
                return False
            if nudge:
                nudge()
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 0.02)

    def _reached(self, names: list[str], position: int) -> bool:
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
        recorded = self.decoder.timestamp(pending[0])
        if recorded is None:
            return 0.0
        return max(0.0, (datetime.now(UTC) - recorded).total_seconds())
