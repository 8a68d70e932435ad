"""Time travel reads: a thread as of random past positions, beside the live view.

Run by hand (never by the tests):

    .venv/bin/python bench/bench_as_of.py                      # SQLite, 1k/10k/100k events
    .venv/bin/python bench/bench_as_of.py --sizes 10000 --backends sqlite postgres
    .venv/bin/python bench/bench_as_of.py --samples 500 --k 50

For each history size N, a fresh store holds ONE thread of 1,000 comments (999 at
N = 1,000) with N thread events in all: the opening, the posts (50 top-level branches,
replies nested up to depth 6, realistic text lengths: bench/common.py's plan), then
edits and some retractions (2% of the changes, at most 10% of the comments) of random
comments until the thread has N events. The history is written with the domain's
aggregates and the application's `save()` in batches (fast), then the live thread view
and the time-travel projection catch up.

Timed, in the same run and process, on the same thread:

  live    queries.thread_page(): the live view's first page (the API's default request)
  as-of   time_travel.thread_page_as_of() at a uniformly random position of the history:
          the nearest checkpoint at or before it, replay of < K records, the same paging

As the history grows tenfold the as-of cost should stay nearly flat: it depends on the
thread's size and on K, not on the length of the history.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import fmt_table, nproc, percentile
from seeding import plan_thread
from stores import temp_store

from domain.model import MEMBER, OPERATOR_ID, Actor, Comment
from projections import queries, time_travel
from projections.db import ViewStore
from projections.engine import Engine
from projections.queries import PageRequest
from projections.registry import all_projections
from projections.setup import open_application

COMMENTS = 1000
BATCH = 500  # events per save() while writing the history
RETRACT_SHARE = 0.02
MAX_RETRACTED = 0.1  # at most this share of the comments is ever retracted


def write_history(app, events: int, seed: int) -> tuple[str, int]:
    """One thread of min(COMMENTS, events - 1) comments and `events` thread events."""
    rng = random.Random(seed)
    n_comments = min(COMMENTS, events - 1)
    plan = plan_thread(n_comments, seed=seed, max_tops=50, max_depth=6)
    authors = [app.register_author(name).author_id for name in plan.authors]
    thread_id = app.open_thread(OPERATOR_ID, plan.title, key=f"bench/as-of/{seed}").thread_id
    comments: list[Comment] = []
    pending: dict = {}

    def flush() -> None:
        if pending:
            app.save(*pending.values())
            pending.clear()

    count = 1
    for c in plan.comments:
        comment = Comment.post(
            thread_id=thread_id,
            parent_id=comments[c.parent].id if c.parent is not None else None,
            author_id=authors[c.author],
            text=c.text,
        )
        comments.append(comment)
        pending[comment.id] = comment
        count += 1
        if len(pending) >= BATCH:
            flush()
    flush()
    live = list(range(len(comments)))
    queued = 0
    while count < events and live:
        i = rng.choice(live)
        comment = comments[i]
        actor = Actor(comment.author_id, MEMBER)
        if rng.random() < RETRACT_SHARE and len(live) > n_comments * (1 - MAX_RETRACTED):
            comment.retract(actor, "changed my mind")
            live.remove(i)
        else:
            words = comment.text.split(" ")
            words[rng.randrange(len(words))] = rng.choice(("indeed", "perhaps", "surely", "not"))
            comment.edit(" ".join(words), actor, "wording" if rng.random() < 0.3 else None)
        pending[comment.id] = comment
        count += 1
        queued += 1
        if queued >= BATCH:
            flush()
            queued = 0
    flush()
    return str(thread_id), count


def timed(fn, samples: int, cpu: list[float] | None = None) -> list[float]:
    """Wall-clock milliseconds per call (and this process's CPU milliseconds in `cpu`:
    on a shared machine the wall time includes waiting for a core)."""
    values = []
    for _ in range(samples):
        started, started_cpu = time.perf_counter(), time.process_time()
        fn()
        values.append((time.perf_counter() - started) * 1000)
        if cpu is not None:
            cpu.append((time.process_time() - started_cpu) * 1000)
    return values


def measure(backend: str, events: int, samples: int, k: int, seed: int) -> dict:
    with temp_store(backend) as database:
        app = open_application(database)
        projections = [
            time_travel.TimeTravel(checkpoint_every=k) if p.name == "time_travel" else p
            for p in all_projections()
            if p.name in ("threads", "time_travel")
        ]
        engine = Engine(app, ViewStore(database), projections)
        try:
            started = time.perf_counter()
            thread_id, thread_events = write_history(app, events, seed)
            write_s = time.perf_counter() - started
            started = time.perf_counter()
            engine.catch_up("threads")
            live_catch_up_s = time.perf_counter() - started
            started = time.perf_counter()
            engine.catch_up("time_travel")
            tt_catch_up_s = time.perf_counter() - started

            t = engine.tables("time_travel")
            sql = engine.store.reader()
            span = time_travel.thread_span(engine, thread_id)
            checkpoints = sql.execute(
                f"SELECT COUNT(*) AS n, SUM(LENGTH(state)) AS bytes FROM {t.checkpoints}"
            ).one()
            positions = [
                r["position"]
                for r in sql.execute(
                    f"SELECT position FROM {t.events} WHERE thread_id = ?", (thread_id,)
                ).all()
            ]
            req = PageRequest()
            live_page = queries.thread_page(engine, thread_id, req)
            rng = random.Random(seed + 1)
            low, high = span["opened_position"], span["last_position"]
            points = [rng.randint(low, high) for _ in range(samples)]
            replayed: list[int] = []

            def as_of() -> None:
                position = points[len(replayed) % len(points)]
                page = time_travel.thread_page_as_of(engine, thread_id, req, position)
                replayed.append(page["page"]["comments_on_page"])

            # Warm both paths (connections, caches), then interleave the two measurements.
            timed(lambda: queries.thread_page(engine, thread_id, req), 5)
            timed(as_of, 5)
            replayed.clear()
            gc.collect()
            live_ms, as_of_ms, live_cpu, as_of_cpu = [], [], [], []
            for _ in range(samples):
                live_ms += timed(lambda: queries.thread_page(engine, thread_id, req), 1, live_cpu)
                as_of_ms += timed(as_of, 1, as_of_cpu)
            # Replay lengths at the sampled points (records after the nearest checkpoint).
            replays = [time_travel.state_at(engine, thread_id, p).replayed for p in points[:100]]
            return {
                "backend": backend,
                "events": thread_events,
                "log": app.head_position(),
                "comments": live_page["thread"]["comment_count"],
                "on_page": live_page["page"]["comments_on_page"],
                "write_s": write_s,
                "live_catch_up_s": live_catch_up_s,
                "tt_catch_up_s": tt_catch_up_s,
                "checkpoints": int(checkpoints["n"] or 0),
                "checkpoint_mib": int(checkpoints["bytes"] or 0) / 2**20,
                "thread_events_stored": len(positions),
                "live_p50": percentile(live_ms, 50),
                "live_p99": percentile(live_ms, 99),
                "as_of_p50": percentile(as_of_ms, 50),
                "as_of_p99": percentile(as_of_ms, 99),
                "as_of_max": max(as_of_ms),
                "live_cpu_p50": percentile(live_cpu, 50),
                "live_cpu_p99": percentile(live_cpu, 99),
                "as_of_cpu_p50": percentile(as_of_cpu, 50),
                "as_of_cpu_p99": percentile(as_of_cpu, 99),
                "replay_max": max(replays),
                "replay_mean": sum(replays) / len(replays),
            }
        finally:
            engine.store.close()
            app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--backends", nargs="+", default=["sqlite"])
    parser.add_argument("--samples", type=int, default=300, help="as-of reads per size")
    parser.add_argument("--k", type=int, default=time_travel.DEFAULT_CHECKPOINT_EVERY)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    print(f"nproc: {nproc()}  python {platform.python_version()}  {platform.platform()}")
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"one thread of {COMMENTS} comments; checkpoint every K={args.k} thread events;"
        f" {args.samples} as-of reads at random positions per size, interleaved with as many"
        " reads of the live view (PageRequest() defaults: 50 top-level, depth 6)\n"
    )
    results = []
    for backend in args.backends:
        for size in args.sizes:
            print(f"[{backend}] writing a history of {size} thread events...", flush=True)
            r = measure(backend, size, args.samples, args.k, args.seed)
            results.append(r)
            print(
                f"    written in {r['write_s']:.1f}s; live view caught up in"
                f" {r['live_catch_up_s']:.1f}s, time travel in {r['tt_catch_up_s']:.1f}s"
                f" ({r['events'] / max(r['tt_catch_up_s'], 1e-9):,.0f} events/s);"
                f" {r['checkpoints']} checkpoints, {r['checkpoint_mib']:.1f} MiB",
                flush=True,
            )
    print()
    print(
        fmt_table(
            [
                "backend",
                "thread events",
                "comments",
                "on page",
                "live p50 ms",
                "live p99 ms",
                "as-of p50 ms",
                "as-of p99 ms",
                "as-of max ms",
                "replayed (mean/max)",
            ],
            [
                [
                    r["backend"],
                    f"{r['events']:,}",
                    r["comments"],
                    r["on_page"],
                    f"{r['live_p50']:.1f}",
                    f"{r['live_p99']:.1f}",
                    f"{r['as_of_p50']:.1f}",
                    f"{r['as_of_p99']:.1f}",
                    f"{r['as_of_max']:.1f}",
                    f"{r['replay_mean']:.0f}/{r['replay_max']}",
                ]
                for r in results
            ],
        )
    )
    print("\nCPU time of this process per read (the same reads; excludes waiting for a core):")
    print(
        fmt_table(
            ["backend", "thread events", "live p50", "live p99", "as-of p50", "as-of p99"],
            [
                [
                    r["backend"],
                    f"{r['events']:,}",
                    f"{r['live_cpu_p50']:.1f}",
                    f"{r['live_cpu_p99']:.1f}",
                    f"{r['as_of_cpu_p50']:.1f}",
                    f"{r['as_of_cpu_p99']:.1f}",
                ]
                for r in results
            ],
        )
    )
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    worst = max(r["as_of_p99"] for r in results)
    verdict = "met" if worst < 50 else "NOT met"
    print(f"\ntarget as-of p99 < 50 ms: {verdict} (worst p99 {worst:.1f} ms)")
    for backend in args.backends:
        rows = [r for r in results if r["backend"] == backend]
        if len(rows) > 1:
            first, last = rows[0], rows[-1]
            print(
                f"[{backend}] history x{last['events'] / first['events']:.0f}:"
                f" as-of p99 x{last['as_of_p99'] / first['as_of_p99']:.2f},"
                f" live p99 x{last['live_p99'] / first['live_p99']:.2f}"
            )


if __name__ == "__main__":
    main()
