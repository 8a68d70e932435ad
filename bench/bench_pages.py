"""Server time of the thread web page `/t/<key>` beside the JSON API's read of the same data.

Run by hand (never by the tests); needs PostgreSQL on 127.0.0.1 (use --sqlite-only without):

    .venv/bin/python bench/bench_pages.py            # ~3-4 minutes
    .venv/bin/python bench/bench_pages.py --quick    # ~1 minute, large thread of 2,000
    .venv/bin/python bench/bench_pages.py --profile  # + cProfile of a page render

In this process, with the Flask test client (server time: routing, queries, rendering,
no socket), N requests of each, anonymous, on a temp SQLite store and a temp PostgreSQL
database (created and dropped here), for a thread of 200 comments and for the first page
of a thread of 10,000:

  page        GET /t/<key>: the HTML page (25 top-level comments, 5 levels below, the
              time slider's change points), rendered on every request
  json warm   GET /api/v1/threads/<id>?limit=25&depth=5: the same comments as JSON, from
              the API's cache of response bytes (the usual case)
  json cold   the same, with that cache emptied before each request (the first read
              after a change: queries + schema dump)

Target: the page within 2x of the JSON read (checked against both JSON figures).
Then the parts of a page render timed alone, to show where its time goes.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import platform
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, fmt_table, nproc, percentile
from seeding import plan_thread
from stores import app_in_process, clear_body_cache, flush_bench_redis, prepare_stores, temp_store

KEYS = ("bench/pages-t200", "bench/pages-t10k", "bench/pages-post")
TARGET_RATIO = 2.0


def log(msg: str = "") -> None:
    print(msg, flush=True)


def sample(fn, n: int, warmup: int = 3) -> list[float]:
    """ms of each of n calls of fn(), after a warm-up."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1e3)
    return out


def page_params() -> tuple[int, int]:
    """The page's own page size and depth, so the JSON read asks for the same data."""
    try:
        from web.pages.common import PAGE_DEPTH, PAGE_LIMIT

        return PAGE_LIMIT, PAGE_DEPTH
    except ImportError:
        return 25, 5


def measure(app, thread, n: int, label: str) -> dict:
    """page / json warm / json cold samples for one thread."""
    client = app.test_client()
    limit, depth = page_params()
    page_url = f"/t/{thread.key}"
    json_url = f"/api/v1/threads/{thread.thread_id}?limit={limit}&depth={depth}"

    def check(url: str, kind: str) -> int:
        r = client.get(url)
        if r.status_code != 200:
            raise RuntimeError(f"{label}: GET {url} answered {r.status_code}: {r.data[:300]!r}")
        if kind == "json" and r.json["page"]["comments_on_page"] < 25:
            raise RuntimeError(f"{label}: the JSON page holds too few comments")
        return len(r.data)

    sizes = {"page": check(page_url, "page"), "json": check(json_url, "json")}

    def page():
        return client.get(page_url)

    def json_warm():
        return client.get(json_url)

    def json_cold():
        clear_body_cache(app)
        return client.get(json_url)

    # Interleaved in three slices, so that a burst of load elsewhere hits all three.
    out: dict[str, list[float]] = {"page": [], "json warm": [], "json cold": []}
    for _ in range(3):
        out["page"] += sample(page, max(1, n // 3))
        out["json warm"] += sample(json_warm, max(1, n // 3) * 4)
        out["json cold"] += sample(json_cold, max(1, n // 3))
    return {"samples": out, "sizes": sizes}


def parts(app, thread, n: int) -> list[list[str]]:
    """The parts of a page render, each timed alone inside a request context."""

    from projections import queries
    from web.pages import common as page_common

    rows = []
    with app.test_request_context(f"/t/{thread.key}"):
        eng = page_common.engine()
        req = page_common.page_request()
        candidates = [
            (
                "queries.thread_page (the comments)",
                lambda: queries.thread_page(eng, thread.thread_id, req),
            )
        ]
        with contextlib.suppress(ImportError):
            from web.pages.timeline import change_points

            candidates.append(
                (
                    "timeline.change_points (the slider)",
                    lambda: change_points(eng, thread.thread_id),
                )
            )
        with contextlib.suppress(ImportError):
            from web.pages.locate import numbers

            candidates.append(
                ("locate.numbers (every comment's number)", lambda: numbers(eng, thread.thread_id))
            )
        with contextlib.suppress(ImportError):
            from web.pages.threads import render_thread

            candidates.append(
                ("threads.render_thread (the whole view)", lambda: render_thread(thread.thread_id))
            )
        for label, fn in candidates:
            try:
                times = sample(fn, n, warmup=1)
                rows.append([label, f"{percentile(times, 50):.1f}", f"{percentile(times, 99):.1f}"])
            except Exception as error:
                rows.append([label, "n/a", type(error).__name__])
    return rows


def profile_page(app, thread, n: int) -> None:
    client = app.test_client()
    url = f"/t/{thread.key}"
    client.get(url)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(n):
        client.get(url)
    prof.disable()
    site = str(ROOT / ".venv/lib/python3.11/site-packages") + "/"
    for order, count in (("cumulative", 30), ("tottime", 15)):
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats(order).print_stats(count)
        lines = [
            ln.replace(site, "").replace(str(ROOT) + "/", "") for ln in out.getvalue().splitlines()
        ]
        log(f"  by {order}:")
        log(
            "\n".join(
                ln for ln in lines if ln.strip() and not ln.lstrip().startswith(("Ordered", "List"))
            )
        )


def main() -> int:
    parser = argparse.ArgumentParser(description="Server time of /t/<key> beside the JSON read.")
    parser.add_argument(
        "--quick", action="store_true", help="fewer requests; large thread of 2,000"
    )
    parser.add_argument("--n", type=int, help="page renders per thread (default 60, quick 15)")
    parser.add_argument("--large", type=int, help="comments of the large thread (default 10,000)")
    parser.add_argument("--sqlite-only", action="store_true", help="leave PostgreSQL out")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of page renders")
    args = parser.parse_args()
    n = args.n or (15 if args.quick else 60)
    n_large = args.large or (2_000 if args.quick else 10_000)
    names = ("sqlite",) if args.sqlite_only else ("sqlite", "postgres")

    log("bench_pages: the thread page /t/<key> beside the JSON API's read of the same data")
    log(
        f"machine: nproc={nproc()} ({platform.machine()}), load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at start; Python "
        f"{platform.python_version()}"
    )
    limit, depth = page_params()
    log(
        f"in-process, Flask test client, anonymous; page size {limit} top-level comments, depth "
        f"{depth}; the JSON read asks for ?limit={limit}&depth={depth}"
    )
    log(f"thread of 200: {plan_thread(200).describe()}")
    log(f"large thread:  {plan_thread(n_large, max_tops=None, seed=11).describe()}")

    results: dict[tuple[str, str], dict] = {}
    part_rows: dict[tuple[str, str], list] = {}
    with contextlib.ExitStack() as stack:
        stack.callback(flush_bench_redis)
        stores = {name: stack.enter_context(temp_store(name)) for name in names}
        log("\nset-up (temp stores; PostgreSQL prepared in a child process meanwhile)")
        prepared = prepare_stores(stores, 200, n_large, KEYS, log=log)
        for name in names:
            # Configured as its server is: PostgreSQL in scaled mode (Redis for rate limits).
            with app_in_process(stores[name], redis=name == "postgres") as app:
                for which, key in (("200", "small"), (f"{n_large:,} p1", "large")):
                    thread = prepared[name][key]
                    count = n if key == "small" else max(6, n // 2)
                    log(f"\n  {name}, thread of {which}: {count} page renders ...")
                    results[(name, which)] = measure(app, thread, count, f"{name} {which}")
                    part_rows[(name, which)] = parts(app, thread, max(3, count // 4))
                if args.profile:
                    for which, key, count in (("200", "small", 10), (f"{n_large:,}", "large", 3)):
                        log(f"\n--- cProfile: {count} renders of the page of {which} on {name} ---")
                        profile_page(app, prepared[name][key], count)

    log("\n" + "=" * 80)
    log(f"RESULTS  nproc={nproc()}; server time in ms per request (in-process test client)")
    rows, checks = [], []
    for (name, which), r in results.items():
        s = r["samples"]
        p50 = {k: percentile(v, 50) for k, v in s.items()}
        p99 = {k: percentile(v, 99) for k, v in s.items()}
        rows.append(
            [
                f"{name}, {which}",
                f"{p50['page']:.1f}",
                f"{p99['page']:.1f}",
                f"{p50['json warm']:.2f}",
                f"{p99['json warm']:.2f}",
                f"{p50['json cold']:.1f}",
                f"{p99['json cold']:.1f}",
                f"{p50['page'] / p50['json warm']:.0f}x",
                f"{p50['page'] / p50['json cold']:.1f}x",
                f"{r['sizes']['page'] / 1024:.0f}/{r['sizes']['json'] / 1024:.0f} KiB",
            ]
        )
        checks.append(
            (
                f"{name}, {which}: page p50 <= 2x json cold p50",
                p50["page"] <= TARGET_RATIO * p50["json cold"],
                f"{p50['page'] / p50['json cold']:.1f}x",
            )
        )
        checks.append(
            (
                f"{name}, {which}: page p50 <= 2x json warm p50",
                p50["page"] <= TARGET_RATIO * p50["json warm"],
                f"{p50['page'] / p50['json warm']:.0f}x",
            )
        )
    log(
        fmt_table(
            [
                "thread",
                "page p50",
                "page p99",
                "json warm p50",
                "warm p99",
                "json cold p50",
                "cold p99",
                "page/warm",
                "page/cold",
                "page/json size",
            ],
            rows,
        )
    )

    log("\nWhere a page render's time goes (each part alone, in a request context; ms)")
    for (name, which), prow in part_rows.items():
        log(f"\n  {name}, thread of {which}")
        log(fmt_table(["part", "p50", "p99"], prow))

    log("\nTARGET: the page within 2x of the JSON read")
    missed = 0
    for what, ok, figure in checks:
        log(f"  {'met' if ok else 'MISSED':<7} {what:<48} {figure}")
        missed += not ok
    log(f"\nload average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
