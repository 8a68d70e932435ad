"""Write throughput: comments posted per second through the application service.

Run by hand (never by the tests):

    .venv/bin/python bench/bench_writes.py            # N=1000, median of 3 rounds
    .venv/bin/python bench/bench_writes.py --n 5000 --repeat 5 --writers 4
    .venv/bin/python bench/bench_writes.py --profile  # cProfile of the app runs
    .venv/bin/python bench/bench_writes.py --explain  # the app with one cost removed

For each backend (a fresh temporary SQLite file, a fresh PostgreSQL database created
and dropped here), three measurements of N single-event writes, one per call:

  app   Discussions.post_comment(): one command per comment into one thread, by a
        pre-registered author (validation, thread load, aggregate, save)
  (a)   the bare eventsourcing library: Application.save() of a plain one-event
        aggregate whose Created event carries the same fields as Comment.Posted
  (b)   the raw driver (sqlite3 / psycopg): INSERT of an equivalent row into a table
        shaped like the library's, one transaction per row

Then, on PostgreSQL, 1 writer process vs W writer processes (spawn start method),
each with its own application posting into its own thread.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import multiprocessing
import os
import platform
import pstats
import signal
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path
from typing import NamedTuple
from uuid import UUID, uuid4

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from stores import temp_store

from domain.application import Discussions
from domain.model import OPERATOR_ID
from domain.settings import Database

PG_ADMIN_URL = os.environ.get("DISCUSS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
TEXT = (
    "A beautiful short film made by activists and filmmakers in Liverpool, featuring a "
    "wide range of local members explaining why they support the campaign. Thank you! "
    "Comment number {i}, with a little more text so that the event is of a realistic size."
)
WARMUP = 20


# ---- stores ----------------------------------------------------------------------------------


def fresh_store(backend: str):
    """An empty, uninitialised store (bench/common.py temp_store)."""
    return temp_store(backend, initialised=False)


def pg_connect(database: Database, **kwargs) -> psycopg.Connection:
    return psycopg.connect(
        host=database.host,
        port=database.port,
        user=database.user,
        password=database.password or None,
        dbname=database.dbname,
        **kwargs,
    )


def initialise(database: Database) -> None:
    """The event store's table only: the projections are not part of this benchmark."""
    Discussions(env=database.library_env(create_table=True)).close()


def open_application(database: Database) -> Discussions:
    return Discussions(env=database.library_env(create_table=False))


# ---- the three measurements ----------------------------------------------------------------


class Rate(NamedTuple):
    per_second: float  # wall clock
    cpu_us: float  # this process's CPU time per write, in microseconds


def median_rate(rates: list[Rate]) -> Rate:
    return Rate(
        statistics.median(r.per_second for r in rates), statistics.median(r.cpu_us for r in rates)
    )


def timed(n: int, write: Callable[[int], object], profile: cProfile.Profile | None) -> Rate:
    """Events per second of n calls of write(i), after a short warm-up."""
    for i in range(WARMUP):
        write(-1 - i)
    if profile:
        profile.enable()
    cpu = time.process_time()
    start = time.perf_counter()
    for i in range(n):
        write(i)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    if profile:
        profile.disable()
    return Rate(n / elapsed, cpu / n * 1e6)


def bench_app(database: Database, n: int, profile: cProfile.Profile | None = None) -> Rate:
    initialise(database)
    app = open_application(database)
    try:
        author_id = app.register_author("Bench").author_id
        thread_id = app.open_thread(OPERATOR_ID, "Bench thread").thread_id

        def write(i: int) -> None:
            app.post_comment(author_id, thread_id, TEXT.format(i=i))

        return timed(n, write, profile)
    finally:
        app.close()


class Note(Aggregate):
    """A plain aggregate: one Created event with the fields of Comment.Posted."""

    class Created(Aggregate.Created):
        thread_id: UUID
        parent_id: UUID | None
        author_id: UUID
        text: str
        client_key: str | None
        actor_id: UUID

    def __init__(
        self,
        thread_id: UUID,
        parent_id: UUID | None,
        author_id: UUID,
        text: str,
        client_key: str | None,
        actor_id: UUID,
    ):
        self.thread_id = thread_id
        self.parent_id = parent_id
        self.author_id = author_id
        self.text = text
        self.client_key = client_key


class BareApplication(Application[UUID]):
    name = "bare"


def bench_library(database: Database, n: int) -> Rate:
    app = BareApplication(env=database.library_env(create_table=True))
    try:
        thread_id, author_id = uuid4(), uuid4()

        def write(i: int) -> None:
            app.save(
                Note(
                    thread_id=thread_id,
                    parent_id=None,
                    author_id=author_id,
                    text=TEXT.format(i=i),
                    client_key=None,
                    actor_id=author_id,
                )
            )

        return timed(n, write, None)
    finally:
        app.close()


def _row_state(thread_id: UUID, author_id: UUID, i: int) -> bytes:
    return json.dumps(
        {
            "timestamp": {"_type_": "datetime_iso", "_data_": "2024-01-01T00:00:00+00:00"},
            "originator_topic": "bench:Note",
            "thread_id": {"_type_": "uuid_hex", "_data_": thread_id.hex},
            "parent_id": None,
            "author_id": {"_type_": "uuid_hex", "_data_": author_id.hex},
            "text": TEXT.format(i=i),
            "client_key": None,
            "actor_id": {"_type_": "uuid_hex", "_data_": author_id.hex},
        },
        separators=(",", ":"),
    ).encode()


TOPIC = "bench:Note.Created"


def bench_raw_sqlite(database: Database, n: int) -> Rate:
    """sqlite3 as the library uses it: WAL, autocommit connection, explicit BEGIN/COMMIT."""
    Path(database.path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(database.path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(
            "CREATE TABLE stored_events (originator_id TEXT, originator_version INTEGER, "
            "topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))"
        )
        thread_id, author_id = uuid4(), uuid4()

        def write(i: int) -> None:
            conn.execute("BEGIN")
            conn.execute(
                "INSERT INTO stored_events VALUES (?,?,?,?)",
                (uuid4().hex, 1, TOPIC, _row_state(thread_id, author_id, i)),
            )
            conn.execute("COMMIT")

        return timed(n, write, None)
    finally:
        conn.close()


def bench_raw_postgres(database: Database, n: int) -> Rate:
    """psycopg: INSERT ... RETURNING notification_id, one transaction per row."""
    with pg_connect(database, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE raw_events (originator_id uuid NOT NULL, "
            "originator_version bigint NOT NULL, topic text, state bytea, "
            "notification_id bigserial, PRIMARY KEY (originator_id, originator_version))"
        )
        conn.execute(
            "CREATE UNIQUE INDEX raw_events_notification_id ON raw_events (notification_id)"
        )
        thread_id, author_id = uuid4(), uuid4()

        def write(i: int) -> None:
            with conn.transaction():
                conn.execute(
                    "INSERT INTO raw_events VALUES (%s, %s, %s, %s) RETURNING notification_id",
                    (uuid4(), 1, TOPIC, _row_state(thread_id, author_id, i)),
                ).fetchone()

        return timed(n, write, None)


# ---- concurrent writers (PostgreSQL) -------------------------------------------------------


def _writer(url: str, n: int, barrier, results) -> None:
    """Child process: its own application, author and thread; n posts after the barrier."""
    try:
        app = open_application(Database.from_url(url))
        author_id = app.register_author("Writer").author_id
        thread_id = app.open_thread(OPERATOR_ID, "Writer thread").thread_id
        for i in range(WARMUP):
            app.post_comment(author_id, thread_id, TEXT.format(i=-1 - i))
        barrier.wait(timeout=120)
        start = time.perf_counter()  # CLOCK_MONOTONIC: comparable across processes
        for i in range(n):
            app.post_comment(author_id, thread_id, TEXT.format(i=i))
        results.put((start, time.perf_counter(), None))
        app.close()
    except BaseException as error:
        results.put((0.0, 0.0, repr(error)))
        raise


def bench_writers(writers: int, total: int) -> float:
    """Total comments per second of `writers` processes posting total/writers each."""
    per_writer = total // writers
    with fresh_store("postgres") as database:
        initialise(database)
        ctx = multiprocessing.get_context("spawn")
        barrier = ctx.Barrier(writers)
        results = ctx.Queue()
        children = [
            ctx.Process(target=_writer, args=(database.url, per_writer, barrier, results))
            for _ in range(writers)
        ]
        for child in children:
            child.start()
        spans = [results.get(timeout=600) for _ in children]
        for child in children:
            child.join()
        errors = [error for _, _, error in spans if error]
        if errors:
            raise RuntimeError(f"a writer failed: {errors[0]}")
        elapsed = max(end for _, end, _ in spans) - min(start for start, _, _ in spans)
        return per_writer * writers / elapsed


# ---- main ----------------------------------------------------------------------------------


def _versions() -> str:
    with psycopg.connect(PG_ADMIN_URL) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
    return (
        f"python {platform.python_version()}, eventsourcing {version('eventsourcing')}, "
        f"psycopg {psycopg.__version__}, PostgreSQL {pg}, SQLite {sqlite3.sqlite_version}"
    )


def _print_profile(profile: cProfile.Profile, backend: str) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("cumulative").print_stats(30)
    print(f"\n--- cProfile of the app run on {backend} (cumulative, top 30) ---")
    print(out.getvalue())


# ---- --explain: where the app's extra cost goes (diagnosis only) -------------------------


@contextlib.contextmanager
def _variant(name: str) -> Iterator[None]:
    """Patch one cost out of the app, for the duration of one measurement."""
    import re

    import domain.rules as rules

    saved = rules._reject_controls, Discussions.get_thread
    if "regex" in name:
        # Category Cc is exactly U+0000-U+001F and U+007F-U+009F.
        controls = re.compile(r"[\x00-\x1f\x7f-\x9f]")

        def reject(value: str, field: str, allowed: set[str]) -> None:
            for match in controls.finditer(value):
                if match.group() not in allowed:
                    saved[0](value[: match.start() + 1], field, allowed)  # same message

        rules._reject_controls = reject
    if "thread" in name:
        threads: dict = {}

        def get_thread(self: Discussions, thread_id: UUID):
            if thread_id not in threads:
                threads[thread_id] = saved[1](self, thread_id)
            return threads[thread_id]

        Discussions.get_thread = get_thread
    try:
        yield
    finally:
        rules._reject_controls, Discussions.get_thread = saved


def explain(backends: list[str], n: int, repeat: int) -> None:
    variants = {
        "(a) bare library": None,
        "app as it is": "",
        "app, control-character check by a regex": "regex",
        "app, thread not re-read (cached)": "thread",
    }
    print("\n--explain: the app with one cost removed at a time (medians)")
    for backend in backends:
        runs: dict[str, list[Rate]] = {label: [] for label in variants}
        for _ in range(repeat):
            for label, name in variants.items():
                with fresh_store(backend) as database:
                    if name is None:
                        runs[label].append(bench_library(database, n))
                    else:
                        with _variant(name):
                            runs[label].append(bench_app(database, n))
        base = median_rate(runs["(a) bare library"]).per_second
        for label in variants:
            rate = median_rate(runs[label])
            print(
                f"{backend:<10} {label:<42} {rate.per_second:>7.0f} ev/s"
                f" {rate.cpu_us:>6.0f} us CPU/write {rate.per_second / base:>6.0%} of (a)"
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="writes per measurement")
    parser.add_argument("--writers", type=int, default=4, help="concurrent PostgreSQL writers")
    parser.add_argument(
        "--backends", default="sqlite,postgres", help="comma-separated: sqlite,postgres"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="interleaved rounds; medians are printed"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the app runs")
    parser.add_argument(
        "--explain", action="store_true", help="also time the app with one cost removed at a time"
    )
    args = parser.parse_args(argv)
    # On SIGTERM, unwind (so that the temporary PostgreSQL databases are dropped).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]

    print(f"nproc: {os.cpu_count()} (usable: {len(os.sched_getaffinity(0))})")
    print(_versions())
    print(
        f"N = {args.n} single-event writes per measurement, after {WARMUP} warm-up writes;"
        f" median of {args.repeat} interleaved rounds\n"
    )
    header = f"{'backend':<10} {'app ev/s':>10} {'(a) lib ev/s':>13} {'(b) raw ev/s':>13}"
    rows = []
    profiles = {}
    for backend in backends:
        profile = cProfile.Profile() if args.profile else None
        raw = bench_raw_sqlite if backend == "sqlite" else bench_raw_postgres
        runs: dict[str, list[Rate]] = {"app": [], "lib": [], "raw": []}
        for _ in range(args.repeat):  # interleaved, so that a busy spell hits all three
            with fresh_store(backend) as database:
                runs["app"].append(bench_app(database, args.n, profile))
            with fresh_store(backend) as database:
                runs["lib"].append(bench_library(database, args.n))
            with fresh_store(backend) as database:
                runs["raw"].append(raw(database, args.n))
        rows.append((backend, *(median_rate(runs[k]) for k in ("app", "lib", "raw"))))
        profiles[backend] = profile

    print(header + f" {'app/(a)':>8} {'app/(b)':>8}  target app/(a) >= 80%")
    for backend, app_rate, lib_rate, raw_rate in rows:
        ratio_a = app_rate.per_second / lib_rate.per_second
        ratio_b = app_rate.per_second / raw_rate.per_second
        verdict = "met" if ratio_a >= 0.8 else "NOT met"
        print(
            f"{backend:<10} {app_rate.per_second:>10.0f} {lib_rate.per_second:>13.0f}"
            f" {raw_rate.per_second:>13.0f} {ratio_a:>8.0%} {ratio_b:>8.0%}  {verdict}"
        )
    print("\nclient CPU per write (this process only; excludes the database server):")
    for backend, app_rate, lib_rate, raw_rate in rows:
        print(
            f"{backend:<10} app {app_rate.cpu_us:>6.0f} us   (a) {lib_rate.cpu_us:>6.0f} us"
            f"   (b) {raw_rate.cpu_us:>6.0f} us"
        )

    if "postgres" in backends and args.writers > 1:
        print(f"\nPostgreSQL, {args.n} comments in total, each writer its own process and thread:")
        one = bench_writers(1, args.n)
        many = bench_writers(args.writers, args.n)
        print(f"  1 writer : {one:>8.0f} comments/s")
        print(
            f"  {args.writers} writers: {many:>8.0f} comments/s total"
            f" ({many / one:.2f}x of 1 writer)"
        )

    if args.explain:
        explain(backends, args.n, args.repeat)

    for backend, profile in profiles.items():
        if profile:
            _print_profile(profile, backend)


if __name__ == "__main__":
    main()
