"""Write-to-visible lag of the read models at a steady write rate.

Run by hand (never by the tests):

    .venv/bin/python bench/bench_freshness.py                     # both modes, 50 w/s, 20 s
    .venv/bin/python bench/bench_freshness.py --modes embedded --rate 100 --seconds 10

Two modes:

- scaled: PostgreSQL + Redis, two RQ worker processes
  (`rq worker --worker-class workers.rq_worker.CatchUpWorker`, as in the Procfile);
  the writer calls `enqueue_catch_up` after each write, as the web process does.
- embedded: SQLite, the in-process BackgroundRunner, nudged after each write, as the
  web process does when DISCUSS_REDIS_URL is unset.

The writer posts a comment every 1/rate seconds (a steady schedule, not back to back)
and notes the time each write returned with its position. A reader thread, with its
own connection, polls the thread view's tracked position every millisecond; a write
is visible when that position reaches the write's. Prints p50/p90/p99/max of the lag
and the targets: p99 < 100 ms scaled, < 50 ms embedded.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from redis import Redis  # noqa: E402
from rq import Queue, Worker  # noqa: E402
from stores import temp_store  # noqa: E402

from domain.model import OPERATOR_ID  # noqa: E402
from domain.settings import Database  # noqa: E402
from projections.registry import build_engine  # noqa: E402
from projections.setup import initialise, open_application  # noqa: E402
from workers.jobs import enqueue_catch_up  # noqa: E402
from workers.runner import BackgroundRunner  # noqa: E402

# A Redis database index of its own, flushed before and after.
REDIS_URL = os.environ.get("DISCUSS_FRESHNESS_REDIS", "redis://127.0.0.1:6379/15")
RQ = str(Path(sys.executable).parent / "rq")
TARGETS = {"scaled": 0.100, "embedded": 0.050}


class Watcher(threading.Thread):
    """Polls the thread view's position; notes when each write became visible."""

    def __init__(self, engine, poll: float = 0.001):
        super().__init__(daemon=True)
        self.engine = engine
        self.poll = poll
        self.pending: list[tuple[int, float]] = []  # (position, written at)
        self.lags: list[float] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def written(self, position: int, at: float) -> None:
        with self.lock:
            self.pending.append((position, at))

    def run(self) -> None:
        while not self.stopping.is_set():
            position = self.engine.position("threads")
            now = time.perf_counter()
            with self.lock:
                while self.pending and self.pending[0][0] <= position:
                    self.lags.append(now - self.pending.pop(0)[1])
            time.sleep(self.poll)
        self.engine.store.close()

    def drain(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if not self.pending:
                    return 0
            time.sleep(0.01)
        with self.lock:
            return len(self.pending)


def write_steadily(app, author_id, thread_id, rate: float, seconds: float, after_write, watcher):
    interval = 1 / rate
    start = time.perf_counter()
    count = 0
    write_times = []
    while True:
        due = start + count * interval
        if due - start >= seconds:
            break
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        began = time.perf_counter()
        position = app.post_comment(author_id, thread_id, f"comment {count}").position
        written = time.perf_counter()
        watcher.written(position, written)
        after_write()
        write_times.append(written - began)
        count += 1
    return count, time.perf_counter() - start, write_times


def report(mode: str, count: int, elapsed: float, lags: list[float], left: int, writes) -> None:
    lags = sorted(lags)
    q = statistics.quantiles(lags, n=100, method="inclusive")
    p50, p90, p99 = q[49], q[89], q[98]
    target = TARGETS[mode]
    verdict = "met" if p99 < target and not left else "NOT met"
    print(
        f"  {count} writes in {elapsed:.1f}s ({count / elapsed:.1f}/s);"
        f" write itself: median {statistics.median(writes) * 1e3:.1f} ms"
    )
    print(
        f"  lag write->visible: p50 {p50 * 1e3:.1f} ms, p90 {p90 * 1e3:.1f} ms,"
        f" p99 {p99 * 1e3:.1f} ms, max {lags[-1] * 1e3:.1f} ms"
        + (f"; {left} never visible" if left else "")
    )
    print(f"  target p99 < {target * 1e3:.0f} ms: {verdict}")


def scaled(args) -> None:
    print(f"\n== scaled: PostgreSQL + Redis, {args.workers} RQ worker processes (CatchUpWorker)")
    redis = Redis.from_url(REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    redis.flushdb()
    queue = f"bench-fresh-{uuid.uuid4().hex[:6]}"
    with temp_store("postgres") as database:
        env = {**os.environ, "DISCUSS_DATABASE_URL": database.url, "DISCUSS_QUEUE": queue}
        command = [RQ, "worker", "--worker-class", "workers.rq_worker.CatchUpWorker"]
        command += ["--url", REDIS_URL, "--quiet", queue]
        workers = [
            subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            for _ in range(args.workers)
        ]
        app = open_application(database)
        engine = build_engine(app, database)
        try:
            deadline = time.monotonic() + 60
            while len(Worker.all(queue=Queue(queue, connection=redis))) < args.workers:
                if time.monotonic() > deadline:
                    raise RuntimeError("the RQ workers did not start")
                time.sleep(0.1)
            author = app.register_author("Writer").author_id
            thread = app.open_thread(OPERATOR_ID, "Freshness").thread_id
            os.environ["DISCUSS_QUEUE"] = queue
            enqueue_catch_up(redis, queue)
            if not engine.wait_for(app.head_position(), timeout=30):
                raise RuntimeError("the workers did not catch up")
            watcher = Watcher(build_engine(app, database))
            watcher.start()
            count, elapsed, writes = write_steadily(
                app,
                author,
                thread,
                args.rate,
                args.seconds,
                lambda: enqueue_catch_up(redis, queue),
                watcher,
            )
            left = watcher.drain(10)
            watcher.stopping.set()
            watcher.join(5)
            report("scaled", count, elapsed, watcher.lags, left, writes)
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                try:
                    worker.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    worker.kill()
            engine.store.close()
            app.close()
            redis.flushdb()


def embedded(args) -> None:
    print("\n== embedded: SQLite, in-process BackgroundRunner nudged after each write")
    with tempfile.TemporaryDirectory(prefix="bench-fresh-") as directory:
        database = Database.from_url(f"sqlite:///{directory}/discuss.db")
        initialise(database)
        app = open_application(database)
        runner = BackgroundRunner(build_engine(app, database), interval=0.5).start()
        engine = build_engine(app, database)
        try:
            author = app.register_author("Writer").author_id
            thread = app.open_thread(OPERATOR_ID, "Freshness").thread_id
            runner.nudge()
            if not engine.wait_for(app.head_position(), timeout=30):
                raise RuntimeError("the runner did not catch up")
            watcher = Watcher(build_engine(app, database))
            watcher.start()
            count, elapsed, writes = write_steadily(
                app, author, thread, args.rate, args.seconds, runner.nudge, watcher
            )
            left = watcher.drain(10)
            watcher.stopping.set()
            watcher.join(5)
            report("embedded", count, elapsed, watcher.lags, left, writes)
        finally:
            runner.stop()
            engine.store.close()
            app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modes", default="scaled,embedded")
    parser.add_argument("--rate", type=float, default=50.0, help="writes per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(
        f"nproc: {len(os.sched_getaffinity(0))}  (load average {os.getloadavg()[0]:.1f} at"
        f" start); {args.rate:g} writes/s for {args.seconds:g} s"
    )
    for mode in args.modes.split(","):
        {"scaled": scaled, "embedded": embedded}[mode](args)


if __name__ == "__main__":
    main()
