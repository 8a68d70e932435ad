"""Property: after a random history with erasures, rebuilding every projection from the
first event (what `discuss rebuild --all` runs: projections/rebuild.py, one projection
after the other) gives read models identical, table by table and row by row, to the
ones built incrementally while the history was being written.

The incremental build lags behind the writes by a random page size (each projection on
its own, and now and then all of them over the same pages, as the runner does), so
content is projected before it is erased and the erasure reaches the read models
later, as on a live site. The rebuild reads the same events after the keys were
destroyed. Rows hold sealed values, compared as stored.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from domain.settings import Database
from projections.db import ViewStore
from projections.engine import Engine
from projections.rebuild import generations, rebuild
from projections.registry import all_projections
from projections.setup import initialise, open_application
from projections.time_travel import TimeTravel
from tests.property.histories import History, erasure, operation, pick, run
from tests.support.databases import new_pg_database

CHECKPOINT_EVERY = 3  # checkpoints in small histories, before and after erasures


def dump(engine: Engine, name: str) -> dict[str, list[tuple]]:
    """Every row of every table of the serving generation of a projection, sorted."""
    projection = engine.projections[name]
    reader = engine.store.reader()
    result = {}
    for logical, table in projection.tables(engine.generation(name)).names.items():
        rows = [
            tuple(bytes(v) if isinstance(v, memoryview) else v for v in row.values())
            for row in reader.execute(f"SELECT * FROM {table}").all()
        ]
        result[logical] = sorted(rows, key=repr)
    return result


@contextmanager
def fresh_database(backend: str) -> Iterator[Database]:
    """A new, initialised store for one example (Hypothesis runs many per test)."""
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="discuss-rebuild-"))
        try:
            database = Database.from_url(f"sqlite:///{folder}/store.db")
            initialise(database)
            yield database
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    with new_pg_database() as database:
        yield database


def check_rebuild_after_erasures(backend: str, ops, erasures, later, page: int) -> History:
    with fresh_database(backend) as database:
        app = open_application(database)
        projections = [
            TimeTravel(checkpoint_every=CHECKPOINT_EVERY) if p.name == "time_travel" else p
            for p in all_projections()
        ]
        engine = Engine(app, ViewStore(database), projections)
        try:

            def lagging(i: int) -> None:
                if i % 4 == 3:  # all of them over the same pages, as the runner does
                    engine.catch_up_many(page_size=page)
                    return
                for name in engine.projections:
                    engine.catch_up(name, page_size=page, max_pages=1)

            history = run(app, ops, after=lagging)
            run(app, erasures, after=lagging, history=history)
            run(app, later, after=lagging, history=history)
            engine.catch_up_all()
            head = app.head_position()
            assert {s.position for s in engine.status()} == {head}
            incremental = {name: dump(engine, name) for name in engine.projections}
            for name in engine.projections:  # `discuss rebuild --all`
                done = rebuild(engine, name, grace=0)
                assert done.position == head and generations(engine, name) == [done.generation]
            for name in engine.projections:
                rebuilt = dump(engine, name)
                assert rebuilt.keys() == incremental[name].keys()
                for table, rows in incremental[name].items():
                    assert rebuilt[table] == rows, (name, table)
            assert {s.generation for s in engine.status()} == {2}
            return history
        finally:
            engine.store.close()
            app.close()


def covered(history: History) -> None:
    for kind in sorted(set(history.kinds)):
        event(kind)  # what the examples covered: pytest --hypothesis-show-statistics


# After the erasures: mostly what could still happen to an erased comment.
LATER = ["unsuppress", "suppress", "restore", "hide", "edit", "retract", "reply", "post"]
later_operation = st.one_of(st.tuples(st.sampled_from(LATER), pick, pick, st.booleans()), operation)
HISTORY = {
    "ops": st.lists(operation, min_size=5, max_size=30),
    "erasures": st.lists(erasure, min_size=1, max_size=4),
    "later": st.lists(later_operation, max_size=8),
    "page": st.integers(min_value=1, max_value=7),
}
SETTINGS = {
    "database": None,  # no .hypothesis/ example database in the working tree
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}


@settings(max_examples=50, **SETTINGS)
@given(**HISTORY)
def test_rebuild_after_erasures_equals_the_incremental_read_models(ops, erasures, later, page):
    covered(check_rebuild_after_erasures("sqlite", ops, erasures, later, page))


@pytest.mark.postgres
@settings(max_examples=5, **SETTINGS)
@given(**HISTORY)
def test_rebuild_after_erasures_equals_the_incremental_read_models_postgres(
    ops, erasures, later, page
):
    covered(check_rebuild_after_erasures("postgres", ops, erasures, later, page))
