"""HTTP throughput and latency of the JSON API under gunicorn, with a real load generator.

Run by hand (never by the tests); needs Debian's `wrk` (`apt-get install -y wrk`),
PostgreSQL and Redis on 127.0.0.1, and Isso 0.14 in a separate venv (see --isso-venv;
bench/README.md shows how to make it):

    .venv/bin/python bench/bench_http.py            # ~5 minutes
    .venv/bin/python bench/bench_http.py --quick    # ~1.5 minutes, short wrk runs
    .venv/bin/python bench/bench_http.py --profile  # + cProfile of the in-process paths

Every server runs under gunicorn with the same settings (2 sync workers, bound to
127.0.0.1), all measured in one run, in interleaved rounds, so that ratios compare
figures taken on the same machine at the same time:

  minimal   bench/minimal_app.py: Flask returning the same bytes from memory (baseline a)
  sqlite    the project on a temp SQLite store (embedded default: projection runner
            thread in each web process)
  postgres  the project on a temp PostgreSQL database, DISCUSS_REDIS_URL set (scaled
            mode: rate limits in Redis, catch-up jobs on RQ, one `rq worker` SimpleWorker)
  isso      Isso 0.14 (baseline b) on its own SQLite file, seeded via its POST /new

Measurements:
  1. GET a thread of 200 comments (one page: every comment nested) — req/s and p99;
     targets: sqlite >= 60% of minimal, postgres >= 40% of minimal, both >= 50x isso.
  2. POST a comment (JSON, bearer token) — req/s and p99; target >= 5x isso.
  3. GET the first page of a thread of 10,000 comments — p99 target < 50 ms (served by
     wrk, cached bytes), plus the in-process cold build (cache emptied before each).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    GUNICORN_WORKERS,
    REDIS_URL,
    ROOT,
    VENV_BIN,
    Server,
    WrkResult,
    app_env,
    catch_up,
    flush_bench_redis,
    fmt_table,
    free_port,
    gunicorn_argv,
    http_get,
    http_json,
    nproc,
    percentile,
    plan_thread,
    require_wrk,
    run_wrk,
    seed_thread,
    temp_store,
)

ISSO_DIR = Path(__file__).resolve().parent / "isso"
DEFAULT_ISSO_VENV = "/tmp/isso-venv"
ISSO_URI_200 = "/bench/t200"
ISSO_URI_POST = "/bench/post"
KEY_200 = "bench/t200"
KEY_10K = "bench/t10k"
KEY_POST = "bench/post"

TARGETS = {
    "get_sqlite_vs_minimal": 0.60,
    "get_postgres_vs_minimal": 0.40,
    "get_vs_isso": 50.0,
    "post_vs_isso": 5.0,
    "first_page_10k_p99_ms": 50.0,
}


# ---- the project's servers ------------------------------------------------------------------


def wsgi_target() -> str:
    """`web.wsgi:app` once the API helper has added it, else the app factory."""
    return "web.wsgi:app" if (ROOT / "web" / "wsgi.py").exists() else "web:create_app()"


@dataclass
class Backend:
    name: str  # "sqlite" or "postgres"
    database: object
    t200: object = None
    t10k: object = None
    post_thread: str = ""
    token: str = ""
    server: Server | None = None
    worker: Server | None = None


def prepare_backend(backend: Backend, plan200, plan10k, log) -> None:
    """Seed the threads through the application service, register a poster, catch up."""
    from domain.model import OPERATOR_ID
    from projections.setup import open_application

    app = open_application(backend.database)
    try:
        backend.t200 = seed_thread(app, plan200, KEY_200)
        log(f"  {backend.name}: 200-comment thread seeded in {backend.t200.seconds:.1f}s")
        backend.t10k = seed_thread(app, plan10k, KEY_10K)
        log(f"  {backend.name}: 10,000-comment thread seeded in {backend.t10k.seconds:.1f}s")
        backend.token = app.register_author("Bench Poster").token
        backend.post_thread = str(
            app.open_thread(OPERATOR_ID, "Posting bench", key=KEY_POST).thread_id
        )
    finally:
        app.close()
    started = time.perf_counter()
    applied = catch_up(backend.database)
    log(f"  {backend.name}: projections caught up {applied} in {time.perf_counter() - started:.1f}s")


def start_project(backend: Backend, logs: str) -> None:
    redis = backend.name == "postgres"
    env = app_env(backend.database, redis=redis)
    port = free_port()
    backend.server = Server(
        f"app-{backend.name}",
        gunicorn_argv(VENV_BIN / "gunicorn", wsgi_target(), port),
        env,
        port,
        ready_path=f"/api/v1/threads/{backend.t200.thread_id}",
        log_dir=logs,
    )
    if redis:
        backend.worker = Server(
            f"rq-{backend.name}",
            [
                str(VENV_BIN / "rq"),
                "worker",
                "--worker-class",
                "rq.worker.SimpleWorker",
                "--url",
                REDIS_URL,
                "--logging_level",
                "WARNING",
                "projections",
            ],
            env,
            None,
            log_dir=logs,
        )
    backend.server.wait_ready()


# ---- Isso -------------------------------------------------------------------------------------


def start_isso(venv: Path, tmp: str, logs: str) -> Server:
    cfg = (ISSO_DIR / "isso.cfg").read_text()
    cfg = cfg.replace("@DBPATH@", f"{tmp}/isso-comments.db").replace(
        "@HOST@", f"http://127.0.0.1:{free_port()}/"
    )
    cfg_path = Path(tmp) / "isso.cfg"
    cfg_path.write_text(cfg)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCUSS_", "PYTHON"))}
    env["ISSO_SETTINGS"] = str(cfg_path)
    port = free_port()
    server = Server(
        "isso",
        gunicorn_argv(venv / "bin" / "gunicorn", "isso.run", port),
        env,
        port,
        ready_path="/info",
        log_dir=logs,
        cwd=tmp,
    )
    server.wait_ready()
    return server


def load_isso_seeder():
    """bench/isso/seed_isso.py, loaded by path (bench/isso is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_seed_isso", ISSO_DIR / "seed_isso.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---- load scripts -------------------------------------------------------------------------------


def lua_post_script(path: str, headers: dict[str, str], bodies: list[str], out: Path) -> str:
    """A wrk script that POSTs JSON bodies in turn, each made unique by a counter."""
    lua_bodies = ",\n".join("[==[" + b + "]==]" for b in bodies)
    lua_headers = "\n".join(f'wrk.headers["{k}"] = [==[{v}]==]' for k, v in headers.items())
    out.write_text(
        f"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
{lua_headers}
local bodies = {{
{lua_bodies}
}}
local counter = 0
request = function()
  counter = counter + 1
  local body = string.gsub(bodies[(counter % #bodies) + 1], "@N@", tostring(counter))
  return wrk.format(nil, [==[{path}]==], nil, body)
end
"""
    )
    return str(out)


def post_bodies(plan, kind: str) -> list[str]:
    texts = [c.text for c in plan.comments[:40]]
    out = []
    for i, text in enumerate(texts):
        text = f"{text} (bench @N@)"
        if kind == "project":
            out.append(json.dumps({"text": text}))
        else:
            out.append(
                json.dumps(
                    {"text": text, "author": plan.authors[i % len(plan.authors)], "title": "Posting bench"}
                )
            )
    return out


# ---- measuring ------------------------------------------------------------------------------------


def rounds_of(label_urls, rounds: int, seconds: float, connections: int, log, **wrk_kw):
    """wrk each (label, url, extra) in turn, `rounds` times over: {label: [WrkResult]}."""
    results: dict[str, list[WrkResult]] = {label: [] for label, *_ in label_urls}
    for r in range(rounds):
        for label, url, extra in label_urls:
            res = run_wrk(label, url, seconds=seconds, connections=connections, **{**wrk_kw, **extra})
            results[label].append(res)
            flag = "" if res.ok else f"  !! non-2xx {res.non_2xx} {res.socket_errors}"
            log(
                f"    round {r + 1}/{rounds} {label:<10} {res.rps:9.1f} req/s"
                f"  p50 {res.p50_ms:7.2f} ms  p99 {res.p99_ms:7.2f} ms{flag}"
            )
    return results


def median_result(results: list[WrkResult]) -> WrkResult:
    ordered = sorted(results, key=lambda r: r.rps)
    return ordered[len(ordered) // 2]


def ratio_per_round(num: list[WrkResult], den: list[WrkResult]) -> float:
    """Median over rounds of num/den, each pair taken in the same round."""
    ratios = [a.rps / b.rps for a, b in zip(num, den, strict=True) if b.rps > 0]
    return statistics.median(ratios) if ratios else float("nan")


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def check_read(backend: Backend, n_expected: int) -> tuple[int, dict]:
    status, headers, body = http_get(f"{backend.server.base}/api/v1/threads/{backend.t200.thread_id}")
    if status != 200:
        raise RuntimeError(
            f"{backend.name}: GET thread answered {status}: {body[:300]!r}\n"
            f"server log:\n{backend.server.log_tail(80)}"
        )
    page = json.loads(body)["page"]
    if page["comments_on_page"] != n_expected:
        raise RuntimeError(f"{backend.name}: the page holds {page['comments_on_page']} comments")
    return len(body), headers


def probe_post(backend: Backend) -> tuple[bool, str]:
    url = f"{backend.server.base}/api/v1/threads/{backend.post_thread}/comments"
    status, _, body = http_json(
        "POST", url, {"text": "probe"}, {"Authorization": f"Bearer {backend.token}"}
    )
    return status in (200, 201, 202), f"{status} {body[:200]!r}"


def cold_first_page(backend: Backend, n: int) -> tuple[float, float, int]:
    """In-process, Flask test client: the first page of the 10k thread with the byte
    cache emptied before each request (what the first read after a change costs)."""
    with app_in_process(backend) as client:
        from web.api import caching

        url = f"/api/v1/threads/{backend.t10k.thread_id}"
        times = []
        size = 0
        for _ in range(n + 3):
            caching.bodies._items.clear()
            t = time.perf_counter()
            r = client.get(url)
            times.append((time.perf_counter() - t) * 1e3)
            size = len(r.data)
            assert r.status_code == 200, r.status_code
        times = times[3:]
        return percentile(times, 50), percentile(times, 99), size


@contextlib.contextmanager
def app_in_process(backend: Backend):
    """The project's Flask app in this process (no embedded runner), its test client."""
    env = app_env(backend.database, redis=False)
    env["DISCUSS_EMBEDDED_RUNNER"] = "false"
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        from web import create_app
        from workers.services import forget_services

        app = create_app()
        try:
            yield app.test_client()
        finally:
            forget_services()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def profile_in_process(backend: Backend, what: str, n: int, log) -> None:
    """cProfile of n requests of one kind, single process, Flask test client."""
    with app_in_process(backend) as client:
        if what == "get":
            url = f"/api/v1/threads/{backend.t200.thread_id}"

            def call(i):
                return client.get(url)
        elif what == "get-cold":
            from web.api import caching

            url = f"/api/v1/threads/{backend.t10k.thread_id}"

            def call(i):
                caching.bodies._items.clear()
                return client.get(url)
        else:
            url = f"/api/v1/threads/{backend.post_thread}/comments"
            headers = {"Authorization": f"Bearer {backend.token}"}

            def call(i):
                return client.post(url, json={"text": f"profiled comment {i}"}, headers=headers)

        for i in range(5):
            call(-i)
        prof = cProfile.Profile()
        t = time.perf_counter()
        prof.enable()
        for i in range(n):
            r = call(i)
        prof.disable()
        per = (time.perf_counter() - t) / n * 1e3
        log(f"\n--- cProfile: {what} on {backend.name}, {n} requests, {per:.2f} ms each "
            f"(in-process, profiler overhead included; last status {r.status_code}) ---")
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(28)
        log("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:6000])
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(15)
        log("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:4000])


# ---- main -------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description="HTTP benchmarks of the JSON API (wrk + gunicorn).")
    parser.add_argument("--quick", action="store_true", help="short run (~1.5 min)")
    parser.add_argument("--seconds", type=float, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, help="interleaved rounds per measurement")
    parser.add_argument("--connections", type=int, default=4, help="wrk connections (default 4)")
    parser.add_argument("--large", type=int, default=10_000, help="comments of the large thread")
    parser.add_argument("--isso-venv", default=os.environ.get("BENCH_ISSO_VENV", DEFAULT_ISSO_VENV))
    parser.add_argument("--no-isso", action="store_true", help="skip Isso")
    parser.add_argument("--profile", action="store_true", help="always print cProfile reports")
    args = parser.parse_args()
    seconds = args.seconds or (3.0 if args.quick else 7.0)
    rounds = args.rounds or (1 if args.quick else 3)
    cold_n = 20 if args.quick else 60

    def log(msg: str = "") -> None:
        print(msg, flush=True)

    require_wrk()
    isso_venv = Path(args.isso_venv)
    use_isso = not args.no_isso
    if use_isso and not (isso_venv / "bin" / "gunicorn").exists():
        log(f"!! no Isso venv at {isso_venv} (see bench/README.md); running without Isso")
        use_isso = False

    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
    log("bench_http — JSON API over HTTP")
    log(f"machine: nproc={nproc()}  {platform.machine()}  Python {platform.python_version()}")
    log(f"load: {wrk_version.strip()}, 1 thread, {args.connections} connections, "
        f"{seconds:.0f}s per run, {rounds} interleaved round(s); wrk shares the machine")
    log(f"servers: gunicorn {GUNICORN_WORKERS} sync workers each, 127.0.0.1; app target "
        f"{wsgi_target()!r}")

    plan200 = plan_thread(200)
    plan10k = plan_thread(args.large, max_tops=None, seed=11)
    log(f"thread 200: {plan200.describe()}")
    log(f"thread 10k: {plan10k.describe()}")

    missed: list[str] = []
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-http-"))
        logs = tmp
        stack.callback(flush_bench_redis)
        flush_bench_redis()

        backends: dict[str, Backend] = {}
        for name in ("sqlite", "postgres"):
            log(f"\nsetting up {name} …")
            backends[name] = Backend(name, stack.enter_context(temp_store(name)))
            prepare_backend(backends[name], plan200, plan10k, log)

        servers: list[Server] = []
        stack.callback(lambda: [s.stop() for s in reversed(servers)])

        for b in backends.values():
            start_project(b, logs)
            servers.append(b.server)
            if b.worker:
                servers.append(b.worker)

        # The baseline serves exactly the bytes the SQLite server sends.
        sizes = {}
        for b in backends.values():
            sizes[b.name], headers = check_read(b, len(plan200.comments))
        _, sq_headers, body = http_get(
            f"{backends['sqlite'].server.base}/api/v1/threads/{backends['sqlite'].t200.thread_id}"
        )
        body_file = Path(tmp) / "body.json"
        body_file.write_bytes(body)
        env = dict(os.environ, BENCH_BODY_FILE=str(body_file), BENCH_ETAG=sq_headers.get("ETag", ""))
        port = free_port()
        minimal = Server(
            "minimal",
            gunicorn_argv(VENV_BIN / "gunicorn", "minimal_app:app", port),
            env,
            port,
            log_dir=logs,
            cwd=ROOT / "bench",
        )
        servers.append(minimal)
        minimal.wait_ready()
        status, _, mbody = http_get(f"{minimal.base}/api/v1/threads/{backends['sqlite'].t200.thread_id}")
        assert status == 200 and mbody == body
        sizes["minimal"] = len(mbody)

        isso = None
        if use_isso:
            isso = start_isso(isso_venv, tmp, logs)
            servers.append(isso)
            ids, secs = load_isso_seeder().seed(isso.base, ISSO_URI_200, plan200)
            log(f"  isso: 200 comments posted through POST /new in {secs:.1f}s")
            status, _, ibody = http_get(f"{isso.base}/?uri={ISSO_URI_200}")
            total = json.loads(ibody)["total_replies"]
            assert status == 200 and total == 200, (status, total)
            sizes["isso"] = len(ibody)

        log("\nresponse sizes of the 200-comment thread: " + ", ".join(
            f"{k} {v / 1024:.1f} KiB" for k, v in sizes.items()))

        # ---- 1. GET 200 comments ------------------------------------------------------------
        log("\n[1] GET a thread of 200 comments")
        targets = [
            ("minimal", f"{minimal.base}/api/v1/threads/{backends['sqlite'].t200.thread_id}", {}),
            ("sqlite", f"{backends['sqlite'].server.base}/api/v1/threads/{backends['sqlite'].t200.thread_id}", {}),
            ("postgres", f"{backends['postgres'].server.base}/api/v1/threads/{backends['postgres'].t200.thread_id}", {}),
        ]
        if isso:
            targets.append(("isso", f"{isso.base}/?uri={ISSO_URI_200}", {}))
        for label, url, extra in targets:  # warm-up: every worker builds its objects
            run_wrk(label, url, seconds=1, connections=args.connections, **extra)
        get = rounds_of(targets, rounds, seconds, args.connections, log)

        # ---- 2. POST a comment ----------------------------------------------------------------
        log("\n[2] POST a comment")
        post_targets = []
        post_ok = {}
        for b in backends.values():
            ok, detail = probe_post(b)
            post_ok[b.name] = ok
            if not ok:
                log(f"  !! {b.name}: POST /api/v1/threads/{{id}}/comments not usable yet: {detail}")
                continue
            script = lua_post_script(
                f"/api/v1/threads/{b.post_thread}/comments",
                {"Authorization": f"Bearer {b.token}"},
                post_bodies(plan200, "project"),
                Path(tmp) / f"post-{b.name}.lua",
            )
            post_targets.append((b.name, f"{b.server.base}/api/v1/threads/{b.post_thread}/comments",
                                 {"script": script}))
        if isso:
            script = lua_post_script(
                f"/new?uri={ISSO_URI_POST}", {}, post_bodies(plan200, "isso"), Path(tmp) / "post-isso.lua"
            )
            post_targets.append(("isso", f"{isso.base}/new?uri={ISSO_URI_POST}", {"script": script}))
        post = rounds_of(post_targets, rounds, seconds, args.connections, log) if post_targets else {}
        # How long the projections took to absorb the posts (reads see them after this).
        for b in backends.values():
            if post_ok.get(b.name):
                lag = absorb_seconds(b)
                log(f"  {b.name}: projections absorbed the posts {lag:.1f}s after the load stopped")

        # ---- 3. the first page of 10,000 comments ---------------------------------------
        log(f"\n[3] GET the first page of a thread of {args.large:,} comments")
        large_targets = [
            (b.name, f"{b.server.base}/api/v1/threads/{b.t10k.thread_id}", {}) for b in backends.values()
        ]
        for label, url, extra in large_targets:
            run_wrk(label, url, seconds=1, connections=args.connections, **extra)
        large = rounds_of(large_targets, rounds, seconds, args.connections, log)
        cold = {}
        for b in backends.values():
            cold[b.name] = cold_first_page(b, cold_n)
            log(f"    {b.name}: cold build in-process p50 {cold[b.name][0]:.1f} ms, "
                f"p99 {cold[b.name][1]:.1f} ms ({cold[b.name][2] / 1024:.0f} KiB)")

        # ---- tables ---------------------------------------------------------------------------
        log("\n" + "=" * 78)
        log(f"RESULTS  (nproc={nproc()}; medians over {rounds} round(s); ratios are per-round "
            "ratios to the baseline measured in the same round, medianed)")
        rows = []
        for label in get:
            m = median_result(get[label])
            vs_min = ratio_per_round(get[label], get["minimal"])
            vs_isso = ratio_per_round(get[label], get["isso"]) if "isso" in get else float("nan")
            rows.append([label, f"{m.rps:.1f}", f"{m.p50_ms:.2f}", f"{m.p99_ms:.2f}",
                         f"{vs_min:.0%}", f"{vs_isso:.1f}x" if "isso" in get else "-",
                         f"{sizes.get(label, 0) / 1024:.0f} KiB"])
        log("\nGET thread of 200 comments")
        log(fmt_table(["server", "req/s", "p50 ms", "p99 ms", "vs minimal", "vs isso", "body"], rows))
        checks = []
        s_min = ratio_per_round(get["sqlite"], get["minimal"])
        p_min = ratio_per_round(get["postgres"], get["minimal"])
        checks.append(("GET sqlite >= 60% of minimal", s_min >= TARGETS["get_sqlite_vs_minimal"],
                       f"{s_min:.0%}"))
        checks.append(("GET postgres >= 40% of minimal", p_min >= TARGETS["get_postgres_vs_minimal"],
                       f"{p_min:.0%}"))
        if "isso" in get:
            for name in ("sqlite", "postgres"):
                r = ratio_per_round(get[name], get["isso"])
                checks.append((f"GET {name} >= 50x isso", r >= TARGETS["get_vs_isso"], f"{r:.0f}x"))

        if post:
            rows = []
            for label in post:
                m = median_result(post[label])
                vs_isso = ratio_per_round(post[label], post["isso"]) if "isso" in post else float("nan")
                rows.append([label, f"{m.rps:.1f}", f"{m.p50_ms:.2f}", f"{m.p99_ms:.2f}",
                             f"{vs_isso:.1f}x" if "isso" in post else "-",
                             sum(r.non_2xx for r in post[label])])
            log("\nPOST a comment")
            log(fmt_table(["server", "req/s", "p50 ms", "p99 ms", "vs isso", "non-2xx"], rows))
            if "isso" in post:
                for name in ("sqlite", "postgres"):
                    if name in post:
                        r = ratio_per_round(post[name], post["isso"])
                        checks.append((f"POST {name} >= 5x isso", r >= TARGETS["post_vs_isso"], f"{r:.1f}x"))
        for name in ("sqlite", "postgres"):
            if not post_ok.get(name):
                checks.append((f"POST {name} >= 5x isso", False, "endpoint not available"))

        rows = []
        for label in large:
            m = median_result(large[label])
            worst = max(r.p99_ms for r in large[label])
            rows.append([label, f"{m.rps:.1f}", f"{m.p50_ms:.2f}", f"{m.p99_ms:.2f}", f"{worst:.2f}",
                         f"{cold[label][0]:.1f}", f"{cold[label][1]:.1f}"])
            checks.append((f"10k first page p99 < 50 ms ({label}, served)",
                           worst < TARGETS["first_page_10k_p99_ms"], f"{worst:.1f} ms"))
            checks.append((f"10k first page p99 < 50 ms ({label}, cold build)",
                           cold[label][1] < TARGETS["first_page_10k_p99_ms"], f"{cold[label][1]:.1f} ms"))
        log(f"\nGET first page of {args.large:,} comments (wrk; cold = in-process, cache emptied)")
        log(fmt_table(["server", "req/s", "p50 ms", "p99 ms", "worst p99", "cold p50", "cold p99"], rows))

        log("\nTARGETS")
        for what, ok, figure in checks:
            log(f"  {verdict(ok):<7} {what:<46} {figure}")
            if not ok:
                missed.append(what)

        if missed or args.profile:
            log("\nPROFILES (in-process, single thread, cProfile)")
            n = 200 if args.quick else 1000
            profile_in_process(backends["sqlite"], "get", n, log)
            profile_in_process(backends["postgres"], "get", n, log)
            if any(post_ok.values()):
                name = "sqlite" if post_ok.get("sqlite") else "postgres"
                profile_in_process(backends[name], "post", n // 5, log)
            profile_in_process(backends["postgres"], "get-cold", 20, log)
    return 1 if missed else 0


def absorb_seconds(backend: Backend, timeout: float = 60.0) -> float:
    """Seconds until every projection has reached the head of the log."""
    from projections.setup import open_application
    from projections.registry import build_engine

    app = open_application(backend.database)
    engine = build_engine(app, backend.database)
    started = time.perf_counter()
    try:
        while time.perf_counter() - started < timeout:
            if all(s.lag_events == 0 for s in engine.status()):
                break
            time.sleep(0.1)
        return time.perf_counter() - started
    finally:
        engine.store.close()
        app.close()


if __name__ == "__main__":
    sys.exit(main())
