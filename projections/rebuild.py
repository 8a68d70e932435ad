"""Rebuilding a projection from the first event, while the old tables keep serving.

1. A new generation is created (tables `prefix_table_N`, a tracking row at 0), or the
   pending one is continued: a generation above the serving one is a rebuild that
   was interrupted, and its tracking row says how far it got. Indexes that only
   reads use (`read_indexes`) are created after the bulk catch-up, in one go.
2. The new generation catches up page by page (each page is one transaction under
   that generation's lock, exactly like a worker's), while the old one keeps serving
   reads and being caught up by the workers.
3. The switch is one transaction holding both generations' locks: the new generation
   catches up to the head of the log as it is then, and `projection_current` points
   at it. Readers see the old tables or the new ones, never a mixture; the serving
   position never goes backwards.
4. After a short grace period (readers that looked up the old tables a moment ago
   finish), the old generation's tables and tracking row are dropped.

Interrupting (Ctrl-C, a crash, kill -9) at any point loses at most the page in
progress: running the rebuild again continues from the pending generation's position,
and a run of several projections (`rebuild --all`) skips those it had already switched
(projections/rebuild_runs.py: each one's queue row goes in its switch's transaction).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from projections.db import Sql
from projections.engine import Engine
from projections.rebuild_runs import DDL as RUNS_DDL
from projections.rebuild_runs import finished

# Tables of old generations stay this long after the switch (seconds).
DROP_GRACE = 2.0
# Events per transaction of a rebuild: bigger pages than a worker's (fewer statements
# per event: a page's changes to a thread or a comment are written once).
REBUILD_PAGE_SIZE = 2000


@dataclass(frozen=True)
class Plan:
    name: str
    serving: int  # the generation serving reads now
    generation: int  # the generation being built
    resumed: bool  # True if it was pending from an earlier, interrupted run
    position: int  # where the new generation is
    head: int  # the head of the log when planned


@dataclass(frozen=True)
class Rebuilt:
    name: str
    old_generation: int
    generation: int
    resumed: bool
    applied: int  # events applied by this run (final catch-up included)
    position: int  # the new generation's position at the switch
    seconds: float


def generations(engine: Engine, name: str) -> list[int]:
    rows = (
        engine.store.reader()
        .execute(
            "SELECT generation FROM projection_tracking WHERE name = ? ORDER BY generation",
            (name,),
        )
        .all()
    )
    return [int(r["generation"]) for r in rows]


def pending_generation(engine: Engine, name: str) -> int | None:
    """The generation an interrupted rebuild was filling, if any."""
    serving = engine.generation(name)
    above = [g for g in generations(engine, name) if g > serving]
    return max(above) if above else None


def plan(engine: Engine, name: str) -> Plan:
    """Find the pending generation or create a new one (its tables and tracking row)."""
    projection = engine.projections[name]
    with engine.store.transaction(lock="schema") as sql:
        sql.execute(RUNS_DDL)  # (a store made before it: see projections/rebuild_runs.py)
        serving = engine.tracking.current(sql, name)
        if serving is None:
            raise RuntimeError(f"projection {name!r} has no tables: run `discuss init-db`")
        known = [
            int(r["generation"])
            for r in sql.execute(
                "SELECT generation FROM projection_tracking WHERE name = ?", (name,)
            ).all()
        ]
        above = [g for g in known if g > serving]
        resumed = bool(above)
        if resumed:
            generation = max(above)
        else:
            generation = max([serving, *known]) + 1
            engine.tracking.create_generation(sql, projection, generation, read_indexes=False)
        position = engine.tracking.position_in(sql, name, generation)
    head = engine.app.recorder.max_notification_id() or 0
    return Plan(name, serving, generation, resumed, position, head)


def rebuild(
    engine: Engine,
    name: str,
    *,
    page_size: int = REBUILD_PAGE_SIZE,
    on_plan: Callable[[Plan], None] | None = None,
    on_page: Callable[[int, int], None] | None = None,
    grace: float = DROP_GRACE,
    drop: bool = True,
) -> Rebuilt:
    """Rebuild one projection into a fresh generation and switch to it (see above)."""
    started = time.monotonic()
    planned = plan(engine, name)
    if on_plan:
        on_plan(planned)
    drop_stale(engine, name, keep=planned.serving)
    applied = engine.catch_up(
        name, generation=planned.generation, page_size=page_size, on_page=on_page
    )
    create_read_indexes(engine, name, planned.generation)
    old, final_applied, position = switch(
        engine, name, planned.generation, page_size=page_size, on_switch=finished
    )
    if drop and old != planned.generation:
        if grace > 0:
            time.sleep(grace)
        drop_generation(engine, name, old)
    return Rebuilt(
        name=name,
        old_generation=old,
        generation=planned.generation,
        resumed=planned.resumed,
        applied=applied + final_applied,
        position=position,
        seconds=time.monotonic() - started,
    )


def create_read_indexes(engine: Engine, name: str, generation: int) -> None:
    """The indexes only reads use, built in one go on the filled tables (the new
    generation serves no reads yet; its writer is this rebuild)."""
    statements = engine.projections[name].read_index_statements(generation)
    if statements:
        with engine.store.transaction(lock=engine.lock_name(name, generation)) as sql:
            for statement in statements:
                sql.execute(statement)


def switch(
    engine: Engine,
    name: str,
    generation: int,
    *,
    page_size: int = REBUILD_PAGE_SIZE,
    on_switch: Callable[[Sql, str], None] | None = None,
) -> tuple[int, int, int]:
    """Atomically make `generation` the serving one, after catching it up to the head
    inside the same transaction (`on_switch` runs in it too). Returns (old generation,
    events applied, position)."""
    projection = engine.projections[name]
    store = engine.store
    serving = engine.generation(name)
    if serving == generation:
        return generation, 0, engine.position(name, generation)
    # Both locks, lower generation first (workers only ever hold one).
    first, second = sorted((serving, generation))
    with store.transaction(lock=engine.lock_name(name, first)) as sql:
        engine.lock(sql, name, second)
        current = engine.tracking.current(sql, name)
        if current == generation:  # another rebuild switched meanwhile
            return generation, 0, engine.tracking.position_in(sql, name, generation)
        if current != serving:
            raise RuntimeError(
                f"projection {name!r}: serving generation changed from {serving} to"
                f" {current} during the switch; run the rebuild again"
            )
        # The head as of now: everything the old generation can have applied is below it.
        stop = engine.app.recorder.max_notification_id() or 0
        applied = 0
        while True:
            position = engine.tracking.position_in(sql, name, generation)
            if position >= stop:
                break
            notifications = engine.app.recorder.select_notifications(
                start=position + 1, limit=page_size, stop=stop
            )
            if not notifications:
                break
            events, bad = engine.prepare(projection, notifications)
            if bad is not None:
                raise RuntimeError(
                    f"projection {name!r}: event at position {bad[0]} cannot be decoded"
                    f" ({bad[1]}); the switch is abandoned"
                )
            applied += engine.apply_events(projection, generation, events, sql) or 0
        position = engine.tracking.position_in(sql, name, generation)
        sql.execute(
            "UPDATE projection_current SET generation = ? WHERE name = ?", (generation, name)
        )
        if on_switch is not None:
            on_switch(sql, name)
    return serving, applied, position


def drop_generation(engine: Engine, name: str, generation: int) -> None:
    """Drop a generation that does not serve: its tables and its tracking row."""
    projection = engine.projections[name]
    with engine.store.transaction(lock=engine.lock_name(name, generation)) as sql:
        if engine.tracking.current(sql, name) == generation:
            raise RuntimeError(f"generation {generation} of {name!r} is serving: not dropped")
        sql.execute(
            "DELETE FROM projection_tracking WHERE name = ? AND generation = ?",
            (name, generation),
        )
        for statement in projection.drop_statements(generation):
            sql.execute(statement)


def drop_stale(engine: Engine, name: str, keep: int) -> list[int]:
    """Drop generations below the serving one (left by a run stopped before its drop)."""
    stale = [g for g in generations(engine, name) if g < keep]
    for generation in stale:
        drop_generation(engine, name, generation)
    return stale
