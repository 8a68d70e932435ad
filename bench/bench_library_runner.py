"""Could the library's projection runner replace the project's engine? (issue 18)

Run by hand (never by the tests):

    .venv/bin/python bench/bench_library_runner.py                 # 20,000 comments, 3 rounds
    .venv/bin/python bench/bench_library_runner.py --comments 2000 --rounds 1 --samples 5

1. SQLite, the embedded default: `eventsourcing.projection.ProjectionRunner` is started
   on a fresh store of the project's; what it raises is printed as a finding.
2. PostgreSQL (a database created and dropped here, admin URL `DISCUSS_BENCH_PG`): a log
   of --comments comments in --threads threads by --authors authors, after the authors'
   and threads' own events, written in batches (tests/support/workload.py: many
   aggregates per `save()`). The same read model, comments counted per thread and per
   author, is then built from position 0 into fresh tables, in interleaved rounds (the
   order rotated every round):
   - library: a `Projection` subclass whose `process_event` calls a
     `PostgresTrackingRecorder` subclass that writes the view's rows and the tracking
     record in one transaction (the library's documented pattern), run by
     `ProjectionRunner`, which subscribes to the application (`topics`: only
     `Comment.Posted` is read) until its position reaches the head (`runner.wait`).
     Its commits skip the wait for the WAL flush (`synchronous_commit` off, as the
     engine's pages do) and its pool does not ping the connections it hands out: the
     comparison is of the runners, not of settings. With `--durable` the view keeps
     the defaults: each commit waits for the WAL flush, and the application's pool
     settings (POSTGRES_PRE_PING=y) apply to it too;
   - engine, per event: a `projections.engine.Projection` with one upsert per table per
     event (statements pipelined, one transaction per page of 500 events);
   - engine, batched: a `BatchProjection` summing a page in memory and writing one
     upsert per thread and per author touched, one transaction per page.
   Each is timed from its construction (the runner builds its own application, view
   and subscription; the engine its view store and tables) to the commit of the head's
   tracking record (library: the view notes it in-process; `runner.wait` itself polls
   every 100-800 ms) or the return of `Engine.catch_up`.
   Then, with the runner still subscribed, one comment at a time (--samples per round),
   each time from the call of `post_comment`: until the runner's view has committed it,
   and until `runner.wait(position)` returned; and the write's own time plus that of
   `Engine.catch_up` of each engine projection after it (the engine's wake-up, a job
   or a nudge, is not included).

Prints events/s (events of the log covered, divided by the time), the client CPU per
event (this process, all its threads; not the database server's), the ratio
library/engine (median of the per-round ratios), latencies (median and p90 over all
samples), nproc and the load average. The views are checked to hold the same counts.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import os
import platform
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import fmt_table, nproc, percentile
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import Projection as LibraryProjection
from eventsourcing.projection import ProjectionRunner
from eventsourcing.sqlite import SQLiteTrackingRecorder
from eventsourcing.utils import get_topic
from psycopg.sql import SQL, Identifier
from stores import temp_store

from domain.application import Discussions
from domain.model import Comment
from domain.sealing import MasterKey
from projections.db import ViewStore, views_path
from projections.engine import BatchProjection, Engine, Projection, Tables, handles
from projections.keys import recorder_topic
from projections.setup import open_application
from tests.support.workload import Workload, generate

KEYS = {"threads": "thread_id", "authors": "author_id"}
# The same statement for every method: add `comments` to a row of the view.
UPSERT = (
    "INSERT INTO {table} AS v ({key}, comments) VALUES (?, ?)"
    " ON CONFLICT ({key}) DO UPDATE SET comments = v.comments + excluded.comments"
)
VIEW_DDL = "CREATE TABLE IF NOT EXISTS {table} ({key} TEXT PRIMARY KEY, comments BIGINT NOT NULL)"


def log(message: str = "") -> None:
    print(message, flush=True)


# ---- the library's way -----------------------------------------------------------------


class CountsView(PostgresTrackingRecorder):
    """The view as the library's documentation builds one: a tracking recorder whose
    method writes the view's rows and the tracking record in one transaction. Its
    tables are named after its tracking table (`<projection>_tracking`)."""

    durable = False  # True: each commit waits for the WAL flush (the library's default)

    def __init__(self, datastore: Any, *, tracking_table_name: str, **kwargs: Any):
        super().__init__(datastore, tracking_table_name=tracking_table_name, **kwargs)
        base = tracking_table_name.removesuffix("_tracking")
        self.tables = {logical: f"{base}_{logical}" for logical in KEYS}
        self.upserts = []
        for logical, table in self.tables.items():
            qualified = SQL("{0}.{1}").format(Identifier(datastore.schema), Identifier(table))
            ddl = VIEW_DDL.format(table="{table}", key=KEYS[logical])
            self.sql_create_statements.append(SQL(ddl).format(table=qualified))
            upsert = UPSERT.replace("?", "%s").format(table="{table}", key=KEYS[logical])
            self.upserts.append(SQL(upsert).format(table=qualified))
        self.no_flush_wait = SQL("SELECT set_config('synchronous_commit', 'off', true)")
        self.position = 0
        self.done_at = 0.0
        self._next: threading.Event | None = None

    def count_comment(self, thread_id: str, author_id: str, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            if not self.durable:
                curs.execute(self.no_flush_wait, prepare=True)
            self._insert_tracking(curs, tracking)
            for upsert, key in zip(self.upserts, (thread_id, author_id), strict=True):
                curs.execute(upsert, (key, 1), prepare=True)
        # For the bench only: when the view committed, seen from this process.
        self.position, self.done_at = tracking.notification_id, time.perf_counter()
        if self._next is not None:
            self._next.set()

    def next_commit(self) -> threading.Event:
        """Set when the next event has been committed."""
        self._next = threading.Event()
        return self._next


class DurableCountsView(CountsView):
    durable = True


class LibraryCounts(LibraryProjection[CountsView]):
    name = "library_counts"
    topics = (get_topic(Comment.Posted),)  # the subscription reads nothing else

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Other events are not subscribed to."""

    @process_event.register
    def posted(self, domain_event: Comment.Posted, tracking: Tracking) -> None:
        self.view.count_comment(str(domain_event.thread_id), str(domain_event.author_id), tracking)


def runner_env(database: Any, projection_name: str, durable: bool) -> dict[str, str]:
    """The application's settings as projections/setup.py gives them, and for the
    view (settings prefixed with the projection's name): its tables created, and on
    PostgreSQL, unless `durable`, no ping of each connection taken from its pool."""
    prefix = projection_name.upper()
    env = {
        **database.library_env(create_table=False),
        "APPLICATION_RECORDER_TOPIC": recorder_topic(database),
        f"{prefix}_CREATE_TABLE": "y",
    }
    if database.backend == "sqlite":
        env[f"{prefix}_SQLITE_DBNAME"] = views_path(database)
    elif not durable:
        env[f"{prefix}_POSTGRES_PRE_PING"] = "n"
    return env


def start_runner(database: Any, name: str, durable: bool, view_class: type) -> ProjectionRunner:
    projection_class = type(f"LibraryCounts_{name}", (LibraryCounts,), {"name": name})
    return ProjectionRunner(
        application_class=Discussions,
        projection_class=projection_class,
        view_class=view_class,
        env=runner_env(database, name, durable),
    )


# ---- the project's way -----------------------------------------------------------------


class EngineCounts(Projection):
    """Comments per thread and per author: one upsert per table per event."""

    ddl = {
        logical: VIEW_DDL.format(table=f"{{{logical}}}", key=key) for logical, key in KEYS.items()
    }

    def __init__(self, name: str):
        self.name = self.prefix = name

    @handles(Comment.Posted)
    def posted(self, sql: Any, t: Tables, e: Comment.Posted, pos: int) -> None:
        for logical, value in (("threads", e.thread_id), ("authors", e.author_id)):
            table = getattr(t, logical)
            sql.execute(UPSERT.format(table=table, key=KEYS[logical]), (str(value), 1))


class BatchedEngineCounts(BatchProjection):
    """The same counts summed over a page, one upsert per row touched."""

    ddl = EngineCounts.ddl

    def __init__(self, name: str):
        self.name = self.prefix = name

    def begin_page(self, sql: Any, t: Tables, events: Sequence[tuple[int, Any]]) -> tuple:
        return sql, t, {"threads": Counter(), "authors": Counter()}

    @handles(Comment.Posted)
    def posted(self, page: tuple, e: Comment.Posted, pos: int) -> None:
        counts = page[2]
        counts["threads"][str(e.thread_id)] += 1
        counts["authors"][str(e.author_id)] += 1

    def flush(self, page: tuple) -> None:
        sql, t, counts = page
        for logical, counted in counts.items():
            upsert = UPSERT.format(table=getattr(t, logical), key=KEYS[logical])
            sql.executemany(upsert, list(counted.items()))


ENGINE_KINDS = {"engine, per event": EngineCounts, "engine, batched": BatchedEngineCounts}


# ---- 1. SQLite ---------------------------------------------------------------------------


def sqlite_finding() -> None:
    log("1. SQLite (the embedded default): ProjectionRunner on the project's store")
    with temp_store("sqlite") as database:
        name = "library_counts_sqlite"
        try:
            runner = start_runner(database, name, False, SQLiteTrackingRecorder)
        except NotImplementedError as error:
            log(f"   ProjectionRunner(...) raised NotImplementedError: {error}")
            log("   (from the recorder's subscribe(), which the runner calls to follow the")
            log("   log: the library's runner cannot follow the embedded default at all)")
        except Exception as error:  # a finding to print, not a crash
            log(f"   ProjectionRunner(...) raised {type(error).__name__}: {error}")
        else:
            log("   ProjectionRunner started on SQLite (subscribe() is implemented here)")
            with runner:
                pass
    log()


# ---- 2. PostgreSQL -------------------------------------------------------------------------


class Round:
    """The methods' views in one round, kept for the latency samples and the checks."""

    def __init__(self) -> None:
        self.stack = contextlib.ExitStack()
        self.runner: ProjectionRunner | None = None
        self.engines: dict[str, tuple[Engine, str]] = {}


def library_catch_up(
    database: Any, rnd: Round, number: int, head: int, durable: bool
) -> tuple[float, float]:
    """(seconds, CPU seconds of this process) from the runner's construction until
    its view committed the head."""
    view_class = DurableCountsView if durable else CountsView
    started, cpu = time.perf_counter(), time.process_time()
    runner = start_runner(database, f"library_counts_r{number}", durable, view_class)
    rnd.stack.callback(runner.view.datastore.close)
    rnd.stack.enter_context(runner)  # on the way out: stops its threads, closes its app
    runner.wait(head, timeout=3600)
    if runner.view.position != head:
        raise RuntimeError(f"runner at {runner.view.position}, head {head}")
    rnd.runner = runner
    return runner.view.done_at - started, time.process_time() - cpu


def engine_catch_up(
    app: Any, database: Any, rnd: Round, label: str, number: int
) -> tuple[float, float]:
    """(seconds, CPU seconds) of a new engine's tables and its catch_up to the head."""
    projection = ENGINE_KINDS[label](f"{'eb' if 'batched' in label else 'ee'}_r{number}")
    started, cpu = time.perf_counter(), time.process_time()
    store = ViewStore(database)
    rnd.stack.callback(store.close)
    engine = Engine(app, store, [projection])
    engine.create_tables()
    engine.catch_up(projection.name)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    rnd.engines[label] = (engine, projection.name)
    return elapsed, cpu


def view_rows(store: ViewStore, tables: dict[str, str]) -> dict[str, list[tuple]]:
    reader = store.reader()
    return {
        logical: [
            tuple(row.values())
            for row in reader.execute(f"SELECT * FROM {table} ORDER BY {KEYS[logical]}").all()
        ]
        for logical, table in tables.items()
    }


def check_views(rnd: Round, expected_threads: dict[str, int]) -> None:
    """Every method's view holds the same counts, the threads' those of the log."""
    engine, _ = next(iter(rnd.engines.values()))
    store = engine.store
    views = {"library": view_rows(store, rnd.runner.view.tables)}
    for label, (engine, name) in rnd.engines.items():
        views[label] = view_rows(store, engine.tables(name).names)
    reference = views["library"]
    for label, rows in views.items():
        if rows != reference:
            raise RuntimeError(f"{label}'s view differs from the library's")
    threads = {thread_id: comments for thread_id, comments in reference["threads"]}
    if threads != expected_threads:
        raise RuntimeError("the views' counts per thread are not those of the log")


WRITE = "the write alone (post_comment)"
COMMITTED = "library: view committed"


def latency_samples(app: Any, rnd: Round, work: Workload, count: int, text: str) -> dict:
    """One comment at a time, each time from the call of `post_comment`: until the
    library runner's view committed it and until `runner.wait` returned; then the
    write's own time plus each engine's catch_up after it."""
    view = rnd.runner.view
    found: dict[str, list[float]] = {WRITE: [], COMMITTED: [], "library: runner.wait": []}
    found.update({f"{label}: write + catch_up": [] for label in rnd.engines})
    for k in range(count):
        thread_id = work.threads[k % len(work.threads)]
        committed = view.next_commit()
        started = time.perf_counter()
        posted = app.post_comment(work.authors[k % len(work.authors)], thread_id, text)
        written = time.perf_counter()
        rnd.runner.wait(posted.position, timeout=60)
        waited = time.perf_counter()
        if not committed.wait(60) or view.position != posted.position:
            raise RuntimeError(f"runner at {view.position}, comment at {posted.position}")
        work.comments[thread_id].append(posted.comment_id)
        found[WRITE].append(written - started)
        found[COMMITTED].append(view.done_at - started)
        found["library: runner.wait"].append(waited - started)
        for label, (engine, name) in rnd.engines.items():
            caught_up = time.perf_counter()
            if engine.catch_up(name) != 1:
                raise RuntimeError(f"{label} did not apply exactly the new comment")
            found[f"{label}: write + catch_up"].append(
                written - started + time.perf_counter() - caught_up
            )
        time.sleep(0.05)  # let the runner's threads settle back to waiting
    return found


def pg_version(database: Any) -> str:
    store = ViewStore(database)
    try:
        return store.reader().execute("SHOW server_version").scalar().split()[0]
    finally:
        store.close()


def postgres_bench(args: argparse.Namespace) -> None:
    log("2. PostgreSQL: the same read model (comments per thread, per author), two ways")
    library_label = "library runner" + (" (durable)" if args.durable else "")
    labels = [library_label, *ENGINE_KINDS]
    rates: dict[str, list[float]] = {label: [] for label in labels}
    seconds: dict[str, list[float]] = {label: [] for label in labels}
    cpu_per_event: dict[str, list[float]] = {label: [] for label in labels}
    ratios: dict[str, list[float]] = {label: [] for label in ENGINE_KINDS}
    latencies: dict[str, list[float]] = {}
    with temp_store("postgres") as database:
        log(f"   PostgreSQL {pg_version(database)}")
        app = open_application(database)
        try:
            started = time.perf_counter()
            work = generate(
                app,
                args.authors + args.threads + args.comments,
                threads=args.threads,
                authors=args.authors,
                posts=0.75,
                replies=0.25,  # the rest would be edits: none
            )
            log(
                f"   log: {work.events:,} events ({args.comments:,} comments in {args.threads}"
                f" threads by {args.authors} authors), written in"
                f" {time.perf_counter() - started:.1f} s (batches of 500 aggregates per save)"
            )
            text = "One more comment, to time how soon the views have it."
            for number in range(1, args.rounds + 1):
                head = app.recorder.max_notification_id()
                order = labels[(number - 1) % len(labels) :] + labels[: (number - 1) % len(labels)]
                took: dict[str, float] = {}
                cpu: dict[str, float] = {}
                rnd = Round()
                with rnd.stack:
                    for label in order:
                        if label == library_label:
                            took[label], cpu[label] = library_catch_up(
                                database, rnd, number, head, args.durable
                            )
                        else:
                            took[label], cpu[label] = engine_catch_up(
                                app, database, rnd, label, number
                            )
                    expected = {str(t): len(c) for t, c in work.comments.items() if c}
                    check_views(rnd, expected)
                    for label, value in latency_samples(app, rnd, work, args.samples, text).items():
                        latencies.setdefault(label, []).extend(value)
                    check_views(rnd, {str(t): len(c) for t, c in work.comments.items() if c})
                for label in labels:
                    seconds[label].append(took[label])
                    cpu_per_event[label].append(cpu[label] / head)
                    rates[label].append(head / took[label])
                for label in ENGINE_KINDS:
                    ratios[label].append(took[label] / took[library_label])
                log(
                    f"   round {number} ({head:,} events; order: {', '.join(order)}): "
                    + ", ".join(f"{label} {head / took[label]:,.0f} ev/s" for label in labels)
                )
        finally:
            app.close()
    log()
    log(f"   catch-up from position 0, median of {args.rounds} interleaved rounds")
    rows = []
    for label in labels:
        ratio = "1.00" if label == library_label else f"{statistics.median(ratios[label]):.3f}"
        rows.append(
            [
                label,
                f"{statistics.median(rates[label]):,.0f}",
                f"{statistics.median(seconds[label]):.2f}",
                f"{statistics.median(cpu_per_event[label]) * 1e6:.0f}",
                ratio,
            ]
        )
    headers = ["method", "events/s", "seconds", "client CPU us/event", "library/this"]
    log(indent(fmt_table(headers, rows)))
    log()
    n = len(latencies[WRITE])
    log(
        f"   one new comment, from the call of post_comment until the view has it"
        f" ({n} samples: {args.samples} per round)"
    )
    library = statistics.median(latencies[COMMITTED])
    rows = []
    for label, values in latencies.items():
        p50 = statistics.median(values)
        ratio = "-" if label == WRITE else f"{library / p50:.2f}"
        rows.append([label, f"{p50 * 1e3:.1f}", f"{percentile(values, 90) * 1e3:.1f}", ratio])
    log(indent(fmt_table(["path", "p50 ms", "p90 ms", "library/this"], rows)))


def indent(text: str) -> str:
    return "\n".join("   " + line for line in text.splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--comments", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=20)
    parser.add_argument("--authors", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=10, help="latency samples per round")
    parser.add_argument(
        "--durable",
        action="store_true",
        help="the library's view as configured by default (commits wait for the WAL flush)",
    )
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    # The store's master key (projections/setup.py); a fresh one for this run.
    os.environ.setdefault("DISCUSS_MASTER_KEY", MasterKey.generate_text())

    versions = ", ".join(
        f"{package} {importlib.metadata.version(package)}"
        for package in ("eventsourcing", "psycopg")
    )
    log(f"nproc: {nproc()} (os.cpu_count: {os.cpu_count()}); load average at start:"
        f" {' '.join(f'{x:.1f}' for x in os.getloadavg())}")  # fmt: skip
    log(f"python {platform.python_version()}, {versions}")
    log()
    if not args.skip_sqlite:
        sqlite_finding()
    postgres_bench(args)
    log()
    log(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
