"""What issue 12 (names, tokens, shared limits) costs a write, against the code before it.

Run by hand (never by the tests). Needs Debian's `wrk` and a checkout of the code to
compare with (a git worktree of the commit before):

    git worktree add /tmp/discuss-before e5be3fe
    .venv/bin/python bench/bench_identity.py --before /tmp/discuss-before

1. POST a comment over HTTP (bench_http.py's wrk script and gunicorn settings: 2 sync
   workers, the embedded SQLite default, a bearer token, the write limits on): the
   code before and this code, each on a store of its own seeded by its own code,
   measured in interleaved rounds on the same (shared, noisy) machine; req/s and p99,
   and the ratio this/before.
2. Per write, in this process: a hit of the write limits' counters shared through a
   SQLite file (projections/rate_counts.py), against a hit of the in-memory storage
   the code before used (per process, not shared); and the auth cache's check that an
   author has no newer event (Discussions.is_current), which each authenticated
   request now makes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_http import lua_post_script
from common import ROOT, UNLIMITED, fmt_table, free_port, nproc
from servers import Server, gunicorn_argv, require_wrk, run_wrk

SEED = """
import json, sys
from domain.settings import Database
from domain.model import MODERATOR
from projections.setup import initialise, open_application
database = Database.from_url(sys.argv[1])
initialise(database)
app = open_application(database)
mod = app.register_author("Bench moderator", MODERATOR)
poster = app.register_author("Bench poster")
thread = app.open_thread(mod.author_id, "Bench", key="bench/post")
print(json.dumps({"token": poster.token, "thread": str(thread.thread_id)}))
"""


def seed(tree: Path, folder: Path) -> tuple[str, dict]:
    url = f"sqlite:///{folder}/bench.db"
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run(
        [sys.executable, "-c", SEED, url], env=env, cwd=tree, check=True, capture_output=True,
        text=True,
    ).stdout  # fmt: skip
    return url, json.loads(out.strip().splitlines()[-1])


def start(name: str, tree: Path, url: str, folder: Path) -> Server:
    env = dict(os.environ)
    env.update(
        DISCUSS_DATABASE_URL=url,
        DISCUSS_SECRET_KEY="bench-secret-key-not-for-production",
        DISCUSS_WRITE_RATE_LIMIT=UNLIMITED,
        PYTHONPATH=str(tree),
    )
    for variable in ("DISCUSS_REDIS_URL", "DISCUSS_EMBEDDED_RUNNER"):
        env.pop(variable, None)
    port = free_port()
    server = Server(
        name,
        gunicorn_argv(Path(sys.executable).parent / "gunicorn", "web.wsgi:app", port),
        env,
        port,
        ready_path="/api/v1/health",
        log_dir=str(folder),
        cwd=tree,
    )
    server.wait_ready()
    return server


def http_posts(before: Path, seconds: float, rounds: int, connections: int) -> list[list[str]]:
    trees = {"before": before, "this": ROOT}
    results: dict[str, list] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory(prefix="bench-identity-") as tmp:
        servers, scripts = {}, {}
        try:
            for name, tree in trees.items():
                folder = Path(tmp) / name
                folder.mkdir()
                url, facts = seed(tree, folder)
                servers[name] = start(f"app-{name}", tree, url, folder)
                path = f"/api/v1/threads/{facts['thread']}/comments"
                scripts[name] = (
                    f"{servers[name].base}{path}",
                    lua_post_script(
                        path,
                        {"Authorization": f"Bearer {facts['token']}"},
                        ['{"text": "a comment of the write benchmark, number @N@"}'],
                        folder / "post.lua",
                    ),
                )
            for name in trees:  # warm both (each worker builds its application)
                run_wrk(f"warm {name}", scripts[name][0], seconds=1, connections=connections,
                        script=scripts[name][1])  # fmt: skip
            for round_ in range(rounds):
                order = list(trees) if round_ % 2 == 0 else list(reversed(trees))
                for name in order:
                    url, script = scripts[name]
                    result = run_wrk(name, url, seconds=seconds, connections=connections,
                                     script=script)  # fmt: skip
                    if result.non_2xx:
                        raise RuntimeError(f"{name}: {result.non_2xx} answers not 2xx")
                    results[name].append(result)
        finally:
            for server in servers.values():
                server.stop()
    rows = []
    for name in trees:
        rps = statistics.median(r.rps for r in results[name])
        p99 = statistics.median(r.p99_ms for r in results[name])
        rows.append(
            [name, f"{rps:.0f}", f"{p99:.1f}", " ".join(f"{r.rps:.0f}" for r in results[name])]
        )
    ratio = float(rows[1][1]) / float(rows[0][1])
    rows.append(["this / before", f"{ratio:.3f}", "", ""])
    return rows


def per_write(n: int) -> list[list[str]]:
    from projections.rate_counts import SharedCounts
    from web import LazyMemoryStorage

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-identity-") as tmp:
        shared = SharedCounts(Path(tmp) / "limits.db")
        memory = LazyMemoryStorage()
        for label, hit in (
            ("in-memory counter (before; per process)", lambda k: memory.incr(k, 60)),
            ("SQLite file counter (now; shared)", lambda k: shared.hit(k, 60)),
        ):
            keys = [f"author:{i % 50}" for i in range(n)]
            started = time.perf_counter()
            for key in keys:
                hit(key)
            rows.append([label, f"{(time.perf_counter() - started) / n * 1e6:.1f}"])
        from domain.settings import Database
        from projections.setup import initialise, open_application

        database = Database.from_url(f"sqlite:///{tmp}/store.db")
        initialise(database)
        app = open_application(database)
        author = app.authenticate(app.register_author("Checker").token)
        started = time.perf_counter()
        for _ in range(n):
            app.is_current(author)
        rows.append(
            ["auth cache: author has no newer event (now)",
             f"{(time.perf_counter() - started) / n * 1e6:.1f}"]
        )  # fmt: skip
        app.close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, type=Path, help="checkout of the code before")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--calls", type=int, default=20000, help="calls per in-process timing")
    args = parser.parse_args()
    require_wrk()
    print(f"cores: {nproc()}  gunicorn: 2 sync workers  wrk: {args.connections} connections,"
          f" {args.seconds:.0f}s x {args.rounds} interleaved rounds")  # fmt: skip
    print("\n[1] POST a comment (SQLite embedded default, write limits on)")
    rows = http_posts(args.before.resolve(), args.seconds, args.rounds, args.connections)
    print(fmt_table(["code", "req/s (median)", "p99 ms", "rounds req/s"], rows))
    print(f"\n[2] per write, in-process, {args.calls:,} calls each")
    print(fmt_table(["what", "µs per call"], per_write(args.calls)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
