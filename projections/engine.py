"""Keeping projections up to date with the event log: exactly once, complete.

The engine drives projections over one application's log into one view store. Its
parts, one role each:
- projections/tracking.py: generations and positions (`projection_current`,
  `projection_tracking`), locks, failures recorded for `status`;
- projections/log_reader.py: pages of the log, decoded once (orjson) and kept for the
  next projection;
- projections/applier.py: a page applied in one transaction under the generation's
  lock with the position re-checked inside it, and the page's outcome (applied, the
  generation dropped, or the event that stopped the projection).
This module holds the base classes of projections and `Engine`, which catches one
projection up (`catch_up`) or all of them over the same pages (`catch_up_many`: each
page one transaction for all, so a write's few new events cost one commit).

Tables carry a generation suffix (`tv_comments_1`) so that a rebuild can fill fresh
tables while the old ones keep serving, then switch atomically (projections/rebuild.py).

Why not the library's own runner (`eventsourcing.projection.ProjectionRunner`): it
follows the log through the recorder's `subscribe()`, which the SQLite recorder (the
embedded default) does not implement (NotImplementedError in 9.5), and it hands a
projection one event per call with its tracking record, so each event costs its own
transaction: bench/bench_library_runner.py measures it against this engine on
PostgreSQL (figures in bench/README.md). Pages of hundreds of events per transaction,
several projections per transaction, and generations for rebuilds are what this
engine adds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from domain.application import Discussions
from projections.applier import HandlerError, PageApplier
from projections.db import Sql, ViewStore
from projections.decoding import EventDecoder
from projections.log_reader import LogReader
from projections.tracking import STATE_DDL, ProjectionFailed, Tracking, iso, now_iso

__all__ = [
    "STATE_DDL",
    "BatchProjection",
    "Engine",
    "HandlerError",
    "Projection",
    "ProjectionFailed",
    "Status",
    "Tables",
    "handles",
    "iso",
    "now_iso",
]

PAGE_SIZE = 500


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

    batched: ClassVar[bool] = True  # its writes come at the end of the page

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


class Engine:
    """Drives projections over one application's log into one view store."""

    def __init__(self, app: Discussions, store: ViewStore, projections: Iterable[Projection]):
        self.app = app
        self.store = store
        self.projections = {p.name: p for p in projections}
        self.tracking = Tracking(store)
        self.log = LogReader(app)
        self.applier = PageApplier(store, self.tracking, self.log)

    @property
    def decoder(self) -> EventDecoder:
        return self.log.decoder

    # ---- set-up and generations --------------------------------------------------

    def create_tables(self) -> None:
        self.tracking.create(self.projections.values())

    def generation(self, name: str) -> int:
        return self.tracking.generation(name)

    def tables(self, name: str) -> Tables:
        return self.projections[name].tables(self.generation(name))

    def lock_name(self, name: str, generation: int) -> str:
        return self.tracking.lock_name(name, generation)

    def lock(self, sql: Sql, name: str, generation: int) -> None:
        self.tracking.lock(sql, name, generation)

    def position(self, name: str, generation: int | None = None) -> int:
        return self.tracking.position(name, generation)

    # ---- catching up -------------------------------------------------------------

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
        Returns how many events this call applied (ignored ones included); raises
        ProjectionFailed at an event the projection cannot decode or apply.

        Without `generation`, the serving generation is looked up before every page,
        so a catch-up that runs across a rebuild's switch continues on the new one."""
        projection = self.projections[name]
        pinned = generation
        applied = pages = 0
        dropped = None
        while max_pages is None or pages < max_pages:
            reader = self.store.reader()
            if pinned is None:
                generation, start = self.tracking.serving(reader, name)
            else:
                start = self.tracking.position_in(reader, name, generation)
            if stop is not None and start >= stop:
                break
            items, exhausted = self.log.read(start, page_size, stop)
            if not items:
                break
            outcome = self.applier.apply_page(projection, generation, items)
            if outcome.failed is not None:
                raise ProjectionFailed(name, *outcome.failed)
            if outcome.dropped:  # the generation was dropped meanwhile
                if pinned is not None or generation == dropped:
                    break
                dropped = generation  # a rebuild switched: go on with the new one
                continue
            applied += outcome.applied
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
        transaction for all of them. Each projection still takes its generation's lock
        (in name order, so that two workers cannot deadlock) and re-checks its position
        inside it.

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
            together, apart = self.tracking.serving_many([n for n in names if n not in alone])
            alone |= apart
            if not together:
                break
            start = min(position for _, position in together.values())
            items, exhausted = self.log.read(start, page_size, None)
            if not items:
                break
            applied_now, left_out = self.applier.apply_together(self.projections, together, items)
            if left_out is not None:
                alone.add(left_out)
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

    # ---- for rebuilds: notifications read apart, applied in a caller's transaction --

    def prepare(
        self, projection: Projection, notifications: Sequence[Any]
    ) -> tuple[list[tuple[int, Any]], tuple[int, str] | None]:
        return self.log.prepare(projection, notifications)

    def apply_events(
        self,
        projection: Projection,
        generation: int,
        events: Sequence[tuple[int, Any]],
        sql: Sql | None = None,
    ) -> int | None:
        return self.applier.apply_events(projection, generation, events, sql)

    # ---- waiting and status ------------------------------------------------------

    def wait_for(
        self,
        position: int,
        timeout: float = 2.0,
        names: Iterable[str] | None = None,
        nudge: Callable[[], None] | None = None,
    ) -> bool:
        """Wait until the projections have reached `position`. False if time ran out."""
        return self.tracking.wait_for(list(names or self.projections), position, timeout, nudge)

    def status(self) -> list[Status]:
        head = self.app.recorder.max_notification_id() or 0
        result = []
        for name in self.projections:
            generation, row = self.tracking.row(name)
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
        recorded = self.log.timestamp(pending[0])
        if recorded is None:
            return 0.0
        return max(0.0, (datetime.now(UTC) - recorded).total_seconds())
