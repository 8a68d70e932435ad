"""Applying a page of events to a projection, exactly once: the outcome of each page.

A page is applied in ONE transaction, under its generation's lock, with the position
re-checked inside it: events at or below the tracked position are skipped (another
worker applied them), the rest are applied and the new position written with them.

A failure that cannot be pinned on one event (a batched write at the end of the page)
is located by applying the page again one event at a time. Everything before the
failing event is committed; the failure is recorded for `status`, and the outcome says
where the projection stopped. Nothing after it is applied until it is fixed.

Outcomes are values, not exceptions: `Outcome.failed` is the (position, reason) that
stopped the projection, `Outcome.dropped` says its generation is gone (a rebuild
switched and dropped it). Exceptions stay at the two edges: a projection raises
`HandlerError` to pin a failure on an event; the engine raises `ProjectionFailed` to
its caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from projections.db import Sql, ViewStore
from projections.log_reader import Item, LogReader, reason
from projections.tracking import Tracking


class HandlerError(Exception):
    """An event's handler failed: raised by `apply_page` with the event's position."""

    def __init__(self, position: int, error: Exception):
        super().__init__(str(error))
        self.position = position
        self.error = error


@dataclass(frozen=True)
class Outcome:
    applied: int = 0  # events newly applied (ignored ones included)
    dropped: bool = False  # the generation no longer exists
    failed: tuple[int, str] | None = None  # (position, reason) where the projection stopped


DROPPED = Outcome(dropped=True)


class _Rollback(Exception):
    """Rolls back the transaction it is raised in; caught right outside it."""

    def __init__(self, outcome: Any = None):
        self.outcome = outcome


class PageApplier:
    def __init__(self, store: ViewStore, tracking: Tracking, log: LogReader):
        self.store = store
        self.tracking = tracking
        self.log = log

    def apply_events(
        self,
        projection: Any,
        generation: int,
        events: Sequence[tuple[int, Any]],
        sql: Sql | None = None,
    ) -> int | None:
        """Apply decoded events newer than the tracked position and record the new
        position, in one transaction under the generation's lock (or in `sql`, an open
        transaction that holds it). Returns the number applied; None if no generation.
        Raises whatever the projection raises (the transaction rolls back)."""
        if sql is None:
            lock = self.tracking.lock_name(projection.name, generation)
            with self.store.transaction(lock=lock) as sql:
                return self.apply_events(projection, generation, events, sql)
        current = self.tracking.tracked_in_page(sql, projection.name, generation)
        if current is None:
            return None
        todo = [item for item in events if item[0] > current]
        if not todo:
            return 0
        tables = projection.tables(generation)
        if self.store.postgres and not getattr(projection, "batched", False):
            # One event at a time, but without a round trip per statement: PostgreSQL's
            # pipeline mode sends writes without waiting. An error then surfaces later
            # than its statement, so it is not pinned here: the page is located again.
            try:
                with self.store.connection().pipeline():
                    projection.apply_page(sql, tables, todo)
            except HandlerError as failure:
                raise RuntimeError(f"a page failed in pipeline mode: {failure}") from failure
        else:
            projection.apply_page(sql, tables, todo)
        self.tracking.advance(sql, projection.name, generation, todo[-1][0])
        return len(todo)

    def apply_page(self, projection: Any, generation: int, items: Sequence[Item]) -> Outcome:
        """One page for one projection; a failure is located, committed up to, recorded."""
        name = projection.name
        events, bad = self.log.events_for(projection, items)
        located: tuple[int, str] | None = None
        try:
            applied = self.apply_events(projection, generation, events)
        except HandlerError as failure:
            applied, located = None, (failure.position, reason(failure.error))
        except Exception:
            # Not pinned on one event (a batched write failed, or the connection
            # hiccuped): apply the page one event at a time.
            outcome = self._one_by_one(projection, generation, events)
            applied, located = outcome.applied, outcome.failed
            if outcome.dropped:
                return DROPPED
        if located is not None:
            position, why = located
            # Commit everything before the failing event, then stop there.
            before = [e for e in events if e[0] < position]
            done = self.apply_events(projection, generation, before) or 0
            self.tracking.record_failure(name, generation, position, why)
            return Outcome(applied=done, failed=located)
        if applied is None:
            return DROPPED
        if bad is not None:
            position, why = bad
            if position > self.tracking.position(name, generation):
                self.tracking.record_failure(name, generation, position, why)
                return Outcome(applied=applied, failed=bad)
            # else another worker got past it (a newer deployment)
        return Outcome(applied=applied)

    def _one_by_one(
        self, projection: Any, generation: int, events: Sequence[tuple[int, Any]]
    ) -> Outcome:
        """Like apply_events, one event per batch; a failing event rolls the whole
        transaction back and is returned as `failed` (apply_page commits what precedes)."""
        name = projection.name
        try:
            with self.store.transaction(lock=self.tracking.lock_name(name, generation)) as sql:
                current = self.tracking.tracked_in_page(sql, name, generation)
                if current is None:
                    return DROPPED
                tables = projection.tables(generation)
                todo = [item for item in events if item[0] > current]
                for item in todo:
                    try:
                        projection.apply_page(sql, tables, [item])
                    except HandlerError as failure:
                        raise _Rollback((failure.position, reason(failure.error))) from None
                    except Exception as failure:
                        raise _Rollback((item[0], reason(failure))) from None
                if todo:
                    self.tracking.advance(sql, name, generation, todo[-1][0])
                return Outcome(applied=len(todo))
        except _Rollback as rolled_back:
            return Outcome(failed=rolled_back.outcome)

    def apply_together(
        self,
        projections: dict[str, Any],
        together: dict[str, tuple[int, int]],
        items: Sequence[Item],
    ) -> tuple[dict[str, int], str | None]:
        """One page for several projections in one transaction, names in order. Returns
        the events applied per projection, or, when one of them cannot go with the
        others (an undecodable event, a failing handler, a dropped generation), nothing
        (the page rolled back) and its name, to be caught up on its own."""
        try:
            applied = {}
            with self.store.transaction() as sql:
                for name, (generation, _) in together.items():
                    projection = projections[name]
                    events, bad = self.log.events_for(projection, items)
                    self.tracking.lock(sql, name, generation)
                    try:
                        done = self.apply_events(projection, generation, events, sql)
                    except Exception:
                        raise _Rollback(name) from None
                    if done is None or bad is not None:
                        raise _Rollback(name)
                    applied[name] = done
            return applied, None
        except _Rollback as rolled_back:
            return {}, rolled_back.outcome
