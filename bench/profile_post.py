"""Where a POST's time goes in a real server: py-spy on every gunicorn worker while
wrk POSTs comments, summed by the project's own frames.

Run by hand (never by the tests). Needs Debian's `wrk`, `py-spy` in the venv
(`.venv/bin/pip install py-spy`), and for PostgreSQL the bench services of
bench_write_load.py (Redis database 13, an RQ SimpleWorker started here):

    .venv/bin/python bench/profile_post.py                       # SQLite, 2 sync workers
    .venv/bin/python bench/profile_post.py --backend postgres --worker-class gthread

A store is seeded as for bench_write_load.py (a 2,000-comment thread instead of
10,000: only its presence matters here). The samples are wall-clock (py-spy counts a
thread waiting on a socket or a lock too), so the shares say where requests *wait*
as well as where they compute. Prints the shares of the stacks grouped by their
first project frames, then the leaf frames.

Written here rather than taken from py-spy's own output: its flame graphs show one
process at a time and no grouping by our modules.
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_http import lua_post_script, post_bodies
from bench_write_load import KEYS, gunicorn
from common import REDIS_URL, free_port, nproc
from seeding import plan_thread
from servers import Server, run_wrk
from stores import app_env, flush_bench_redis, prepare_store, temp_store

BIN = Path(sys.executable).parent
OURS = ("(domain/", "(projections/", "(workers/", "(web/")


def summarise(paths: list[Path], depth: int, top: int) -> None:
    total = 0
    by_ours: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    for path in paths:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            n = int(count)
            total += n
            frames = stack.split(";")
            ours = [f.split(" (")[0] for f in frames if any(o in f for o in OURS)]
            by_ours[" > ".join(ours[:depth]) or "(no project frame: idle or gunicorn)"] += n
            leaves[frames[-1][:100]] += n
    print(f"samples: {total}")
    for label, n in by_ours.most_common(top):
        print(f"  {n / total:6.1%}  {label}")
    print("leaf frames:")
    for label, n in leaves.most_common(top):
        print(f"  {n / total:6.1%}  {label}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--worker-class", choices=("sync", "gthread"), default="sync")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=10, help="py-spy's duration")
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args(argv)
    spy = BIN / "py-spy"
    if not spy.exists():
        sys.exit(f"no {spy}: run `{BIN / 'pip'} install py-spy`")
    print(f"nproc: {nproc()}  backend: {args.backend}  workers: 2 {args.worker_class}")
    postgres = args.backend == "postgres"
    with temp_store(args.backend) as store, tempfile.TemporaryDirectory() as tmp:
        from domain.settings import Database

        facts = prepare_store(store.url, 200, 2000, KEYS)
        env = app_env(Database.from_url(store.url), redis=postgres)
        env["DISCUSS_QUEUE"] = "bench-profile"
        flush_bench_redis()
        port = free_port()
        argv_ = gunicorn("web.wsgi:app", port, args.worker_class, args.threads)
        ready = f"/api/v1/threads/{facts['small'].thread_id}"
        servers = [Server("web", argv_, env, port, ready_path=ready, log_dir=tmp)]
        if postgres:
            rq = [str(BIN / "rq"), "worker", "--worker-class", "rq.worker.SimpleWorker"]
            rq += ["--url", REDIS_URL, "--logging_level", "WARNING", "bench-profile"]
            servers.append(Server("rq", rq, env, None, log_dir=tmp))
        try:
            servers[0].wait_ready()
            post_path = f"/api/v1/threads/{facts['post_thread']}/comments"
            script = lua_post_script(
                post_path,
                {"Authorization": f"Bearer {facts['token']}"},
                post_bodies(plan_thread(200), "project"),
                Path(tmp) / "post.lua",
            )
            pids = subprocess.run(
                ["pgrep", "-P", str(servers[0].proc.pid)], capture_output=True, text=True
            ).stdout.split()
            outputs = [Path(tmp) / f"spy-{pid}.txt" for pid in pids]
            spies = [
                subprocess.Popen(
                    [str(spy), "record", "-p", pid, "-d", str(args.seconds), "-r",
                     str(args.rate), "--format", "raw", "-o", str(out)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for pid, out in zip(pids, outputs, strict=True)
            ]  # fmt: skip
            result = run_wrk(
                "post", servers[0].base + post_path, seconds=args.seconds + 3,
                connections=16, script=script,
            )  # fmt: skip
            for process in spies:
                process.wait()
            print(
                f"wrk POST, 16 connections, under py-spy: {result.rps:.0f} req/s, "
                f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms"
            )
            summarise([o for o in outputs if o.exists()], args.depth, args.top)
        finally:
            for server in reversed(servers):
                server.stop()
            flush_bench_redis()
    return 0


if __name__ == "__main__":
    sys.exit(main())
