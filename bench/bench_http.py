"""HTTP throughput and latency of the JSON API under gunicorn, with a real load generator.

Run by hand (never by the tests). Needs Debian's `wrk` (`apt-get install -y wrk`),
PostgreSQL and Redis on 127.0.0.1, and Isso 0.14 in a venv of its own (bench/README.md):

    .venv/bin/python bench/bench_http.py            # ~5-6 minutes (2 of them seeding)
    .venv/bin/python bench/bench_http.py --quick    # ~2-3 minutes, large thread of 2,000
    .venv/bin/python bench/bench_http.py --profile  # + cProfile reports of the same paths

Every server runs under gunicorn with the same settings (2 sync workers, 127.0.0.1),
all in one run, measured in interleaved rounds so that each ratio compares figures
taken at the same time on the same (shared, noisy) machine:

  minimal   bench/minimal_app.py: Flask returning the same bytes from memory (baseline a)
  sqlite    the project on a temp SQLite store (embedded default: a projection runner
            thread in each web process; rate limits in process memory)
  postgres  the project on a temp PostgreSQL database with DISCUSS_REDIS_URL (scaled mode:
            rate limits in Redis, catch-up jobs on RQ, one `rq worker` SimpleWorker)
  isso      Isso 0.14 (baseline b) on its own SQLite file, seeded through its POST /new

Measurements:
  1. GET a thread of 200 comments (one page holding every comment, nested):
     req/s, p99; targets sqlite >= 60% of minimal, postgres >= 40%, both >= 50x isso.
  2. POST a comment (JSON, bearer token): req/s, p99; target >= 5x isso's POST /new.
  3. The first page of a thread of 10,000 comments: p99 < 50 ms, served (wrk, one
     connection, and under the same load as 1.) and built cold in-process.
  4. Where the time of a cached GET and of a POST goes: direct in-process WSGI calls,
     whole and with parts of the rate limiter taken away, beside parts timed alone.
Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import importlib.util
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

from common import REDIS_URL, ROOT, VENV_BIN, fmt_table, free_port, nproc, percentile
from seeding import plan_thread
from servers import (
    GUNICORN_WORKERS,
    Server,
    WrkResult,
    gunicorn_argv,
    http_get,
    http_json,
    require_wrk,
    run_wrk,
)
from stores import (
    app_env,
    app_in_process,
    clear_body_cache,
    flush_bench_redis,
    prepare_stores,
    temp_store,
    time_calls,
    wsgi_caller,
)

BENCH = Path(__file__).resolve().parent
ISSO_DIR = BENCH / "isso"
DEFAULT_ISSO_VENV = "/tmp/isso-venv"
ISSO_URI_200 = "/bench/t200"
ISSO_URI_POST = "/bench/post"
KEYS = ("bench/t200", "bench/t10k", "bench/post")

TARGET_SQLITE_VS_MINIMAL = 0.60
TARGET_POSTGRES_VS_MINIMAL = 0.40
TARGET_GET_VS_ISSO = 50.0
TARGET_POST_VS_ISSO = 5.0
TARGET_FIRST_PAGE_P99_MS = 50.0


def log(msg: str = "") -> None:
    print(msg, flush=True)


def wsgi_target() -> str:
    """`web.wsgi:app`, or the app factory if that module is not there."""
    return "web.wsgi:app" if (ROOT / "web" / "wsgi.py").exists() else "web:create_app()"


@dataclass
class Backend:
    name: str  # "sqlite" or "postgres"
    database: object
    small: object = None  # SeededThread
    large: object = None
    post_thread: str = ""
    token: str = ""
    server: Server | None = None

    @property
    def redis(self) -> bool:
        return self.name == "postgres"

    def url(self, thread) -> str:
        return f"{self.server.base}/api/v1/threads/{thread.thread_id}"


# ---- servers ---------------------------------------------------------------------------


def start_project(
    b: Backend, logs: str, servers: list[Server], extra_env: dict[str, str] | None = None
) -> None:
    """The project under gunicorn on b's store (+ an RQ worker on PostgreSQL); extra_env
    is added to the environment of both (bench_sealing.py: DISCUSS_SEAL_CONTENT, a
    Redis database of each store's own)."""
    env = app_env(b.database, redis=b.redis)
    env.update(extra_env or {})
    port = free_port()
    b.server = Server(
        f"app-{b.name}",
        gunicorn_argv(VENV_BIN / "gunicorn", wsgi_target(), port),
        env,
        port,
        ready_path=f"/api/v1/threads/{b.small.thread_id}",
        log_dir=logs,
    )
    servers.append(b.server)
    if b.redis:
        worker = Server(
            f"rq-{b.name}",
            [
                str(VENV_BIN / "rq"),
                "worker",
                "--worker-class",
                "rq.worker.SimpleWorker",
                "--url",
                env.get("DISCUSS_REDIS_URL", REDIS_URL),
                "--logging_level",
                "WARNING",
                "projections",
            ],
            env,
            None,
            log_dir=logs,
        )
        servers.append(worker)
    b.server.wait_ready()


def start_minimal(body: bytes, etag: str, tmp: str, servers: list[Server]) -> Server:
    body_file = Path(tmp) / "body.json"
    body_file.write_bytes(body)
    env = dict(os.environ, BENCH_BODY_FILE=str(body_file), BENCH_ETAG=etag)
    port = free_port()
    server = Server(
        "minimal",
        gunicorn_argv(VENV_BIN / "gunicorn", "minimal_app:app", port),
        env,
        port,
        log_dir=tmp,
        cwd=BENCH,
    )
    servers.append(server)
    server.wait_ready()
    return server


def start_isso(venv: Path, tmp: str, servers: list[Server]) -> Server:
    cfg = (ISSO_DIR / "isso.cfg").read_text()
    cfg = cfg.replace("@DBPATH@", f"{tmp}/isso-comments.db")
    cfg = cfg.replace("@HOST@", f"http://127.0.0.1:{free_port()}/")
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
        log_dir=tmp,
        cwd=tmp,
    )
    servers.append(server)
    server.wait_ready()
    return server


def isso_seeder():
    """bench/isso/seed_isso.py, loaded by path (bench/isso is not a package)."""
    spec = importlib.util.spec_from_file_location("bench_seed_isso", ISSO_DIR / "seed_isso.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---- wrk scripts and rounds ------------------------------------------------------------


def lua_post_script(path: str, headers: dict[str, str], bodies: list[str], out: Path) -> str:
    """A wrk script that POSTs the JSON bodies in turn, each made unique by a counter."""
    lua_bodies = ",\n".join("[==[" + b + "]==]" for b in bodies)
    lua_headers = "\n".join(f'wrk.headers["{k}"] = [==[{v}]==]' for k, v in headers.items())
    out.write_text(
        f"""wrk.method = "POST"
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
    out = []
    for i, c in enumerate(plan.comments[:40]):
        text = f"{c.text} (bench @N@)"
        if kind == "project":
            out.append(json.dumps({"text": text}))
        else:
            author = plan.authors[i % len(plan.authors)]
            out.append(json.dumps({"text": text, "author": author, "title": "Posting bench"}))
    return out


MIN_ISSO_SECONDS = 8  # Isso serves a few 200-comment reads per second: count enough of them


def rounds_of(targets, rounds: int, seconds: float, connections: int) -> dict[str, list[WrkResult]]:
    """wrk each (label, url, extra) in turn, `rounds` times over."""
    results: dict[str, list[WrkResult]] = {label: [] for label, *_ in targets}
    for r in range(rounds):
        for label, url, extra in targets:
            secs = max(seconds, MIN_ISSO_SECONDS) if label == "isso" else seconds
            res = run_wrk(label, url, seconds=secs, connections=connections, **extra)
            results[label].append(res)
            flag = "" if res.ok else f"  !! non-2xx {res.non_2xx} {res.socket_errors}"
            log(
                f"    round {r + 1}/{rounds} {label:<9} {res.rps:8.1f} req/s  p50 {res.p50_ms:7.2f}"
                f" ms  p99 {res.p99_ms:7.2f} ms  ({res.requests} requests){flag}"
            )
    return results


def median_result(results: list[WrkResult]) -> WrkResult:
    ordered = sorted(results, key=lambda r: r.rps)
    return ordered[len(ordered) // 2]


def ratio(num: list[WrkResult], den: list[WrkResult]) -> float:
    """Median over rounds of num/den, each pair measured in the same round."""
    values = [a.rps / b.rps for a, b in zip(num, den, strict=True) if b.rps > 0]
    return statistics.median(values) if values else float("nan")


# ---- checks ----------------------------------------------------------------------------


def check_read(b: Backend, thread, expected: int) -> tuple[bytes, dict]:
    status, headers, body = http_get(b.url(thread))
    if status != 200:
        raise RuntimeError(
            f"{b.name}: GET thread answered {status}: {body[:300]!r}\n"
            f"server log:\n{b.server.log_tail(60)}"
        )
    on_page = json.loads(body)["page"]["comments_on_page"]
    if expected and on_page != expected:
        raise RuntimeError(f"{b.name}: the page holds {on_page} comments, not {expected}")
    return body, headers


def probe_post(b: Backend) -> tuple[bool, str]:
    status, _, body = http_json(
        "POST",
        f"{b.server.base}/api/v1/threads/{b.post_thread}/comments",
        {"text": "A first comment, to check that the endpoint is there."},
        {"Authorization": f"Bearer {b.token}"},
    )
    return status in (200, 201, 202), f"{status} {body[:200]!r}"


def absorb_seconds(b: Backend, timeout: float = 120.0) -> float:
    """Seconds until every projection has reached the head of the log."""
    from projections.registry import build_engine
    from projections.setup import open_application

    app = open_application(b.database)
    engine = build_engine(app, b.database)
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


# ---- in-process measurements -----------------------------------------------------------


def cold_first_page(b: Backend, n: int) -> tuple[float, float, int]:
    """The first page of the large thread with the byte cache emptied before each request
    (what the first read after a change costs), Flask test client, in this process."""
    with app_in_process(b.database, redis=b.redis) as app:
        client = app.test_client()
        url = f"/api/v1/threads/{b.large.thread_id}"
        times, size = [], 0
        for i in range(n + 3):
            clear_body_cache(app)
            t = time.perf_counter()
            r = client.get(url)
            if i >= 3:
                times.append((time.perf_counter() - t) * 1e3)
            size = len(r.data)
            assert r.status_code == 200, r.status_code
        return percentile(times, 50), percentile(times, 99), size


@contextlib.contextmanager
def _limiter_off():
    from web import limiter

    saved = limiter.enabled
    limiter.enabled = False
    try:
        yield
    finally:
        limiter.enabled = saved


def _ablations(b: Backend):
    # (The X-RateLimit headers are off in the project itself, and its in-memory storage
    # has no Timer thread: web/__init__.py's LazyMemoryStorage, checked at start-up.)
    return [("rate limiter off", _limiter_off)]


def _timed_row(label: str, fn, n: int, base: float | None, batches: int = 5) -> list[str]:
    try:
        ms = time_calls(fn, n, batches)
    except Exception as error:  # a part renamed meanwhile by the API helpers
        return [label, "n/a", type(error).__name__]
    return [label, f"{ms:.3f}", f"{ms - base:+.3f}" if base is not None else ""]


def _interleaved(variants, n: int, batches: int) -> dict[str, float]:
    """Median ms per call of each (label, context manager factory, fn), the variants
    taken in turn within each batch, so that a burst of load elsewhere hits them all."""
    per: dict[str, list[float]] = {label: [] for label, _, _ in variants}
    for _label, ctx, fn in variants:  # warm-up
        with ctx():
            for _ in range(5):
                fn()
    for _ in range(batches):
        for label, ctx, fn in variants:
            with ctx():
                t = time.perf_counter()
                for _ in range(n):
                    fn()
                per[label].append((time.perf_counter() - t) / n * 1e3)
    return {label: statistics.median(values) for label, values in per.items()}


def get_breakdown(b: Backend, body_file: Path, n: int) -> list[list[str]]:
    """Where a cached GET of the 200-comment thread spends its time, ms per request:
    direct WSGI calls in this process (no socket, no gunicorn, no profiler), whole and
    with parts of the rate limiter taken away, beside the parts of the view timed alone."""
    from web.api.caching import json_bytes_response, make_etag

    os.environ["BENCH_BODY_FILE"] = str(body_file)
    spec = importlib.util.spec_from_file_location("bench_minimal_app", BENCH / "minimal_app.py")
    minimal = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(minimal)

    path = f"/api/v1/threads/{b.small.thread_id}"
    rows = []
    with app_in_process(b.database, redis=b.redis) as app:
        full = wsgi_caller(app, path)
        status, _ = full()
        assert status.startswith("200"), status
        variants = [
            ("minimal app, same bytes", contextlib.nullcontext, wsgi_caller(minimal.app, path))
        ]
        variants.append(("project: whole request", contextlib.nullcontext, full))
        variants += [(f"project: {label}", ablation, full) for label, ablation in _ablations(b)]
        ms = _interleaved(variants, n, 7)
        base = ms["minimal app, same bytes"]
        for label, value in ms.items():
            rows.append([label, f"{value:.3f}", "" if value is base else f"{value - base:+.3f}"])
        with app.test_request_context(path, environ_base={"REMOTE_ADDR": "127.0.0.1"}):
            for label, fn in _get_parts(app, path, b):
                rows.append(_timed_row(f"  alone: {label}", fn, n, None))
            body, etag = body_file.read_bytes(), make_etag("x")
            rows.append(
                _timed_row(
                    "  alone: Response from cached bytes",
                    lambda: json_bytes_response(body, etag),
                    n,
                    None,
                )
            )
    return rows


def _get_parts(app, path: str, b: Backend):
    from projections import queries
    from web.api.caching import make_etag
    from web.api.common import QueryLoader
    from web.api.reads import engine, serving_thread
    from web.auth import is_moderator
    from web.schemas import ThreadQuery

    eng = engine()
    req = queries.PageRequest()
    thread_id = b.small.thread_id
    schema = ThreadQuery()
    memoised = QueryLoader(ThreadQuery())  # what the view builds once, at import
    return [
        ("ThreadQuery().load(args), not memoised", lambda: schema.load({})),
        ("the view's memoised query load", memoised.load),
        ("serving_thread: generation + row (1 SQL)", lambda: serving_thread(eng, thread_id)),
        ("engine.generation (SQL), no longer per GET", lambda: eng.generation("threads")),
        ("is_moderator (anonymous)", is_moderator),
        ("make_etag", lambda: make_etag("thread", thread_id, 1, 1, req)),
    ]


def post_breakdown(b: Backend, n: int) -> list[list[str]]:
    """Where a POST of a comment spends its time, ms per request, in this process with no
    projection runner (the server's runner or RQ worker applies the projections besides)."""
    from uuid import UUID

    path = f"/api/v1/threads/{b.post_thread}/comments"
    headers = {"Authorization": f"Bearer {b.token}"}
    text = "A comment of ordinary length, posted again and again by the benchmark. " * 2
    rows = []
    with app_in_process(b.database, redis=b.redis) as app:
        post = wsgi_caller(app, path, headers, method="POST", json_body={"text": text})
        status, _ = post()
        assert status.startswith("201"), status
        variants = [("project: whole request", contextlib.nullcontext, post)]
        variants += [(f"project: {label}", ablation, post) for label, ablation in _ablations(b)]
        ms = _interleaved(variants, n, 5)
        whole = ms["project: whole request"]
        for label, value in ms.items():
            rows.append([label, f"{value:.3f}", "" if value is whole else f"{value - whole:+.3f}"])
        from web.runtime import runtime

        with app.test_request_context(path):
            services = runtime().services
        author = services.app.authenticate(b.token)
        thread_id = UUID(b.post_thread)
        rows.append(
            _timed_row(
                "  alone: Discussions.authenticate(token)",
                lambda: services.app.authenticate(b.token),
                n,
                None,
                3,
            )
        )
        rows.append(
            _timed_row(
                "  alone: Discussions.post_comment()",
                lambda: services.app.post_comment(author.id, thread_id, text),
                n,
                None,
                3,
            )
        )
        services.engine.catch_up_all()

        def post_and_project():
            services.app.post_comment(author.id, thread_id, text)
            services.engine.catch_up_all()

        # What the runner thread (SQLite) or the RQ worker (PostgreSQL) adds per post, on
        # the same cores, when posts come one at a time (under load it batches them).
        rows.append(
            _timed_row(
                f"  alone: post_comment() + catch-up of {len(services.engine.projections)}"
                " projections",
                post_and_project,
                n,
                None,
                3,
            )
        )
    return rows


def profile_in_process(b: Backend, what: str, n: int) -> None:
    """cProfile of n requests of one kind: one process, Flask test client."""
    with app_in_process(b.database, redis=b.redis) as app:
        client = app.test_client()
        if what == "get":
            url = f"/api/v1/threads/{b.small.thread_id}"

            def call(i):
                return client.get(url)
        elif what == "get-cold":
            url = f"/api/v1/threads/{b.large.thread_id}"

            def call(i):
                clear_body_cache(app)
                return client.get(url)
        else:
            url = f"/api/v1/threads/{b.post_thread}/comments"
            headers = {"Authorization": f"Bearer {b.token}"}

            def call(i):
                return client.post(
                    url, json={"text": f"A profiled comment, number {i}."}, headers=headers
                )

        for i in range(5):
            call(-1 - i)
        prof = cProfile.Profile()
        t = time.perf_counter()
        prof.enable()
        for i in range(n):
            r = call(i)
        prof.disable()
        per = (time.perf_counter() - t) / n * 1e3
    log(
        f"\n--- cProfile: {what} on {b.name}: {n} requests, {per:.2f} ms each in-process "
        f"(profiler included), status {r.status_code} ---"
    )
    for order, count in (("cumulative", 30), ("tottime", 14)):
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats(order).print_stats(count)
        lines = [
            ln.replace(str(ROOT) + "/", "").replace(
                str(ROOT / ".venv/lib/python3.11/site-packages") + "/", ""
            )
            for ln in out.getvalue().splitlines()
            if ln.strip()
        ]
        keep = [ln for ln in lines if not ln.lstrip().startswith(("Ordered", "List reduced"))]
        log(f"  by {order}:")
        log("\n".join(keep[1:]))


def _print_logs_on_error(servers: list[Server]):
    def on_exit(exc_type, exc, tb):
        if exc_type is not None and exc_type is not KeyboardInterrupt:
            for server in servers:
                log(f"\n--- last lines of {server.name}'s log ---\n{server.log_tail(30)}")
        return False

    return on_exit


# ---- main ------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description="HTTP benchmarks of the JSON API (wrk + gunicorn)."
    )
    parser.add_argument("--quick", action="store_true", help="short runs; large thread of 2,000")
    parser.add_argument("--seconds", type=float, help="seconds per wrk run (default 4, quick 2)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 3, quick 1)")
    parser.add_argument("--connections", type=int, default=4, help="wrk connections (default 4)")
    parser.add_argument("--large", type=int, help="comments of the large thread (default 10,000)")
    parser.add_argument("--isso-venv", default=os.environ.get("BENCH_ISSO_VENV", DEFAULT_ISSO_VENV))
    parser.add_argument("--no-isso", action="store_true", help="leave Isso out")
    parser.add_argument("--profile", action="store_true", help="print cProfile reports in any case")
    args = parser.parse_args()
    seconds = args.seconds or (2.0 if args.quick else 4.0)
    rounds = args.rounds or (1 if args.quick else 3)
    n_large = args.large or (2_000 if args.quick else 10_000)
    conns = args.connections

    require_wrk()
    isso_venv = Path(args.isso_venv)
    use_isso = not args.no_isso
    if use_isso and not (isso_venv / "bin" / "gunicorn").exists():
        log(f"!! no Isso venv at {isso_venv} (see bench/README.md): running without Isso")
        use_isso = False

    wrk_v = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
    log("bench_http: the JSON API over HTTP")
    log(
        f"machine: nproc={nproc()} ({platform.machine()}), load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at start; Python "
        f"{platform.python_version()}"
    )
    log(
        f"load generator: {wrk_v.split(' Copyright')[0]}, 1 thread, {conns} connections, "
        f"{seconds:.0f}s per run, {rounds} interleaved round(s); wrk shares the 2 cores"
    )
    log(
        f"servers: gunicorn, {GUNICORN_WORKERS} sync workers each, 127.0.0.1; project as "
        f"{wsgi_target()!r}"
    )
    plan_small = plan_thread(200)
    log(f"thread of 200: {plan_small.describe()}")
    log(f"large thread:  {plan_thread(n_large, max_tops=None, seed=11).describe()}")

    missed: list[str] = []
    checks: list[tuple[str, bool, str]] = []
    servers: list[Server] = []
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-http-"))
        stack.callback(flush_bench_redis)
        flush_bench_redis()
        backends = {
            n: Backend(n, stack.enter_context(temp_store(n))) for n in ("sqlite", "postgres")
        }
        # Registered last, so it runs first: every server ends before its store is dropped.
        stack.callback(lambda: [s.stop() for s in reversed(servers)])
        stack.push(_print_logs_on_error(servers))

        log("\nset-up (temp stores; PostgreSQL prepared in a child process meanwhile)")
        prepared = prepare_stores(
            {n: b.database for n, b in backends.items()}, 200, n_large, KEYS, log=log
        )
        for name, b in backends.items():
            r = prepared[name]
            b.small, b.large, b.token, b.post_thread = (
                r["small"],
                r["large"],
                r["token"],
                r["post_thread"],
            )
            start_project(b, tmp, servers)

        sizes = {}
        for b in backends.values():
            body, headers = check_read(b, b.small, 200)
            sizes[b.name] = len(body)
        body, headers = check_read(backends["sqlite"], backends["sqlite"].small, 200)
        minimal = start_minimal(body, headers.get("ETag", ""), tmp, servers)
        status, _, mbody = http_get(
            f"{minimal.base}/api/v1/threads/{backends['sqlite'].small.thread_id}"
        )
        assert status == 200 and mbody == body, status
        sizes["minimal"] = len(mbody)

        isso = None
        if use_isso:
            isso = start_isso(isso_venv, tmp, servers)
            _, secs = isso_seeder().seed(isso.base, ISSO_URI_200, plan_small)
            status, _, ibody = http_get(f"{isso.base}/?uri={ISSO_URI_200}")
            assert status == 200 and json.loads(ibody)["total_replies"] == 200, status
            sizes["isso"] = len(ibody)
            log(
                f"  isso: the same 200 comments posted through POST /new in {secs:.1f}s "
                "(Isso keeps one level of nesting)"
            )
        log(
            "  GET bodies of the 200-comment thread: "
            + ", ".join(f"{k} {v / 1024:.1f} KiB" for k, v in sizes.items())
        )

        # ---- 1. GET 200 comments -------------------------------------------------------------
        log("\n[1] GET a thread of 200 comments")
        get_targets = [
            ("minimal", f"{minimal.base}/api/v1/threads/{backends['sqlite'].small.thread_id}", {})
        ]
        get_targets += [(b.name, b.url(b.small), {}) for b in backends.values()]
        if isso:
            get_targets.append(("isso", f"{isso.base}/?uri={ISSO_URI_200}", {}))
        for label, url, extra in get_targets:  # warm-up: every worker builds its objects
            run_wrk(label, url, seconds=1, connections=conns, **extra)
        get = rounds_of(get_targets, rounds, seconds, conns)

        # ---- 2. POST a comment ----------------------------------------------------------------
        log("\n[2] POST a comment")
        post_targets, post_ok = [], {}
        for b in backends.values():
            post_ok[b.name], detail = probe_post(b)
            if not post_ok[b.name]:
                log(f"  !! {b.name}: POST /api/v1/threads/{{id}}/comments not usable: {detail}")
                continue
            script = lua_post_script(
                f"/api/v1/threads/{b.post_thread}/comments",
                {"Authorization": f"Bearer {b.token}"},
                post_bodies(plan_small, "project"),
                Path(tmp) / f"post-{b.name}.lua",
            )
            post_targets.append(
                (
                    b.name,
                    f"{b.server.base}/api/v1/threads/{b.post_thread}/comments",
                    {"script": script},
                )
            )
        if isso:
            script = lua_post_script(
                f"/new?uri={ISSO_URI_POST}",
                {},
                post_bodies(plan_small, "isso"),
                Path(tmp) / "post-isso.lua",
            )
            post_targets.append(
                ("isso", f"{isso.base}/new?uri={ISSO_URI_POST}", {"script": script})
            )
        post = rounds_of(post_targets, rounds, seconds, conns) if post_targets else {}
        for b in backends.values():
            if post_ok.get(b.name):
                log(
                    f"  {b.name}: projections reached the head of the log "
                    f"{absorb_seconds(b):.1f}s after the load stopped"
                )

        # ---- 3. first page of the large thread ------------------------------------------
        log(f"\n[3] GET the first page of a thread of {n_large:,} comments")
        large_targets = [(b.name, b.url(b.large), {}) for b in backends.values()]
        for b in backends.values():
            check_read(b, b.large, 0)
        for label, url, extra in large_targets:
            run_wrk(label, url, seconds=1, connections=conns, **extra)
        log("  one connection (latency, no queueing):")
        large_rounds = max(1, rounds - 1)
        large_one = rounds_of(large_targets, large_rounds, seconds, 1)
        log(f"  {conns} connections (the load of [1]):")
        large_load = rounds_of(large_targets, large_rounds, seconds, conns)
        cold = {}
        for b in backends.values():
            cold[b.name] = cold_first_page(b, 15 if args.quick else 40)
            log(
                f"    {b.name}: built cold in-process: p50 {cold[b.name][0]:.1f} ms, "
                f"p99 {cold[b.name][1]:.1f} ms ({cold[b.name][2] / 1024:.0f} KiB)"
            )

        # ---- 4. where a cached GET's time goes ---------------------------------------------------
        log(
            "\n[4] where the time goes: direct WSGI calls in this process, no socket, no profiler,"
            " ms per request (medians of interleaved batches)"
        )
        body_file = Path(tmp) / "body.json"
        n_calls = 100 if args.quick else 150
        for title, fn, count in (
            (
                "a cached GET of the 200-comment thread (delta: vs the minimal app)",
                get_breakdown,
                n_calls,
            ),
            (
                "a POST of a comment, no projection runner in this process (delta: vs the whole"
                " request)",
                None,
                n_calls // 10,
            ),
        ):
            parts = {}
            for b in backends.values():
                if fn is get_breakdown:
                    parts[b.name] = get_breakdown(b, body_file, count)
                elif post_ok.get(b.name):
                    parts[b.name] = post_breakdown(b, count)
            if not parts:
                continue
            labels = []
            for rows_ in parts.values():
                labels += [r[0] for r in rows_ if r[0] not in labels]
            table = []
            for label in labels:
                row = [label]
                for name in ("sqlite", "postgres"):
                    found = next((r for r in parts.get(name, []) if r[0] == label), None)
                    row += [found[1], found[2]] if found else ["-", ""]
                table.append(row)
            log(f"\n  {title}")
            log(fmt_table(["", "sqlite ms", "(delta)", "postgres ms", "(delta)"], table))

        # ---- results --------------------------------------------------------------------
        log("\n" + "=" * 80)
        log(
            f"RESULTS  nproc={nproc()}; medians of {rounds} round(s) of {seconds:.0f}s; each ratio"
            " is the median of per-round ratios to the baseline measured in the same round"
        )
        have_isso = "isso" in get
        rows = []
        for label, results in get.items():
            m = median_result(results)
            rows.append(
                [
                    label,
                    f"{m.rps:.1f}",
                    f"{m.p50_ms:.2f}",
                    f"{m.p99_ms:.2f}",
                    f"{ratio(results, get['minimal']):.0%}",
                    f"{ratio(results, get['isso']):.1f}x" if have_isso else "-",
                    f"{sizes[label] / 1024:.0f} KiB",
                ]
            )
        log("\nGET a thread of 200 comments")
        log(
            fmt_table(
                ["server", "req/s", "p50 ms", "p99 ms", "vs minimal", "vs isso", "body"], rows
            )
        )
        r = ratio(get["sqlite"], get["minimal"])
        checks.append(("GET sqlite >= 60% of minimal", r >= TARGET_SQLITE_VS_MINIMAL, f"{r:.0%}"))
        r = ratio(get["postgres"], get["minimal"])
        checks.append(
            ("GET postgres >= 40% of minimal", r >= TARGET_POSTGRES_VS_MINIMAL, f"{r:.0%}")
        )
        if have_isso:
            for name in ("sqlite", "postgres"):
                r = ratio(get[name], get["isso"])
                checks.append((f"GET {name} >= 50x isso", r >= TARGET_GET_VS_ISSO, f"{r:.0f}x"))

        if post:
            rows = []
            for label, results in post.items():
                m = median_result(results)
                rows.append(
                    [
                        label,
                        f"{m.rps:.1f}",
                        f"{m.p50_ms:.2f}",
                        f"{m.p99_ms:.2f}",
                        f"{ratio(results, post['isso']):.1f}x" if "isso" in post else "-",
                        sum(x.non_2xx for x in results),
                    ]
                )
            log("\nPOST a comment")
            log(fmt_table(["server", "req/s", "p50 ms", "p99 ms", "vs isso", "non-2xx"], rows))
        for name in ("sqlite", "postgres"):
            if not post_ok.get(name):
                checks.append((f"POST {name} >= 5x isso", False, "endpoint not usable"))
            elif "isso" in post:
                r = ratio(post[name], post["isso"])
                checks.append((f"POST {name} >= 5x isso", r >= TARGET_POST_VS_ISSO, f"{r:.1f}x"))

        rows = []
        for name in large_one:
            one, load = median_result(large_one[name]), median_result(large_load[name])
            worst_one = max(x.p99_ms for x in large_one[name])
            worst_load = max(x.p99_ms for x in large_load[name])
            rows.append(
                [
                    name,
                    f"{one.rps:.1f}",
                    f"{one.p50_ms:.2f}",
                    f"{worst_one:.2f}",
                    f"{load.rps:.1f}",
                    f"{worst_load:.2f}",
                    f"{cold[name][0]:.1f}",
                    f"{cold[name][1]:.1f}",
                ]
            )
            checks.append(
                (
                    f"10k first page p99 < 50 ms, {name}, 1 conn",
                    worst_one < 50,
                    f"{worst_one:.1f} ms",
                )
            )
            checks.append(
                (
                    f"10k first page p99 < 50 ms, {name}, {conns} conns",
                    worst_load < 50,
                    f"{worst_load:.1f} ms",
                )
            )
            checks.append(
                (
                    f"10k first page p99 < 50 ms, {name}, cold build",
                    cold[name][1] < 50,
                    f"{cold[name][1]:.1f} ms",
                )
            )
        log(
            f"\nGET the first page of {n_large:,} comments (p99 = worst round; cold = built "
            "in-process with the byte cache emptied)"
        )
        log(
            fmt_table(
                [
                    "server",
                    "req/s 1c",
                    "p50 1c",
                    "p99 1c",
                    f"req/s {conns}c",
                    f"p99 {conns}c",
                    "cold p50",
                    "cold p99",
                ],
                rows,
            )
        )

        log("\nTARGETS")
        for what, ok, figure in checks:
            log(f"  {'met' if ok else 'MISSED':<7} {what:<44} {figure}")
            if not ok:
                missed.append(what)

        if args.profile:
            log("\nPROFILES (cProfile, one process, Flask test client)")
            n = 100 if args.quick else 300
            profile_in_process(backends["sqlite"], "get", n)
            profile_in_process(backends["postgres"], "get", n)
            for name in ("sqlite", "postgres"):
                if post_ok.get(name):
                    profile_in_process(backends[name], "post", n // 5)
            profile_in_process(backends["postgres"], "get-cold", 10)
    if missed and not args.profile:
        log("\n(--profile adds cProfile reports of these paths to the breakdown of [4])")
    log(f"\nload average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
