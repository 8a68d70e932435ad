"""What sealing and erasure cost (issue 11). Run by hand, never by the tests.

    .venv/bin/python bench/bench_sealing.py                      # http, cold, catch-up, erase
    .venv/bin/python bench/bench_sealing.py --parts verify       # 2 stores of 1,000,000 events
    .venv/bin/python bench/bench_sealing.py --parts http --seconds 2 --rounds 1   # quick look

Sealing on vs off: every store is written and served either with sealing on (the
default) or with DISCUSS_SEAL_CONTENT=off (new content stored in clear: only for this
measurement) for its whole life. Each figure is the sealed store's as a RATIO of the
clear one's, measured in the same run in interleaved rounds (the order swapped every
round), median of the per-round ratios.

  http      POST a comment and a cached GET of a 200-comment thread over HTTP: wrk
            against gunicorn with 2 sync workers (bench_http.py's servers), SQLite and
            PostgreSQL (+ Redis and an RQ worker), one store per backend and mode.
            The projections are waited for after each POST run. Target: <= 10% cost.
  cold      the same 200-comment thread built in-process by `queries.thread_page`
            (nothing cached): the sealed store adds the key lookup and the decryption.
            Also the sealed store with its opener taken away (values left sealed), to
            show what the opening alone costs.
  catch-up  `Engine.catch_up_many` of every projection from position 0 (fresh serving
            generations each round) over a log of --events events written in batches.
            Target: <= 15% cost.
  erase     `erase_author(OPERATOR_ID, author, "operator")` of an author of
            --erase-comments comments spread over --erase-threads threads (a sealed
            store; several such authors, erased one after the other, interleaved over
            the backends), then the catch-up of every projection after it: the time
            until every view shows the erasure. Target: under 10 s.
  verify    two stores of --verify-events events (batched saves, sealed), --verify-erase
            authors erased in one of them, the hash chain projection caught up on both,
            then `discuss verify` (the CLI, a subprocess) timed on both, interleaved.
            Target: with erasures >= 90% of without (events/s).

The master key comes from DISCUSS_MASTER_KEY, or a fresh one is made for the run.
PostgreSQL stores are databases created and dropped here (`DISCUSS_BENCH_PG`); Redis
databases 11 and 12 (`DISCUSS_BENCH_REDIS_SEALED`, `DISCUSS_BENCH_REDIS_CLEAR`) are
flushed at the start and the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_http import (
    Backend,
    absorb_seconds,
    check_read,
    lua_post_script,
    median_result,
    post_bodies,
    probe_post,
    ratio,
    start_project,
)
from common import VENV_BIN, fmt_table, nproc, percentile
from seeding import plan_thread, seed_thread, write_history
from servers import Server, require_wrk, run_wrk
from stores import catch_up, ensure_master_key, flush_bench_redis, temp_store

REDIS_SEALED = os.environ.get("DISCUSS_BENCH_REDIS_SEALED", "redis://127.0.0.1:6379/11")
REDIS_CLEAR = os.environ.get("DISCUSS_BENCH_REDIS_CLEAR", "redis://127.0.0.1:6379/12")
KEY_200, KEY_POST = "bench/t200", "bench/post"
MODES = (True, False)  # sealed, clear

TARGET_HTTP_COST = 0.10
TARGET_CATCH_UP_COST = 0.15
TARGET_ERASE_SECONDS = 10.0
TARGET_VERIFY_RATIO = 0.90


def log(msg: str = "") -> None:
    print(msg, flush=True)


def mode_name(sealed: bool) -> str:
    return "sealed" if sealed else "clear"


@contextlib.contextmanager
def sealing(sealed: bool):
    """DISCUSS_SEAL_CONTENT for what this process opens meanwhile (writes and reads)."""
    saved = os.environ.get("DISCUSS_SEAL_CONTENT")
    os.environ["DISCUSS_SEAL_CONTENT"] = "on" if sealed else "off"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("DISCUSS_SEAL_CONTENT", None)
        else:
            os.environ["DISCUSS_SEAL_CONTENT"] = saved


@contextlib.contextmanager
def opened(database, sealed: bool):
    """(application, engine) on the store, sealing as the store was written."""
    from projections.registry import build_engine
    from projections.setup import open_application

    with sealing(sealed):
        app = open_application(database)
        engine = build_engine(app, database)
    try:
        yield app, engine
    finally:
        engine.store.close()
        app.close()


def swapped(pair: tuple, round_no: int) -> tuple:
    """The pair in order on even rounds, reversed on odd ones."""
    return pair if round_no % 2 == 0 else pair[::-1]


def per_round_ratio(num: list[float], den: list[float]) -> float:
    return statistics.median(a / b for a, b in zip(num, den, strict=True))


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


# ---- 1. HTTP and the cold page --------------------------------------------------------------


@dataclass
class Store(Backend):
    """One store of the HTTP part: a backend in one mode (bench_http's Backend + mode)."""

    backend: str = "sqlite"
    sealed: bool = True

    @property
    def redis(self) -> bool:
        return self.backend == "postgres"

    @property
    def env(self) -> dict[str, str]:
        env = {"DISCUSS_SEAL_CONTENT": "on" if self.sealed else "off"}
        if self.redis:
            env["DISCUSS_REDIS_URL"] = REDIS_SEALED if self.sealed else REDIS_CLEAR
        return env


def seed_store(store: Store) -> None:
    """The 200-comment thread posted one by one through the application service, a poster
    and a thread to post into; then the projections caught up. Checks that the content
    is sealed, or in clear, as the mode says."""
    from domain.model import OPERATOR_ID
    from domain.sealing import is_sealed

    started = time.perf_counter()
    with opened(store.database, store.sealed) as (app, _):
        store.small = seed_thread(app, plan_thread(200), KEY_200)
        store.token = app.register_author("Bench Poster").token
        store.post_thread = str(
            app.open_thread(OPERATOR_ID, "Posting bench", key=KEY_POST).thread_id
        )
        first = app.get_comment(UUID(store.small.comment_ids[0]))
        if is_sealed(first.text) != store.sealed:
            raise RuntimeError(f"{store.name}: stored text is not {mode_name(store.sealed)}")
    with sealing(store.sealed):
        catch_up(store.database)
    log(
        f"  {store.name}: 200 comments posted one by one in {store.small.seconds:.1f}s,"
        f" projections caught up; {time.perf_counter() - started:.1f}s in all"
    )


def wrk_rounds(
    pairs: list[tuple[Store, Store]], rounds: int, seconds: float, conns: int, scripts=None
) -> tuple[dict, dict]:
    """wrk on every store, `rounds` times, each backend's pair in swapped order every
    round; with POST scripts, waits after each run until the projections have caught up
    (the next run then starts on a quiet machine) and notes how long that took."""
    results: dict[str, list] = {s.name: [] for pair in pairs for s in pair}
    absorbed: dict[str, list[float]] = {name: [] for name in results}
    for r in range(rounds):
        for pair in pairs:
            for s in swapped(pair, r):
                if scripts:
                    url = f"{s.server.base}/api/v1/threads/{s.post_thread}/comments"
                    extra = {"script": scripts[s.name]}
                else:
                    url, extra = s.url(s.small), {}
                res = run_wrk(s.name, url, seconds=seconds, connections=conns, **extra)
                results[s.name].append(res)
                note = ""
                if scripts:
                    absorbed[s.name].append(absorb_seconds(s))
                    note = f"  projections at the head {absorbed[s.name][-1]:.1f}s later"
                flag = "" if res.ok else f"  !! non-2xx {res.non_2xx} {res.socket_errors}"
                log(
                    f"    round {r + 1}/{rounds} {s.name:<16} {res.rps:8.1f} req/s  p50"
                    f" {res.p50_ms:7.2f} ms  p99 {res.p99_ms:7.2f} ms{note}{flag}"
                )
    return results, absorbed


def http_table(pairs, results, absorbed=None) -> tuple[str, dict[str, float]]:
    rows, ratios = [], {}
    for on, off in pairs:
        r = ratio(results[on.name], results[off.name])
        ratios[on.backend] = r
        for s in (on, off):
            m = median_result(results[s.name])
            row = [s.name, f"{m.rps:.1f}", f"{m.p50_ms:.2f}", f"{m.p99_ms:.2f}"]
            row.append(f"{r:.1%}" if s is on else "100%")
            row.append(sum(x.non_2xx for x in results[s.name]))
            if absorbed is not None:
                row.append(f"{statistics.median(absorbed[s.name]):.1f}")
            rows.append(row)
    headers = ["store", "req/s", "p50 ms", "p99 ms", "vs clear", "non-2xx"]
    if absorbed is not None:
        headers.append("catch-up after, s")
    return fmt_table(headers, rows), ratios


def cold_pages(pair: tuple[Store, Store], n: int, batches: int) -> tuple[dict, dict, int]:
    """`queries.thread_page` of the 200-comment thread, in this process, nothing cached:
    sealed, clear, and sealed with the opener taken away (values stay sealed). Per call
    times (ms) by variant; batches interleaved, the order swapped every batch."""
    from projections import queries
    from projections.visibility import Opening

    on, off = pair
    req = queries.PageRequest()
    with contextlib.ExitStack() as stack:
        engines = {s.name: stack.enter_context(opened(s.database, s.sealed))[1] for s in (on, off)}
        texts = {}
        for s in (on, off):
            page = queries.thread_page(engines[s.name], s.small.thread_id, req)
            assert page["page"]["comments_on_page"] == 200, page["page"]
            found = []

            def walk(nodes, found=found):
                for node in nodes:
                    found.append(node["text"])
                    walk(node["replies"])

            walk(page["comments"])
            texts[s.name] = sorted(found)
        if texts[on.name] != texts[off.name]:
            raise RuntimeError("the sealed and clear pages do not show the same texts")
        sealed_engine = engines[on.name]
        opener = sealed_engine.app.opener

        @contextlib.contextmanager
        def no_opener():
            sealed_engine.app.opener = None  # Opening then returns the values as they are
            try:
                yield
            finally:
                sealed_engine.app.opener = opener

        variants = [
            (on.name, contextlib.nullcontext, engines[on.name], on.small.thread_id),
            (off.name, contextlib.nullcontext, engines[off.name], off.small.thread_id),
            (f"{on.name}, opener off", no_opener, sealed_engine, on.small.thread_id),
        ]
        times: dict[str, list[float]] = {v[0]: [] for v in variants}
        means: dict[str, list[float]] = {v[0]: [] for v in variants}
        for _label, ctx, engine, thread_id in variants:  # warm-up
            with ctx():
                for _ in range(5):
                    queries.thread_page(engine, thread_id, req)
        for b in range(batches):
            order = variants if b % 2 == 0 else variants[::-1]
            for label, ctx, engine, thread_id in order:
                with ctx():
                    batch = []
                    for _ in range(n):
                        t = time.perf_counter()
                        queries.thread_page(engine, thread_id, req)
                        batch.append((time.perf_counter() - t) * 1e3)
                times[label] += batch
                means[label].append(sum(batch) / len(batch))
        # The opening alone: the page's values (texts, names) opened in one batch.
        rows = queries.SqlRows(sealed_engine)
        tops, _ = rows.page(on.small.thread_id, None, req)
        values = [
            v
            for r in tops + rows.subtrees(on.small.thread_id, tops, req.depth + 1)
            for v in (r["text"], r["author_name"])
            if v is not None
        ]
        opening = []
        for _ in range(n):
            t = time.perf_counter()
            o = Opening(sealed_engine)
            for v in values:
                o.want(v)
            o.run()
            opening.append((time.perf_counter() - t) * 1e3)
        times["opening alone"] = opening
        means["opening alone"] = [statistics.median(opening)]
        return times, means, len(set(values))


def part_http(args, summary: list) -> None:
    backends = args.backends
    log(
        f"\n== [http] POST and cached GET over HTTP, sealed vs clear ({', '.join(backends)});"
        f" wrk 1 thread, {args.connections} connections, {args.seconds:.0f}s per run,"
        f" {args.rounds} rounds"
    )
    require_wrk()
    servers: list[Server] = []
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-sealing-"))
        for url in (REDIS_SEALED, REDIS_CLEAR):
            flush_bench_redis(url)
            stack.callback(flush_bench_redis, url)
        pairs: list[tuple[Store, Store]] = []
        for backend in backends:
            pair = tuple(
                Store(
                    f"{backend}-{mode_name(sealed)}",
                    stack.enter_context(temp_store(backend)),
                    backend=backend,
                    sealed=sealed,
                )
                for sealed in MODES
            )
            pairs.append(pair)
        stack.callback(lambda: [s.stop() for s in reversed(servers)])
        for pair in pairs:
            for s in pair:
                seed_store(s)
        for pair in pairs:
            for s in pair:
                start_project(s, tmp, servers, extra_env=s.env)
        sizes = {}
        for pair in pairs:
            for s in pair:
                body, _ = check_read(s, s.small, 200)
                sizes[s.name] = len(body)
        log("  GET bodies: " + ", ".join(f"{k} {v:,} B" for k, v in sizes.items()))

        log("\n  [GET a thread of 200 comments, cached bytes]")
        for pair in pairs:  # warm-up: every worker builds its objects and its cache
            for s in pair:
                run_wrk(s.name, s.url(s.small), seconds=1, connections=args.connections)
        get, _ = wrk_rounds(pairs, args.rounds, args.seconds, args.connections)

        log("\n  [POST a comment]")
        plan = plan_thread(200)
        scripts = {}
        for pair in pairs:
            for s in pair:
                ok, detail = probe_post(s)
                if not ok:
                    raise RuntimeError(f"{s.name}: POST not usable: {detail}")
                scripts[s.name] = lua_post_script(
                    f"/api/v1/threads/{s.post_thread}/comments",
                    {"Authorization": f"Bearer {s.token}"},
                    post_bodies(plan, "project"),
                    Path(tmp) / f"post-{s.name}.lua",
                )
        for pair in pairs:
            for s in pair:
                absorb_seconds(s)
        post, absorbed = wrk_rounds(
            pairs, args.rounds, args.seconds, args.connections, scripts=scripts
        )
        for s in servers:
            s.stop()  # the in-process part runs on a quiet machine

        log(
            f"\n  [cold build in-process: queries.thread_page of the 200-comment thread,"
            f" {args.cold_calls} calls x {args.cold_batches} batches per variant]"
        )
        cold = {}
        for pair in pairs:
            cold[pair[0].backend] = cold_pages(pair, args.cold_calls, args.cold_batches)

        log("\n" + "-" * 78)
        log(
            f"RESULTS [http]  nproc={nproc()}; medians of {args.rounds} rounds; 'vs clear' ="
            " median of per-round ratios sealed/clear (req/s)"
        )
        table, get_ratios = http_table(pairs, get)
        log("\nGET a thread of 200 comments (cached bytes)\n" + table)
        table, post_ratios = http_table(pairs, post, absorbed)
        log("\nPOST a comment\n" + table)
        rows = []
        for backend, (times, means, _) in cold.items():
            on, off = f"{backend}-sealed", f"{backend}-clear"
            r = per_round_ratio(means[off], means[on])  # speed ratio: clear time / sealed
            for label, values in times.items():
                rel = ""
                if label in (on, f"{on}, opener off"):
                    rel = f"{per_round_ratio(means[off], means[label]):.1%}"
                elif label == off:
                    rel = "100%"
                rows.append(
                    [
                        label if label != "opening alone" else f"{backend}: opening alone",
                        f"{percentile(values, 50):.2f}",
                        f"{percentile(values, 99):.2f}",
                        rel,
                    ]
                )
            summary.append(
                (f"cold thread_page, {backend}, sealed vs clear (speed)", None, f"{r:.1%}")
            )
        log(
            "\nCold build of the 200-comment thread page in-process (queries.thread_page;"
            " 'opening alone': Opening.run of the page's sealed values,"
            f" {', '.join(f'{b} {c[2]}' for b, c in cold.items())})"
        )
        log(fmt_table(["variant", "p50 ms", "p99 ms", "speed vs clear"], rows))
        for backend in backends:
            for what, ratios in (("GET cached", get_ratios), ("POST", post_ratios)):
                r = ratios[backend]
                summary.append(
                    (
                        f"{what} {backend}, sealed >= 90% of clear",
                        r >= 1 - TARGET_HTTP_COST,
                        f"{r:.1%}",
                    )
                )


# ---- 2. catch-up ----------------------------------------------------------------------------


def catch_up_round(backend: str, sealed: bool, events: int) -> tuple:
    """A fresh store with a log of `events` events written in batches, then
    catch_up_many of every projection from the first event, as a new deployment or a
    worker far behind does. Returns (History, events applied, seconds, CPU seconds,
    projection names)."""
    with temp_store(backend) as database, opened(database, sealed) as (app, engine):
        h = write_history(app, events=events, threads=200, authors=50)
        started, cpu = time.perf_counter(), time.process_time()
        applied, failures = engine.catch_up_many()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        assert not failures, failures
        return h, max(applied.values()), elapsed, cpu, sorted(engine.projections)


def part_catch_up(args, summary: list) -> None:
    log(
        f"\n== [catch-up] catch_up_many of every projection over {args.events:,} events,"
        f" sealed vs clear ({args.rounds} rounds, a fresh store each time)"
    )
    for backend in args.backends:
        rates: dict[bool, list[float]] = {s: [] for s in MODES}
        cpus: dict[bool, list[float]] = {s: [] for s in MODES}
        writes: dict[bool, list[float]] = {s: [] for s in MODES}
        for r in range(args.rounds):
            for sealed in swapped(MODES, r):
                h, count, elapsed, cpu, names = catch_up_round(backend, sealed, args.events)
                rates[sealed].append(count / elapsed)
                cpus[sealed].append(cpu / count)
                writes[sealed].append(h.events / h.seconds)
                log(
                    f"    round {r + 1}/{args.rounds} {backend}-{mode_name(sealed):<7}"
                    f" written {h.events / h.seconds:,.0f} ev/s; caught up {count:,} events in"
                    f" {elapsed:.1f}s = {count / elapsed:,.0f} ev/s, client CPU"
                    f" {cpu / count * 1e6:.0f} us/event"
                )
        r = per_round_ratio(rates[True], rates[False])
        w = per_round_ratio(writes[True], writes[False])
        log(
            f"\n  RESULTS [catch-up] {backend}, nproc={nproc()}, {len(names)} projections"
            f" ({', '.join(names)}), catch_up_many, pages of 500"
        )
        log(
            fmt_table(
                ["store", "catch-up ev/s", "CPU/event", "vs clear", "write ev/s", "vs clear"],
                [
                    [
                        f"{backend}-{mode_name(s)}",
                        f"{statistics.median(rates[s]):,.0f}",
                        f"{statistics.median(cpus[s]) * 1e6:.0f} us",
                        f"{r:.1%}" if s else "100%",
                        f"{statistics.median(writes[s]):,.0f}",
                        f"{w:.1%}" if s else "100%",
                    ]
                    for s in MODES
                ],
            )
        )
        log("  (write: the log itself, 1,000 aggregates per save)")
        summary.append(
            (
                f"catch-up {backend}, sealed >= 85% of clear",
                r >= 1 - TARGET_CATCH_UP_COST,
                f"{r:.1%}",
            )
        )
        summary.append((f"batched writes {backend}, sealed vs clear", None, f"{w:.1%}"))


# ---- 3. erasure -----------------------------------------------------------------------------


def shown_comments(engine, author_id: UUID, thread_ids: list) -> tuple[set, dict]:
    """The first page of each thread: the ids of the author's comments shown with their
    text, and every comment node on those pages by id."""
    from projections import queries

    mine, nodes = set(), {}
    req = queries.PageRequest()
    for thread_id in thread_ids:
        stack = list(queries.thread_page(engine, str(thread_id), req)["comments"])
        while stack:
            node = stack.pop()
            stack += node["replies"]
            nodes[node["id"]] = node
            if node["author"] and node["author"]["id"] == str(author_id) and node["text"]:
                mine.add(node["id"])
    return mine, nodes


def explain_erasure(app, engine, author, backend: str) -> tuple[float, float, float]:
    """--erase-explain: the erasure under cProfile (its top functions by cumulative
    time), then each projection caught up on its own, timed (wall and CPU). Slower than
    the measured path (profiler; one transaction per projection): an explanation, not
    a figure for the target."""
    import cProfile
    import io
    import pstats

    from domain.model import OPERATOR_ID

    profiler = cProfile.Profile()
    t0, cpu = time.perf_counter(), time.process_time()
    profiler.enable()
    app.erase_author(OPERATOR_ID, author, "operator")
    profiler.disable()
    t1 = time.perf_counter()
    log(
        f"    [explain] {backend}: erase_author {t1 - t0:.2f}s wall, "
        f"{time.process_time() - cpu:.2f}s CPU (under cProfile); by cumulative time:"
    )
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(14)
    root = str(Path(__file__).resolve().parents[1]) + "/"
    for line in out.getvalue().splitlines():
        if line.strip() and not line.lstrip().startswith(("Ordered", "List reduced")):
            line = line.replace(root, "").replace(".venv/lib/python3.11/site-packages/", "")
            log("      " + line)
    for name in sorted(engine.projections):
        t, cpu = time.perf_counter(), time.process_time()
        count = engine.catch_up(name)
        log(
            f"    [explain] {backend}: catch_up({name!r}) {count:,} events in"
            f" {time.perf_counter() - t:.2f}s wall, {time.process_time() - cpu:.2f}s CPU"
        )
    return t0, t1, time.perf_counter()


def part_erase(args, summary: list) -> None:
    from domain.model import OPERATOR_ID

    heavy, light = args.erasures, 10
    per_cycle = heavy + 1  # every (heavy+1)-th new comment is a light author's

    def author_for(k, rng):
        slot = k % per_cycle
        return 1 + slot if slot < heavy else 1 + heavy + rng.randrange(light)

    comments = args.erase_comments * per_cycle
    log(
        f"\n== [erase] erase_author of an author of {args.erase_comments:,} comments over"
        f" {args.erase_threads} threads: {heavy} such authors per store (+ {light} others,"
        f" {comments:,} comments in all, 15% of the events edits), erased one after"
        " another, interleaved over the backends"
    )
    with contextlib.ExitStack() as stack:
        stores = {}
        for backend in args.backends:
            database = stack.enter_context(temp_store(backend))
            app, engine = stack.enter_context(opened(database, True))
            h = write_history(
                app,
                comments=comments,
                threads=args.erase_threads,
                authors=1 + heavy + light,
                author_for=author_for,
            )
            started = time.perf_counter()
            engine.catch_up_all()
            caught = time.perf_counter() - started
            targets = h.authors[1 : 1 + heavy]
            log(
                f"  {backend}: {h.events:,} events written in {h.seconds:.1f}s, projections"
                f" caught up in {caught:.1f}s; comments of the erased authors:"
                f" {', '.join(f'{h.comments_by[a]:,}' for a in targets)};"
                f" data keys of the first: {app.vault.live_keys(owner_id=str(targets[0])):,}"
            )
            stores[backend] = (app, engine, h, targets)
        results: dict[str, list[tuple]] = {b: [] for b in stores}
        order = list(stores)
        for i in range(heavy):
            for backend in order if i % 2 == 0 else order[::-1]:
                app, engine, h, targets = stores[backend]
                author = targets[i]
                before, _ = shown_comments(engine, author, h.threads[:3])
                keys = app.vault.live_keys(owner_id=str(author))
                head = app.head_position()
                if args.erase_explain:
                    t0, t1, t2 = explain_erasure(app, engine, author, backend)
                else:
                    t0 = time.perf_counter()
                    app.erase_author(OPERATOR_ID, author, "operator")
                    t1 = time.perf_counter()
                    _, failures = engine.catch_up_many()
                    t2 = time.perf_counter()
                    assert not failures, failures
                events = app.head_position() - head
                after, nodes = shown_comments(engine, author, h.threads[:3])
                erased = [
                    c
                    for c in before
                    if nodes[c]["state"] == "erased"
                    and nodes[c]["text"] is None
                    and nodes[c]["author"] is None
                ]
                left = app.vault.live_keys(owner_id=str(author))
                assert before and not after and len(erased) == len(before), (before, after)
                assert left == 0 and app.get_author(author).erased, left
                results[backend].append((t1 - t0, t2 - t1, events, keys))
                log(
                    f"    {backend} author {i + 1}: erase_author {t1 - t0:.2f}s ({events:,}"
                    f" events, {keys:,} keys destroyed), catch-up of every projection"
                    f" {t2 - t1:.2f}s, in all {t2 - t0:.2f}s; first pages of 3 threads:"
                    f" the author's {len(before)} comments shown before, all erased after"
                    " (no text, no name)"
                )
    rows = []
    for backend, res in results.items():
        erase = [r[0] for r in res]
        catch = [r[1] for r in res]
        total = [r[0] + r[1] for r in res]
        rows.append(
            [
                backend,
                f"{statistics.median(erase):.2f}",
                f"{statistics.median(catch):.2f}",
                f"{statistics.median(total):.2f}",
                f"{max(total):.2f}",
                f"{res[0][2]:,}",
            ]
        )
        summary.append(
            (
                f"erase author of {args.erase_comments:,} comments + catch-up, {backend} < 10 s",
                None if args.erase_explain else max(total) < TARGET_ERASE_SECONDS,
                f"{max(total):.1f} s (worst of {len(total)})",
            )
        )
    log(f"\n  RESULTS [erase] nproc={nproc()}, seconds (median of {heavy} authors)")
    log(
        fmt_table(
            ["backend", "erase_author", "catch-up after", "until every view", "worst", "events"],
            rows,
        )
    )


# ---- 4. verify ------------------------------------------------------------------------------


def run_verify(database) -> tuple[float, int, float]:
    """`discuss verify --no-progress` on the store, as an operator runs it. Returns
    (seconds, events verified, CPU seconds of the command's process)."""
    import resource

    env = dict(os.environ, DISCUSS_DATABASE_URL=database.url)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [str(VENV_BIN / "discuss"), "verify", "--no-progress"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if done.returncode != 0 or not done.stdout.startswith("OK: intact"):
        raise RuntimeError(f"verify failed ({done.returncode}): {done.stdout}{done.stderr}")
    checked = int(done.stdout.split("intact: ", 1)[1].split(" ", 1)[0])
    if "not chained yet" in done.stdout:
        raise RuntimeError(f"the chain is behind the log: {done.stdout}")
    return elapsed, checked, cpu


def sqlite_files(database) -> str:
    main = Path(database.path)
    wal = main.with_name(main.name + "-wal")
    size = wal.stat().st_size if wal.exists() else 0
    return f"file {main.stat().st_size / 2**20:,.0f} MiB, write-ahead log {size / 2**20:,.1f} MiB"


def checkpoint_sqlite(database) -> None:
    """Copy the write-ahead log into the file and truncate it (no connection is open)."""
    import sqlite3

    conn = sqlite3.connect(database.path)
    try:
        busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        assert not busy, "checkpoint blocked"
    finally:
        conn.close()


def part_verify(args, summary: list) -> None:
    n = args.verify_events
    log(
        f"\n== [verify] `discuss verify` over {n:,} events: a store without erasures vs one"
        f" with {args.verify_erase} authors erased ({args.rounds} rounds, interleaved)"
    )
    for backend in args.verify_backends:
        with contextlib.ExitStack() as stack:
            stores = {
                name: stack.enter_context(temp_store(backend)) for name in ("plain", "erased")
            }
            for name, database in stores.items():
                with opened(database, True) as (app, engine):
                    last = [time.perf_counter()]

                    def progress(done, last=last, name=name, backend=backend):
                        if time.perf_counter() - last[0] > 30:
                            last[0] = time.perf_counter()
                            log(f"    ... {backend}-{name}: {done:,} events written")

                    h = write_history(
                        app, events=n, threads=200, authors=50, batch=5000, progress=progress
                    )
                    log(
                        f"  {backend}-{name}: {h.events:,} events written in {h.seconds:.0f}s"
                        f" ({h.events / h.seconds:,.0f} ev/s, 5,000 aggregates per save)"
                    )
                    if name == "erased":
                        from domain.model import OPERATOR_ID

                        for author in h.authors[1 : 1 + args.verify_erase]:
                            head = app.head_position()
                            t = time.perf_counter()
                            app.erase_author(OPERATOR_ID, author, "operator")
                            log(
                                f"    erased an author of {h.comments_by[author]:,} comments"
                                f" in {time.perf_counter() - t:.1f}s"
                                f" ({app.head_position() - head:,} events)"
                            )
                    t = time.perf_counter()
                    engine.catch_up("chain", page_size=2000)
                    log(
                        f"    hash chain caught up to {app.head_position():,} in"
                        f" {time.perf_counter() - t:.0f}s"
                    )
            if backend == "sqlite":
                for name, database in stores.items():
                    log(f"    {backend}-{name}: {sqlite_files(database)}")
                    if args.verify_checkpoint:
                        checkpoint_sqlite(database)
                        log(f"    {backend}-{name}, checkpointed: {sqlite_files(database)}")
            times: dict[str, list[float]] = {name: [] for name in stores}
            cpus: dict[str, list[float]] = {name: [] for name in stores}
            counts: dict[str, int] = {}
            for r in range(args.verify_rounds):
                for name in swapped(tuple(stores), r):
                    elapsed, counts[name], cpu = run_verify(stores[name])
                    times[name].append(elapsed)
                    cpus[name].append(cpu / counts[name])
                    log(
                        f"    round {r + 1}/{args.verify_rounds} {backend}-{name:<6}"
                        f" {counts[name]:,} events verified in {elapsed:.1f}s"
                        f" = {counts[name] / elapsed:,.0f} ev/s, CPU {cpu:.1f}s"
                        f" ({cpu / counts[name] * 1e6:.1f} us/event)"
                    )
            rates = {k: [counts[k] / t for t in v] for k, v in times.items()}
            r = per_round_ratio(rates["erased"], rates["plain"])
            wall = per_round_ratio(times["plain"], times["erased"])
            log(f"\n  RESULTS [verify] {backend}, nproc={nproc()}")
            log(
                fmt_table(
                    ["store", "events", "seconds", "events/s", "vs plain", "CPU/event"],
                    [
                        [
                            f"{backend}-{k}",
                            f"{counts[k]:,}",
                            f"{statistics.median(times[k]):.1f}",
                            f"{statistics.median(rates[k]):,.0f}",
                            f"{r:.1%}" if k == "erased" else "100%",
                            f"{statistics.median(cpus[k]) * 1e6:.1f} us",
                        ]
                        for k in stores
                    ],
                )
            )
            log(f"  (in wall time for the whole log: plain/erased = {wall:.1%})")
            summary.append(
                (
                    f"verify {n:,} {backend}, with erasures >= 90% of without (ev/s)",
                    r >= TARGET_VERIFY_RATIO,
                    f"{r:.1%}",
                )
            )


# ---- main -----------------------------------------------------------------------------------


PARTS = {"http": part_http, "catch-up": part_catch_up, "erase": part_erase, "verify": part_verify}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--parts", default="http,catch-up,erase", help=f"of {', '.join(PARTS)} (http has cold)"
    )
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--seconds", type=float, default=4.0, help="per wrk run (default 4)")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--cold-calls", type=int, default=30)
    parser.add_argument("--cold-batches", type=int, default=6)
    parser.add_argument("--events", type=int, default=50_000, help="catch-up log (50,000)")
    parser.add_argument("--erase-comments", type=int, default=10_000)
    parser.add_argument("--erase-threads", type=int, default=20)
    parser.add_argument("--erasures", type=int, default=3, help="authors erased per store")
    parser.add_argument(
        "--erase-explain",
        action="store_true",
        help="profile each erasure and catch the projections up one by one, timed",
    )
    parser.add_argument("--verify-events", type=int, default=1_000_000)
    parser.add_argument("--verify-backends", default="sqlite")
    parser.add_argument("--verify-erase", type=int, default=5, help="authors erased (of 50)")
    parser.add_argument("--verify-rounds", type=int, default=3)
    parser.add_argument(
        "--verify-checkpoint",
        action="store_true",
        help="SQLite: checkpoint both stores' write-ahead logs before verifying (an erasure"
        " truncates its store's; the other's may still be large)",
    )
    args = parser.parse_args()
    args.backends = args.backends.split(",")
    args.verify_backends = args.verify_backends.split(",")
    parts = args.parts.split(",")
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        parser.error(f"unknown parts {unknown}")

    from importlib.metadata import version

    ensure_master_key()
    log(
        f"bench_sealing: nproc={nproc()} ({platform.machine()}), load average"
        f" {' '.join(f'{x:.1f}' for x in os.getloadavg())} at start; Python"
        f" {platform.python_version()}, eventsourcing {version('eventsourcing')},"
        f" cryptography {version('cryptography')}"
    )
    summary: list[tuple[str, bool | None, str]] = []
    started = time.perf_counter()
    for part in parts:
        PARTS[part](args, summary)
    log("\n" + "=" * 78)
    log(f"SUMMARY  nproc={nproc()}, {time.perf_counter() - started:.0f}s")
    for what, ok, figure in summary:
        label = "" if ok is None else verdict(ok)
        log(f"  {label:<7} {what:<58} {figure}")
    log(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 1 if any(ok is False for _, ok, _ in summary) else 0


if __name__ == "__main__":
    sys.exit(main())
