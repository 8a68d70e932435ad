"""Two processes register one name at the same moment: exactly one gets it (issue 12).

The name's claim is an aggregate whose id is derived from the normalised name
(domain.model.NameClaim), saved in the same write as the author: the second write of
version 1 of one aggregate is refused by the event store (a unique index on SQLite and
PostgreSQL alike), and nothing of the loser is stored."""

from __future__ import annotations

import multiprocessing

import pytest

from tests.support.name_race import register_at_once


@pytest.mark.parametrize(
    "spellings", [("Racer", "Racer"), ("Racer", "R\u0410CER")], ids=["same", "alike"]
)
def test_two_processes_registering_one_name_at_once(app, database, spellings):
    before = app.head_position()
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    workers = [
        ctx.Process(target=register_at_once, args=(database.url, name, barrier, results))
        for name in spellings
    ]
    for worker in workers:
        worker.start()
    try:
        reports = sorted(results.get(timeout=120)[0] for _ in workers)
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()
    assert reports == ["registered", "taken"], reports
    assert app.head_position() == before + 2  # one author and one claim
