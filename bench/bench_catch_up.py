"""Catch-up throughput of the projection engine, beside a raw-driver baseline.

Run by hand (never by the tests):

    .venv/bin/python bench/bench_catch_up.py                       # 100,000 events, both
    .venv/bin/python bench/bench_catch_up.py --events 20000 --backends sqlite --profile threads
    .venv/bin/python bench/bench_catch_up.py --rebuild-1m          # + 1,000,000 on PostgreSQL

Per backend: a fresh store (a temporary SQLite file; a PostgreSQL database created and
dropped here), a log of N events in ~200 threads (~60% posts, 25% replies, 15% edits,
after the authors and threads), written fast by saving many aggregates per save().
Then, in interleaved rounds:

- baseline: the raw driver reading the same notifications (`select_notifications`,
  pages of --page-size) and writing one simple INSERT per event, one transaction per
  page, through the same view-store connection;
- each projection: `Engine.catch_up(name)` from position 0 into a fresh generation of
  its tables (same pages, one transaction per page, everything the engine does:
  decoding, the lock, the position re-check, the handlers, the tracking row);
- once, after the rounds: `Engine.catch_up_many` of all of them over the serving
  generations (still empty), one transaction per page for all, as the runner does;
- "its rows alone": the raw driver inserting that projection's final rows into another
  fresh generation of the same tables and indexes, the same number of rows per
  transaction: the cost of the view's layout to the database alone (no decoding, no
  handlers, no updates), a lower bound for any projection writing those tables.

Prints events/s (median of the rounds), the ratio to the baseline (target >= 50%), the
client CPU per event, and nproc. `--rebuild-1m` then writes 1,000,000 events to a new
PostgreSQL database and times `rebuild` (projections/rebuild.py) of the thread view
into a fresh generation with its switch, as `discuss rebuild threads` does (pages of
2,000; the read-only indexes built after the bulk catch-up); target: under 5 minutes.
"""

from __future__ import annotations

import argparse
import cProfile
import math
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


from stores import temp_store  # noqa: E402

from projections.rebuild import (  # noqa: E402
    create_read_indexes,
    drop_generation,
    plan,
    rebuild,
)
from projections.registry import build_engine  # noqa: E402
from projections.setup import open_application  # noqa: E402
from tests.support.workload import generate  # noqa: E402

MINE = ("threads", "revisions", "authors")


def nproc() -> int:
    return len(os.sched_getaffinity(0))


def write_log(app, events: int, batch: int) -> float:
    started = time.perf_counter()
    last = [0.0]

    def progress(done: int) -> None:
        if time.perf_counter() - last[0] > 10:
            last[0] = time.perf_counter()
            print(f"    ... {done:,} events written", flush=True)

    generate(app, events, threads=200, authors=50, batch=batch, record=False, progress=progress)
    return time.perf_counter() - started


def baseline(engine, table: str, page_size: int) -> tuple[int, float, float]:
    """The raw driver: read the notifications page by page, one INSERT per event."""
    store, recorder = engine.store, engine.app.recorder
    with store.transaction() as sql:
        sql.execute(
            f"CREATE TABLE {table} (position BIGINT PRIMARY KEY, originator_id TEXT,"
            " originator_version INTEGER, topic TEXT)"
        )
    started, cpu = time.perf_counter(), time.process_time()
    position = count = 0
    while True:
        page = recorder.select_notifications(start=position + 1, limit=page_size)
        if not page:
            break
        with store.transaction() as sql:
            for n in page:
                sql.execute(
                    f"INSERT INTO {table} (position, originator_id, originator_version, topic)"
                    " VALUES (?, ?, ?, ?)",
                    (n.id, str(n.originator_id), n.originator_version, n.topic),
                )
        position = page[-1].id
        count += len(page)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    with store.transaction() as sql:
        sql.execute(f"DROP TABLE {table}")
    return count, elapsed, cpu


def fresh_generation(engine, name: str) -> int:
    generation = plan(engine, name).generation  # fresh, empty tables
    create_read_indexes(engine, name, generation)  # all indexes, as a serving generation
    return generation


def rows_alone(engine, name: str, filled: int, page_size: int) -> tuple[float, float]:
    """The raw driver writing the projection's final rows (read back from the generation
    it just filled) into a fresh generation of the same tables and indexes, page_size
    rows per transaction: what the view's layout alone costs the database, with no
    decoding, no handlers and no updates (a lower bound of any projection of this
    layout). Returns (seconds, client CPU seconds, rows)."""
    projection = engine.projections[name]
    store, spare = engine.store, filled + 1000  # tables only: no tracking row, never served
    with store.transaction() as sql:
        for statement in projection.create_statements(spare):
            sql.execute(statement)
    source, target = projection.tables(filled), projection.tables(spare)
    tables = []
    for logical, table in source.names.items():
        rows = store.reader().execute(f"SELECT * FROM {table}").all()
        if rows:
            tables.append((target.names[logical], list(rows[0]), [tuple(r.values()) for r in rows]))
    started, cpu = time.perf_counter(), time.process_time()
    for table, columns, rows in tables:
        insert = (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        )
        for start in range(0, len(rows), page_size):
            with store.transaction() as sql:
                sql.executemany(insert, rows[start : start + page_size])
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    with store.transaction() as sql:
        for statement in projection.drop_statements(spare):
            sql.execute(statement)
    return elapsed, cpu, sum(len(rows) for _, _, rows in tables)


def projection_round(
    engine, name: str, page_size: int, profile: bool
) -> tuple[int, float, float, float, float]:
    generation = fresh_generation(engine, name)
    profiler = cProfile.Profile() if profile else None
    started, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    count = engine.catch_up(name, generation=generation, page_size=page_size)
    if profiler:
        profiler.disable()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    alone, alone_cpu, rows = rows_alone(engine, name, generation, page_size)
    if rows < count / 10:  # a few rows for many events (author activity): no floor
        alone = alone_cpu = float("nan")
    drop_generation(engine, name, generation)
    if profiler:
        print(f"\n--- cProfile of {name} (internal time) ---")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(18)
    return count, elapsed, cpu, alone, alone_cpu


def run_backend(backend: str, args) -> None:
    print(f"\n== {backend}: {args.events:,} events, pages of {args.page_size}")
    with temp_store(backend) as database:
        app = open_application(database)
        engine = build_engine(app, database)
        try:
            took = write_log(app, args.events, 1000)
            events = app.head_position()
            print(f"  log written: {events:,} events in {took:.1f}s ({events / took:,.0f} ev/s)")
            names = [n for n in (args.projections or MINE) if n in engine.projections]
            rates: dict[str, list[float]] = {"baseline": [], **{n: [] for n in names}}
            cpus: dict[str, list[float]] = {k: [] for k in rates}
            floors: dict[str, list[float]] = {n: [] for n in names}
            floor_cpus: dict[str, list[float]] = {n: [] for n in names}
            for round_no in range(args.rounds):
                count, elapsed, cpu = baseline(engine, f"bench_baseline_{round_no}", args.page_size)
                rates["baseline"].append(count / elapsed)
                cpus["baseline"].append(cpu / count)
                for name in names:
                    profile = args.profile == name and round_no == 0
                    count, elapsed, cpu, alone, alone_cpu = projection_round(
                        engine, name, args.page_size, profile
                    )
                    rates[name].append(count / elapsed)
                    cpus[name].append(cpu / count)
                    floors[name].append(count / alone)
                    floor_cpus[name].append(alone_cpu / count)
                print(
                    f"  round {round_no + 1}: "
                    + ", ".join(f"{k} {statistics.median(v[-1:]):,.0f}" for k, v in rates.items())
                    + " ev/s",
                    flush=True,
                )
            base = statistics.median(rates["baseline"])
            print(f"\n  {'':<22}{'events/s':>10}{'ratio':>8}{'client CPU/event':>19}")
            print(
                f"  {'baseline (raw driver)':<22}{base:>10,.0f}{'':>8}"
                f"{statistics.median(cpus['baseline']) * 1e6:>16.0f} us"
            )
            all_time = 0.0
            for name in names:
                rate = statistics.median(rates[name])
                all_time += 1 / rate
                verdict = "met" if rate >= 0.5 * base else "NOT met"
                print(
                    f"  {name:<22}{rate:>10,.0f}{rate / base:>7.0%} "
                    f"{statistics.median(cpus[name]) * 1e6:>15.0f} us   target >= 50%: {verdict}"
                )
                floor = statistics.median(floors[name])
                if math.isnan(floor):  # no floor for this projection
                    continue
                print(
                    f"  {'  its rows alone':<22}{floor:>10,.0f}{floor / base:>7.0%} "
                    f"{statistics.median(floor_cpus[name]) * 1e6:>15.0f} us"
                    f"   (projection = {rate / floor:.0%} of this)"
                )
            together = 1 / all_time
            print(
                f"  {'all ' + str(len(names)) + ' one by one':<22}{together:>10,.0f}"
                f"{together / base:>7.0%}   (one worker applying each event to every one)"
            )
            # The serving generations are still empty: once, what the runner and the
            # RQ job do, every projection over the same page in one transaction.
            started, cpu = time.perf_counter(), time.process_time()
            applied, failures = engine.catch_up_many(names, page_size=args.page_size)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            count = max(applied.values())
            assert not failures and set(applied.values()) == {count}, (applied, failures)
            print(
                f"  {'all ' + str(len(names)) + ' together':<22}{count / elapsed:>10,.0f}"
                f"{count / elapsed / base:>7.0%} {cpu / count * 1e6:>15.0f} us"
                "   (catch_up_many: one transaction per page for all; 1 run)"
            )
        finally:
            engine.store.close()
            app.close()


def rebuild_million(args) -> None:
    events = 1_000_000
    print(f"\n== postgres: rebuild of the thread view over {events:,} events")
    with temp_store("postgres") as database:
        app = open_application(database)
        engine = build_engine(app, database)
        try:
            took = write_log(app, events, 5000)
            head = app.head_position()
            print(f"  log written: {head:,} events in {took:.0f}s ({head / took:,.0f} ev/s)")
            for name in args.rebuild_projections:
                last = [time.perf_counter()]

                def progress(
                    position: int, count: int, name: str = name, last: list = last
                ) -> None:
                    if time.perf_counter() - last[0] > 30:
                        last[0] = time.perf_counter()
                        print(f"    ... {name} at {position:,}", flush=True)

                done = rebuild(engine, name, on_page=progress, grace=0)
                verdict = "met" if done.seconds < 300 else "NOT met"
                print(
                    f"  rebuild {name}: {done.applied:,} events in {done.seconds:.0f}s"
                    f" ({done.applied / done.seconds:,.0f} ev/s), generation"
                    f" {done.old_generation} -> {done.generation}; target < 5 min: {verdict}",
                    flush=True,
                )
        finally:
            engine.store.close()
            app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--projections", type=lambda s: s.split(","), default=None)
    parser.add_argument("--profile", help="cProfile this projection's first round")
    parser.add_argument("--rebuild-1m", action="store_true")
    parser.add_argument("--rebuild-projections", type=lambda s: s.split(","), default=["threads"])
    parser.add_argument("--skip-catch-up", action="store_true")
    args = parser.parse_args()
    from importlib.metadata import version

    print(f"nproc: {nproc()}  (load average {os.getloadavg()[0]:.1f} at start)")
    print(
        f"python {sys.version.split()[0]}, eventsourcing {version('eventsourcing')},"
        f" psycopg {version('psycopg')}"
    )
    if not args.skip_catch_up:
        for backend in args.backends.split(","):
            run_backend(backend, args)
    if args.rebuild_1m:
        rebuild_million(args)


if __name__ == "__main__":
    main()
