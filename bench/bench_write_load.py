"""Writes under concurrency, before and after group commit and the elected runner, and the
serving choice (gunicorn sync vs gthread), all in ONE run, interleaved.

Run by hand (never by the tests). Needs Debian's `wrk`, PostgreSQL and Redis on
127.0.0.1 (Redis database 13, `DISCUSS_BENCH_REDIS`), and optionally Isso 0.14 in a venv
of its own (`--isso-venv`, see bench/README.md, bench_http.py):

    .venv/bin/python bench/bench_write_load.py                 # ~6 minutes
    .venv/bin/python bench/bench_write_load.py --seconds 3 --rounds 1

One store per backend is seeded once (a 200-comment thread, a 10,000-comment thread,
a poster, an empty thread to post into) and copied for each configuration (SQLite: the
files; PostgreSQL: CREATE DATABASE ... TEMPLATE), so the servers never share a store:

  base-sync     the starting commit (e5be3fe, `--base`), 2 sync workers (its Procfile)
  sync          this code, 2 sync workers
  sync4         this code, 4 sync workers (not by default)
  gthread       this code, 2 gthread workers x `--threads` (4) threads (group commit batches)
  gthread-nogc  the same with DISCUSS_GROUP_COMMIT=off (what group commit itself gains)
  base-gthread  the starting commit under gthread (not by default: `--configs`)
  isso          Isso 0.14, 2 sync workers (POST only: the issue's yardstick)

SQLite runs the embedded default (runner thread(s) in the web processes); PostgreSQL the
scaled mode (Redis, one RQ SimpleWorker per configuration on a queue of its own).
Loads, each `--seconds` per server, servers taken in turn within each load:

  post     POST a comment, 16 connections
  mixed    90% GET of the 200-comment thread, 10% POST, 16 connections
  big4     GET the first page of the 10,000-comment thread, 4 connections
  big16    the same, 16 connections
  bigmix   the same page while it changes: 10% POSTs into that thread, 16 connections
           (not by default: `--loads`)

Then in this process: comments per transaction that group commit achieves with 8
threads posting at once, and the raw driver's one-row-per-commit rate (bench_writes.py).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_http import (
    ISSO_URI_POST,
    lua_post_script,
    post_bodies,
    start_isso,
)
from common import PG_ADMIN_URL, REDIS_URL, ROOT, fmt_table, free_port, nproc
from seeding import plan_thread
from servers import Server, WrkResult, http_get, http_json, run_wrk
from stores import app_env, flush_bench_redis, prepare_store, temp_store

BIN = Path(sys.executable).parent
KEYS = ("bench/t200", "bench/t10k", "bench/post")
CONFIGS = ("base-sync", "sync", "sync4", "gthread", "gthread-nogc", "base-gthread")
DEFAULT_CONFIGS = "base-sync,sync,gthread,gthread-nogc"


def log(msg: str = "") -> None:
    print(msg, flush=True)


def gunicorn(
    target: str, port: int, worker_class: str, threads: int, workers: int = 2
) -> list[str]:
    argv = [str(BIN / "gunicorn"), "--workers", str(workers), "--worker-class", worker_class]
    if worker_class == "gthread":
        argv += ["--threads", str(threads)]
    argv += ["--bind", f"127.0.0.1:{port}", "--backlog", "2048", "--timeout", "60"]
    return [*argv, "--log-level", "warning", target]


def copy_store(backend: str, seeded, name: str, tmp: str):
    """A copy of the seeded store for one configuration."""
    import psycopg

    from domain.settings import Database

    if backend == "sqlite":
        folder = Path(tmp) / name
        folder.mkdir()
        source = Path(seeded.path)
        for path in source.parent.iterdir():
            if path.name.startswith(source.stem) and not path.name.endswith(".lock"):
                shutil.copy(path, folder / path.name)
        master = source.parent / "master-key"
        if master.exists():
            shutil.copy(master, folder / "master-key")
        return Database.from_url(f"sqlite:///{folder / source.name}")
    dbname = f"{seeded.dbname}_{name.replace('-', '_')}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}" TEMPLATE "{seeded.dbname}"')
    return Database.from_url(f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{dbname}")


def drop_copies(databases) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        for database in databases:
            conn.execute(f'DROP DATABASE IF EXISTS "{database.dbname}" WITH (FORCE)')


def mixed_script(get_path: str, post_path: str, token: str, bodies: list[str], out: Path) -> str:
    """wrk: every tenth request a POST of a comment, the others a GET of the thread page."""
    lua_bodies = ",\n".join("[==[" + b + "]==]" for b in bodies)
    out.write_text(
        f"""local bodies = {{
{lua_bodies}
}}
local counter = 0
request = function()
  counter = counter + 1
  if counter % 10 == 0 then
    local body = string.gsub(bodies[(counter % #bodies) + 1], "@N@", tostring(counter))
    return wrk.format("POST", [==[{post_path}]==], {{
      ["Content-Type"] = "application/json",
      ["Authorization"] = [==[Bearer {token}]==]}}, body)
  end
  return wrk.format("GET", [==[{get_path}]==])
end
"""
    )
    return str(out)


def start_config(backend: str, config: str, database, facts, args, tmp, servers) -> Server:
    base = config.startswith("base")
    env = app_env(database, redis=backend == "postgres")
    queue = f"bench-{config}"
    env["DISCUSS_QUEUE"] = queue
    if config.endswith("nogc"):
        env["DISCUSS_GROUP_COMMIT"] = "off"
    code = args.base_dir if base else str(ROOT)
    env["PYTHONPATH"] = code
    port = free_port()
    worker_class = "gthread" if "gthread" in config else "sync"
    workers = 4 if config.endswith("4") else 2
    server = Server(
        f"{backend}-{config}",
        gunicorn("web.wsgi:app", port, worker_class, args.threads, workers),
        env,
        port,
        ready_path=f"/api/v1/threads/{facts['small'].thread_id}",
        log_dir=tmp,
        cwd=code,
    )
    servers.append(server)
    if backend == "postgres":
        worker = [str(BIN / "rq"), "worker", "--worker-class", "rq.worker.SimpleWorker"]
        worker += ["--url", REDIS_URL, "--logging_level", "WARNING", queue]
        servers.append(Server(f"rq-{config}", worker, env, None, log_dir=tmp, cwd=code))
    server.wait_ready()
    status, _, body = http_get(server.base + f"/api/v1/threads/{facts['small'].thread_id}")
    status2, _, body2 = http_json(
        "POST",
        server.base + f"/api/v1/threads/{facts['post_thread']}/comments",
        {"text": "A first comment, to check the server."},
        {"Authorization": f"Bearer {facts['token']}"},
    )
    if status != 200 or status2 != 201:
        raise RuntimeError(
            f"{server.name}: GET {status} {body[:200]!r}, POST {status2} {body2[:200]!r}\n"
            + server.log_tail()
        )
    return server


def group_commit_per_transaction(database, facts, threads: int = 8, each: int = 40) -> tuple:
    """In this process: `threads` threads posting at once through one application (8:
    within the library's PostgreSQL pool of 5 + 10 connections)."""
    from uuid import UUID

    from projections.setup import open_application

    app = open_application(database)
    try:
        author = app.authenticate(facts["token"]).id
        thread = UUID(facts["post_thread"])
        before = app.group_commit.stats.as_dict()
        barrier = threading.Barrier(threads)

        def post(n: int) -> None:
            barrier.wait()
            for i in range(each):
                app.post_comment(author, thread, f"group commit bench {n}/{i}")

        workers = [threading.Thread(target=post, args=(n,)) for n in range(threads)]
        started = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        seconds = time.perf_counter() - started
        after = app.group_commit.stats.as_dict()
        writes = after["writes"] - before["writes"]
        transactions = after["transactions"] - before["transactions"]
        return writes / seconds, writes / max(1, transactions), after["largest"]
    finally:
        app.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=4, help="gthread threads per worker")
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--base", default="e5be3fe", help="the commit to compare with")
    parser.add_argument("--isso-venv", default=os.environ.get("BENCH_ISSO_VENV", "/tmp/isso-venv"))
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--loads", default="post,mixed,big4,big16")
    parser.add_argument("--configs", default=DEFAULT_CONFIGS)
    args = parser.parse_args(argv)
    backends = args.backends.split(",")
    loads = args.loads.split(",")
    configs = [c for c in args.configs.split(",") if c in CONFIGS]
    log(f"nproc: {nproc()}  load average: {os.getloadavg()}")
    servers: list[Server] = []
    copies = []
    copy_of = {}
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-wl-"))
        args.base_dir = str(Path(tmp) / "base")
        os.mkdir(args.base_dir)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", args.base], capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", args.base_dir], input=archive.stdout, check=True)
        stack.callback(flush_bench_redis)
        flush_bench_redis()
        seeded = {b: stack.enter_context(temp_store(b)) for b in backends}
        stack.callback(lambda: drop_copies([c for c in copies if c.backend == "postgres"]))
        stack.callback(lambda: [s.stop() for s in reversed(servers)])
        facts = {}
        for b in backends:
            started = time.perf_counter()
            facts[b] = prepare_store(seeded[b].url, 200, args.large, KEYS)
            log(f"seeded {b} in {time.perf_counter() - started:.0f}s")
        plan = plan_thread(200)
        targets: dict[str, dict[str, tuple]] = {load: {} for load in loads}
        for b in backends:
            for config in configs:
                database = copy_store(b, seeded[b], config, tmp)
                copies.append(database)
                copy_of[b, config] = database
                server = start_config(b, config, database, facts[b], args, tmp, servers)
                f = facts[b]
                post_path = f"/api/v1/threads/{f['post_thread']}/comments"
                get_path = f"/api/v1/threads/{f['small'].thread_id}"
                label = f"{b} {config}"
                post = lua_post_script(
                    post_path,
                    {"Authorization": f"Bearer {f['token']}"},
                    post_bodies(plan, "project"),
                    Path(tmp) / f"post-{b}-{config}.lua",
                )
                mixed = mixed_script(
                    get_path,
                    post_path,
                    f["token"],
                    post_bodies(plan, "project"),
                    Path(tmp) / f"mixed-{b}-{config}.lua",
                )
                big_path = f"/api/v1/threads/{f['large'].thread_id}"
                big = server.base + big_path
                bigmix = mixed_script(
                    big_path,
                    f"{big_path}/comments",
                    f["token"],
                    post_bodies(plan, "project"),
                    Path(tmp) / f"bigmix-{b}-{config}.lua",
                )
                for load, target in (
                    ("post", (server.base + post_path, {"script": post}, 16)),
                    ("mixed", (server.base + get_path, {"script": mixed}, 16)),
                    ("big4", (big, {}, 4)),
                    ("big16", (big, {}, 16)),
                    ("bigmix", (big, {"script": bigmix}, 16)),
                ):
                    if load in targets:
                        targets[load][label] = target
        isso_venv = Path(args.isso_venv)
        if "post" in targets and (isso_venv / "bin" / "gunicorn").exists():
            isso = start_isso(isso_venv, tmp, servers)
            script = lua_post_script(
                f"/new?uri={ISSO_URI_POST}",
                {},
                post_bodies(plan, "isso"),
                Path(tmp) / "post-isso.lua",
            )
            targets["post"]["isso"] = (
                f"{isso.base}/new?uri={ISSO_URI_POST}",
                {"script": script},
                16,
            )
        log(f"servers up; load average: {os.getloadavg()}")
        for load in targets.values():  # warm-up: every worker builds its objects
            for label, (url, extra, conns) in load.items():
                run_wrk(label, url, seconds=1, connections=conns, **extra)
        results: dict[str, dict[str, list[WrkResult]]] = {
            load: {label: [] for label in t} for load, t in targets.items()
        }
        for r in range(args.rounds):
            for load, t in targets.items():
                for label, (url, extra, conns) in t.items():
                    res = run_wrk(label, url, seconds=args.seconds, connections=conns, **extra)
                    results[load][label].append(res)
                    bad = "" if res.ok else f"  !! non-2xx {res.non_2xx} {res.socket_errors}"
                    log(
                        f"  round {r + 1} {load:<6} {label:<22} {res.rps:8.1f} req/s"
                        f"  p50 {res.p50_ms:7.2f} ms  p99 {res.p99_ms:7.2f} ms{bad}"
                    )
        log(f"load average after the loads: {os.getloadavg()}")

        for server in reversed(servers):  # their connections free for what follows
            server.stop()
        # In this process: comments per transaction; the raw driver's commit rate.
        from bench_writes import bench_raw_postgres, bench_raw_sqlite

        extra_rows = []
        for b in backends if "gthread" in configs else ():
            rate, per_tx, largest = group_commit_per_transaction(copy_of[b, "gthread"], facts[b])
            with temp_store(b, initialised=False) as raw_db:
                raw = (bench_raw_sqlite if b == "sqlite" else bench_raw_postgres)(raw_db, 500)
            extra_rows.append([b, f"{rate:.0f}", f"{per_tx:.1f}", largest, f"{raw.per_second:.0f}"])

    log("\n" + "=" * 80)
    log(
        f"RESULTS nproc={nproc()} load average {os.getloadavg()}; median of {args.rounds} round(s)"
        f" of {args.seconds:.0f}s; ratios to the same load's base-sync (else base-gthread)"
        " and isso of each round"
    )
    for load, per in results.items():
        rows = []
        for label, res in per.items():
            rps = statistics.median(x.rps for x in res)
            p50 = statistics.median(x.p50_ms for x in res)
            p99 = statistics.median(x.p99_ms for x in res)
            b = label.split()[0]
            base = per.get(f"{b} base-sync") or per.get(f"{b} base-gthread")
            vs_base = (
                statistics.median(x.rps / y.rps for x, y in zip(res, base, strict=True) if y.rps)
                if base and label != "isso"
                else float("nan")
            )
            isso = per.get("isso")
            vs_isso = (
                statistics.median(x.rps / y.rps for x, y in zip(res, isso, strict=True) if y.rps)
                if isso
                else float("nan")
            )
            rows.append(
                [
                    label,
                    f"{rps:.0f}",
                    f"{p50:.1f}",
                    f"{p99:.1f}",
                    f"{vs_base:.2f}x",
                    f"{vs_isso:.2f}x",
                ]
            )
        log(f"\n{load}")
        log(fmt_table(["server", "req/s", "p50 ms", "p99 ms", "vs base-sync", "vs isso"], rows))
    log("\nin-process, 8 threads posting through one application (group commit on)")
    log(
        fmt_table(
            ["backend", "comments/s", "comments per transaction", "largest", "raw driver rows/s"],
            extra_rows,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
