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

Costs kept low elsewhere too: events are decoded with orjson (projections/decoding.py)
and the latest stretch of the log is kept decoded (`RecentLog`), so the projections
a worker catches up one after the other read and decode new events once; a
catch-up stops at a page shorter than asked (the end of the log as read); on
PostgreSQL, per-event projections run in pipeline mode and page transactions commit
without waiting for the WAL flush (rows and position are lost or kept together).
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
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


class _LeaveOut(Exception):
    """Internal: rolls back a joint page; the projection is caught up on its own."""

    def __init__(self, name: str):
        self.name = name


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
    # Indexes that only reads use (no handler needs them): a rebuild creates them
    # after its bulk catch-up, in one sort each, instead of maintaining them row by row.
    read_indexes: ClassVar[list[str]] = []
    # True: handlers receive the stored record (the library's Notification: position,
    # originator id and version, topic, state bytes) instead of the decoded domain event,
    # for read models over the records themselves (the hash chain).
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

    def create_statements(self, generation: int, read_indexes: bool = True) -> list[str]:
        names = self.tables(generation).names
        statements = [*self.ddl.values(), *self.indexes]
        if read_indexes:
            statements += self.read_indexes
        return [sql.format(**names) for sql in statements]

    def read_index_statements(self, generation: int) -> list[str]:
        names = self.tables(generation).names
        return [sql.format(**names) for sql in self.read_indexes]

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
    if ts.tzinfo is not UTC:
        ts = ts.astimezone(UTC)
    return ts.isoformat(timespec="microseconds")


def now_iso() -> str:
    return iso(datetime.now(UTC))


_Item = tuple[Any, Any, str | None]  # (notification, decoded event, or why not)


class RecentLog:
    """The latest stretch of the log that was read, decoded: the notifications with
    positions in (low, high] are exactly `items`. That never changes once read,
    because positions are committed in order (SQLite has one writer; the library
    locks the PostgreSQL table for inserts), so a stretch can be served again."""

    def __init__(self, size: int = 5000):
        self.size = size
        self.lock = threading.Lock()
        self.low = self.high = -1
        self.items: list[_Item] = []

    def after(self, position: int) -> tuple[list[_Item], int] | None:
        """The known items after `position` and the end of the stretch; None if
        `position` is not in the stretch."""
        with self.lock:
            if not self.low <= position <= self.high:
                return None
            index = bisect.bisect_right(self.items, position, key=lambda item: item[0].id)
            return self.items[index:], self.high

    @staticmethod
    def _decoded(items: list[_Item]) -> list[_Item]:
        """The items before the first that could not be decoded: a failure is not
        kept (a deployment that knows the event may read it again)."""
        for index, item in enumerate(items):
            if item[2] is not None:
                return items[:index]
        return items

    def replace(self, after: int, items: list[_Item]) -> None:
        items = self._decoded(items)
        if not items:
            return
        with self.lock:
            self.low, self.high, self.items = after, items[-1][0].id, list(items)
            self._trim()

    def extend(self, high: int, items: list[_Item]) -> None:
        items = self._decoded(items)
        if not items:
            return
        with self.lock:
            if high != self.high:  # replaced meanwhile
                return
            self.items.extend(items)
            self.high = items[-1][0].id
            self._trim()

    def _trim(self) -> None:
        extra = len(self.items) - self.size
        if extra > 0:
            self.low = self.items[extra - 1][0].id
            del self.items[:extra]


class Engine:
    """Drives projections over one application's log into one view store."""

    def __init__(self, app: Discussions, store: ViewStore, projections: Iterable[Projection]):
        self.app = app
        self.store = store
        self.projections = {p.name: p for p in projections}
        self._decoder: EventDecoder | None = None
        self._recent = RecentLog()

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

    def _create_generation(
        self, sql: Sql, projection: Projection, generation: int, read_indexes: bool = True
    ) -> None:
        for statement in projection.create_statements(generation, read_indexes):
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
        dropped = None
        while max_pages is None or pages < max_pages:
            reader = self.store.reader()
            if pinned is None:
                generation, start = self._serving(reader, name)
            else:
                start = self._position(reader, name, generation)
            if stop is not None and start >= stop:
                break
            items, exhausted = self._read(start, page_size, stop)
            if not items:
                break
            done = self._apply_page(projection, generation, items)
            if done is None:  # the generation was dropped meanwhile
                if pinned is not None or generation == dropped:
                    break
                dropped = generation  # a rebuild switched: go on with the new one
                continue
            applied += done
            pages += 1
            if on_page:
                on_page(items[-1][0].id, len(items))
            if exhausted:
                # The page reached the end of the log as it was read: done. (A write
                # after it enqueues or nudges another catch-up.)
                break
        return applied

    def catch_up_all(self) -> int:
        """Every projection; raises the first ProjectionFailed after trying them all."""
        applied, failures = self.catch_up_many()
        if failures:
            raise next(iter(failures.values()))
        return sum(applied.values())

    def catch_up_many(
        self, names: Iterable[str] | None = None, page_size: int = PAGE_SIZE
    ) -> tuple[dict[str, int], dict[str, ProjectionFailed]]:
        """Catch several projections up over the same pages of the log, each page in ONE
        transaction for all of them: a write's few new events cost one commit, not one
        per projection. Each projection still takes its generation's lock (in name order,
        so that two workers cannot deadlock) and re-checks its position inside it.

        Anything unusual — an event that cannot be decoded, a failing handler, a
        generation dropped by a rebuild, a projection stopped by an earlier failure —
        rolls the joint page back and leaves that projection to `catch_up` on its own
        afterwards, which locates and records failures. Returns the events applied per
        projection (for a failed one, without those its failing call applied before the
        failure) and the failures, by name."""
        names = sorted(names or self.projections)
        applied = dict.fromkeys(names, 0)
        alone: set[str] = set()
        while True:
            together = self._serving_many([n for n in names if n not in alone], alone)
            if not together:
                break
            start = min(position for _, position in together.values())
            items, exhausted = self._read(start, page_size, None)
            if not items:
                break
            try:
                applied_now = self._apply_page_together(together, items)
            except _LeaveOut as leave:
                alone.add(leave.name)
                continue
            for name, done in applied_now.items():
                applied[name] += done
            if exhausted:
                break
        failures: dict[str, ProjectionFailed] = {}
        for name in sorted(alone):
            try:
                applied[name] += self.catch_up(name, page_size=page_size)
            except ProjectionFailed as failure:
                failures[name] = failure
        return applied, failures

    def _serving_many(self, names: list[str], alone: set[str]) -> dict[str, tuple[int, int]]:
        """(generation, position) of each projection's serving generation, in one query;
        a projection with an error recorded is put in `alone`."""
        if not names:
            return {}
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
        found = {}
        for row in rows:
            if row["error"] is not None or row["position"] is None:
                alone.add(row["name"])
            else:
                found[row["name"]] = (int(row["generation"]), int(row["position"]))
        alone.update(name for name in names if name not in found)
        return dict(sorted(found.items()))

    def _apply_page_together(
        self, together: dict[str, tuple[int, int]], items: Sequence[_Item]
    ) -> dict[str, int]:
        """One page for several projections in one transaction (names in order)."""
        applied = {}
        with self.store.transaction() as sql:
            for name, (generation, _) in together.items():
                projection = self.projections[name]
                events, bad = self._events(projection, items)
                self.lock(sql, name, generation)
                try:
                    done = self.apply_events(projection, generation, events, sql)
                except Exception:
                    raise _LeaveOut(name) from None  # rolls the page back
                if done is None or bad is not None:
                    raise _LeaveOut(name)
                applied[name] = done
        return applied

    # ---- reading and decoding the log -------------------------------------------

    def _read(self, after: int, limit: int, stop: int | None) -> tuple[list[_Item], bool]:
        """Up to `limit` decoded notifications after position `after` (up to `stop`),
        and whether they reach the end of the log as read. The latest stretch of the
        log is kept decoded: a worker's projections all read the same new events."""
        known = self._recent.after(after)
        if known is not None:
            items, high = known
            if stop is not None:
                items = [item for item in items if item[0].id <= stop]
            if len(items) >= limit:
                return items[:limit], False
            if stop is not None and high >= stop:
                return items, True
            wanted = limit - len(items)
            fetched = self.app.recorder.select_notifications(
                start=high + 1, limit=wanted, stop=stop
            )
            more = self._decode_all(fetched)
            self._recent.extend(high, more)
            return items + more, len(fetched) < wanted
        fetched = self.app.recorder.select_notifications(start=after + 1, limit=limit, stop=stop)
        items = self._decode_all(fetched)
        if items:
            self._recent.replace(after, items)
        return items, len(fetched) < limit

    def _decode_all(self, notifications: Sequence[Any]) -> list[_Item]:
        decode = self.decoder.decode
        items = []
        for notification in notifications:
            try:
                items.append((notification, decode(notification), None))
            except Exception as error:
                items.append((notification, None, _reason(error)))
        return items

    def prepare(
        self, projection: Projection, notifications: Sequence[Any]
    ) -> tuple[list[tuple[int, Any]], tuple[int, str] | None]:
        """(position, event) pairs for a projection, and (position, reason) of the first
        event that cannot be decoded (the pairs stop before it). A projection with
        `wants_notifications` gets the stored records themselves."""
        if getattr(projection, "wants_notifications", False):
            return [(n.id, n) for n in notifications], None
        return self._events(projection, self._decode_all(notifications))

    @staticmethod
    def _events(
        projection: Projection, items: Sequence[_Item]
    ) -> tuple[list[tuple[int, Any]], tuple[int, str] | None]:
        if getattr(projection, "wants_notifications", False):
            return [(n.id, n) for n, _, _ in items], None
        events = []
        for notification, event, error in items:
            if error is not None:
                return events, (notification.id, error)
            events.append((notification.id, event))
        return events, None

    def _apply_page(
        self, projection: Projection, generation: int, items: Sequence[_Item]
    ) -> int | None:
        """Apply one page in one transaction. Returns how many events were applied
        (0 if another worker had applied them), None if the generation is gone."""
        name = projection.name
        events, bad = self._events(projection, items)
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
            with self._page_transaction(projection.name, generation) as sql:
                return self.apply_events(projection, generation, events, sql)
        current = self._tracked_in_page(sql, projection.name, generation)
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

    @contextmanager
    def _page_transaction(self, name: str, generation: int) -> Iterator[Sql]:
        """A page's transaction, under the generation's lock. On PostgreSQL its commit
        does not wait for the WAL flush: if the server crashed right after, the rows
        and the position written with them would be lost together, and applied again
        by the next catch-up (the events themselves are committed durably)."""
        with self.store.transaction(lock=self.lock_name(name, generation)) as sql:
            yield sql

    def _tracked_in_page(self, sql: Sql, name: str, generation: int) -> int | None:
        """_tracked, first thing in a page's transaction (after its lock); on PostgreSQL
        it also turns off the wait for the WAL flush at commit (see _page_transaction)."""
        if not self.store.postgres:
            return self._tracked(sql, name, generation)
        row = sql.execute(
            "SELECT set_config('synchronous_commit', 'off', true) AS sync, position"
            " FROM projection_tracking WHERE name = ? AND generation = ?",
            (name, generation),
        ).one()
        return None if row is None else int(row["position"])

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
        with self._page_transaction(name, generation) as sql:
            current = self._tracked_in_page(sql, name, generation)
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
