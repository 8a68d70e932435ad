"""The fault soak: clients write and read their writes while processes are killed and
Redis and PostgreSQL stop; then integrity is checked and the table printed.

    python bench/soak.py                                # scaled, 16 clients, 120 s
    python bench/soak.py --mode embedded --clients 8 --duration 60
    python bench/soak.py --clients 4 --duration 30 --faults kill-worker@8,redis-stop@14+6 --json
    python bench/soak.py --root /path/to/other/checkout  # that checkout's Procfile and code

Scaled mode (the Procfile's processes, read from ROOT/Procfile): gunicorn with 2
workers, 2 catch-up workers, the sweeper, on a PRIVATE PostgreSQL and a PRIVATE Redis
(bench/private_services.py: own data directory and ports, loopback only, removed at
the end). Embedded mode: gunicorn with 2 workers on SQLite, the embedded runner.

Faults (--faults, comma-separated; times in seconds from the start):
  kill-worker@T[/EVERY]  kill -9 a catch-up worker at T (and every EVERY s); it is
                         started again 0.5 s later, as a process manager would
  redis-stop@T+D         stop Redis at T for D seconds (same port after)
  kill-web@T             kill -9 one gunicorn worker (its master starts another)
  pg-restart@T           restart PostgreSQL (immediate stop, start)
A process that exits on its own is NOT started again: the table counts them.

Each client registers, then writes (80% new comments, 20% edits of its own, each with
an Idempotency-Key and retried with it for up to RETRY_FOR seconds) and after each
acknowledged write reads it back with `min_position` (read-your-writes latency).
Afterwards (faults over, processes caught up): every acknowledged write must be in the
log (`discuss export-thread`, else "lost") and in the read model with its text (else
"missing or wrong"), no text twice ("duplicates"); `discuss rebuild --all` must give
identical tables; `discuss verify` must pass.

Bounded: every process is killed in `finally`; the run stops at --duration plus the
checks. Prints the table; --json prints the figures as JSON instead (the test suite's
short soak, tests/faults/test_soak.py, asserts integrity from it, never timing).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import fmt_table, free_port, nproc, percentile
from private_services import PG_BIN, PrivatePostgres

from tests.support.private_redis import PrivateRedis  # one home, tests' and benches'

RETRY_FOR = 10.0  # seconds a client keeps retrying one write (same Idempotency-Key)
READ_WAIT = "5"  # DISCUSS_READ_WAIT_SECONDS of the servers
WINDOW_TAIL = 3.0  # a fault's window lasts this long after the fault itself


# ---- faults -----------------------------------------------------------------------------


@dataclass
class Fault:
    kind: str
    at: float
    every: float = 0.0
    seconds: float = 0.0

    def times(self, duration: float) -> list[float]:
        if not self.every:
            return [self.at] if self.at < duration else []
        out, t = [], self.at
        while t < duration - 1:
            out.append(t)
            t += self.every
        return out


def parse_faults(text: str) -> list[Fault]:
    faults = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        kind, _, when = item.partition("@")
        every = seconds = 0.0
        if "/" in when:
            when, every_text = when.split("/")
            every = float(every_text)
        if "+" in when:
            when, seconds_text = when.split("+")
            seconds = float(seconds_text)
        if kind not in ("kill-worker", "redis-stop", "kill-web", "pg-restart"):
            raise SystemExit(f"unknown fault {kind!r}")
        faults.append(Fault(kind, float(when), every, seconds))
    return faults


# ---- processes ---------------------------------------------------------------------------


class Proc:
    def __init__(self, name: str, command: str, env: dict[str, str], root: Path, logs: Path):
        self.name, self.command, self.env, self.root = name, command, env, root
        self.log = logs / f"{name}.log"
        self.killed_by_us = 0
        self.start()

    def start(self) -> None:
        out = open(self.log, "ab")  # noqa: SIM115  (the child holds it)
        self.proc = subprocess.Popen(
            ["/bin/sh", "-c", f"exec {self.command}"],
            cwd=self.root,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()

    def kill(self) -> None:
        self.killed_by_us += 1
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def procfile(root: Path) -> dict[str, str]:
    found = {}
    for line in (root / "Procfile").read_text().splitlines():
        if ":" in line and not line.startswith("#"):
            name, command = line.split(":", 1)
            found[name.strip()] = command.strip()
    return found


def gunicorn_children(master: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                    pids.append(int(entry.name))
    return pids


# ---- clients -----------------------------------------------------------------------------


@dataclass
class Write:
    key: str
    kind: str  # post | edit
    text: str
    comment_id: str | None
    thread_id: str
    started: float
    acked: float | None = None
    position: int | None = None
    failures: list[tuple[float, str]] = field(default_factory=list)
    rw_ms: float | None = None  # read-your-writes: ack -> read that includes it


def call(base: str, method: str, path: str, body=None, headers=None, timeout=15.0):
    request = urllib.request.Request(base + path, method=method)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    if body is not None:
        request.data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null"), response.headers
    except urllib.error.HTTPError as error:
        payload = error.read()
        with contextlib.suppress(ValueError):
            return error.code, json.loads(payload or b"null"), error.headers
        return error.code, None, error.headers
    except OSError as error:
        return f"conn:{type(error).__name__}", None, {}


class Client(threading.Thread):
    def __init__(self, n: int, base: str, threads: list[str], t0: float, stop: threading.Event):
        super().__init__(daemon=True)
        self.n, self.base, self.threads, self.t0, self.stop_event = n, base, threads, t0, stop
        self.writes: list[Write] = []
        self.mine: dict[str, int] = {}  # comment id -> version
        self.rng = random.Random(n)

    def run(self) -> None:
        token = None
        while token is None and not self.stop_event.is_set():
            status, body, _ = call(
                self.base, "POST", "/api/v1/authors", {"name": f"client{self.n}"}
            )
            if status == 201:
                token = body["token"]
            else:
                time.sleep(0.2)
        self.auth = {"Authorization": f"Bearer {token}"}
        while not self.stop_event.is_set():
            if self.mine and self.rng.random() < 0.2:
                comment_id = self.rng.choice(list(self.mine))
                self.write("edit", comment_id)
            else:
                self.write("post", None)

    def now(self) -> float:
        return time.monotonic() - self.t0

    def write(self, kind: str, comment_id: str | None) -> None:
        thread_id = self.rng.choice(self.threads)
        w = Write(
            uuid.uuid4().hex, kind, f"soak {uuid.uuid4().hex}", comment_id, thread_id, self.now()
        )
        while self.now() - w.started < RETRY_FOR:
            headers = {**self.auth, "Idempotency-Key": w.key}
            if kind == "post":
                status, body, _ = call(
                    self.base,
                    "POST",
                    f"/api/v1/threads/{thread_id}/comments",
                    {"text": w.text},
                    headers,
                )
            else:
                headers["If-Match"] = f'"{self.mine[comment_id]}"'
                status, body, _ = call(
                    self.base, "PATCH", f"/api/v1/comments/{comment_id}", {"text": w.text}, headers
                )
            if status in (200, 201):
                w.acked, w.position = self.now(), body["position"]
                w.comment_id = body.get("comment") or body["id"]  # posted / edited
                self.mine[w.comment_id] = body["version"]
                break
            w.failures.append((self.now(), str(status)))
            if status == 412:  # an earlier attempt of this edit was applied: take its version
                s, current, _ = call(
                    self.base, "GET", f"/api/v1/comments/{comment_id}", None, self.auth
                )
                if s == 200:
                    self.mine[comment_id] = (current.get("comment") or current)["version"]
            time.sleep(0.1)
        self.writes.append(w)
        if w.acked is None:
            return
        while self.now() - w.acked < 10:
            status, _, _ = call(
                self.base, "GET", f"/api/v1/comments/{w.comment_id}?min_position={w.position}"
            )
            if status == 200:
                w.rw_ms = (self.now() - w.acked) * 1000
                return
            time.sleep(0.05)


# ---- the run -----------------------------------------------------------------------------


def note(message: str) -> None:
    """Progress on stderr (the table or the JSON is on stdout)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def discuss(root: Path, env: dict[str, str], *args: str, timeout: float = 300):
    note("discuss " + " ".join(args))
    return subprocess.run(
        [str(Path(sys.executable).parent / "discuss"), *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run(args) -> dict:
    root = Path(args.root).resolve()
    faults = parse_faults(args.faults if args.faults is not None else DEFAULT_FAULTS[args.mode])
    work = Path(tempfile.mkdtemp(prefix="discuss-soak-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PYTHONPATH": str(root),
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "DISCUSS_SECRET_KEY": "soak",
        "DISCUSS_WRITE_RATE_LIMIT": "100000000 per minute",
        "DISCUSS_READ_WAIT_SECONDS": READ_WAIT,
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
    }
    pg = redis = None
    procs: dict[str, Proc] = {}
    try:
        if args.mode == "scaled":
            pg = PrivatePostgres(free_port()).start()
            subprocess.run(
                [
                    str(PG_BIN / "createdb"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(pg.port),
                    "-U",
                    "postgres",
                    "discuss",
                ],
                check=True,
            )
            redis = PrivateRedis(free_port()).start()
            from domain.sealing import MasterKey

            env.update(
                DISCUSS_DATABASE_URL=pg.url("discuss"),
                DISCUSS_REDIS_URL=redis.url,
                DISCUSS_MASTER_KEY=MasterKey.generate_text(),
            )
        else:
            env.update(DISCUSS_DATABASE_URL=f"sqlite:///{work}/discuss.db")
            env.pop("DISCUSS_REDIS_URL", None)
        result = discuss(root, env, "init-db")
        assert result.returncode == 0, result.stderr
        registered = discuss(root, env, "register", "Soak", "--moderator").stdout
        mod_token = registered.split("token:")[1].strip()
        commands = procfile(root)
        web = commands["web"].replace("0.0.0.0", "127.0.0.1")
        procs["web"] = Proc("web", web, env, root, work)
        if args.mode == "scaled":
            for n in range(2):
                procs[f"worker{n}"] = Proc(f"worker{n}", commands["worker"], env, root, work)
            procs["sweeper"] = Proc("sweeper", commands["sweeper"], env, root, work)
        deadline = time.monotonic() + 60
        while call(base, "GET", "/api/v1/health")[0] != 200:
            assert time.monotonic() < deadline, (work / "web.log").read_text()[-3000:]
            time.sleep(0.2)
        threads = []
        for n in range(4):
            status, body, _ = call(
                base,
                "POST",
                "/api/v1/threads",
                {"title": f"Soak {n}"},
                {"Authorization": f"Bearer {mod_token}"},
            )
            assert status == 201, body
            threads.append(body["id"])

        note("serving; clients start")
        stop = threading.Event()
        t0 = time.monotonic()
        clients = [Client(n, base, threads, t0, stop) for n in range(args.clients)]
        for c in clients:
            c.start()
        windows = inject(faults, args.duration, t0, procs, redis, pg)
        stop.set()
        note("faults over; waiting for the clients")
        for c in clients:
            c.join(timeout=RETRY_FOR + 15)
        exited = {name: p.proc.returncode for name, p in procs.items() if p.proc.poll() is not None}
        writes = [w for c in clients for w in c.writes]
        return report_figures(args, root, env, base, writes, windows, exited)
    finally:
        for p in procs.values():
            p.stop()
        if redis is not None:
            redis.stop()
        if pg is not None:
            pg.close()


def inject(faults, duration, t0, procs, redis, pg) -> list[tuple[str, float, float]]:
    """Run the fault schedule until `duration`; returns the fault windows
    (name, start, end) in seconds from t0."""
    events = sorted(((t, f) for f in faults for t in f.times(duration)), key=lambda e: e[0])
    windows = []
    restarts: list[tuple[float, Proc]] = []
    workers = [p for name, p in procs.items() if name.startswith("worker")]
    n = 0
    while True:
        now = time.monotonic() - t0
        for at, proc in list(restarts):
            if now >= at:
                proc.start()
                restarts.remove((at, proc))
        if events and now >= events[0][0]:
            at, fault = events.pop(0)
            if fault.kind == "kill-worker" and workers:
                proc = workers[n % len(workers)]
                n += 1
                if proc.proc.poll() is None:
                    proc.kill()
                    restarts.append((now + 0.5, proc))
                windows.append(("kill-worker", at, at + WINDOW_TAIL))
            elif fault.kind == "redis-stop" and redis is not None:
                redis.stop()
                windows.append(("redis-stop", at, at + fault.seconds + WINDOW_TAIL))
                threading.Timer(fault.seconds, redis.start).start()
            elif fault.kind == "kill-web":
                children = gunicorn_children(procs["web"].proc.pid)
                if children:
                    os.kill(children[0], signal.SIGKILL)
                windows.append(("kill-web", at, at + WINDOW_TAIL))
            elif fault.kind == "pg-restart" and pg is not None:
                pg.restart()
                windows.append(("pg-restart", at, time.monotonic() - t0 + WINDOW_TAIL))
            continue
        if now >= duration and not restarts:
            return windows
        time.sleep(0.02)


def phase_of(t: float, windows) -> str:
    for name, start, end in windows:
        if start <= t < end:
            return name
    return "fault-free"


def report_figures(args, root, env, base, writes, windows, exited) -> dict:
    acked = [w for w in writes if w.acked is not None]
    # Wait until the projections have every acknowledged write.
    head = max((w.position for w in acked), default=0)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = discuss(root, env, "status", "--json")
        if status.returncode == 0 and all(r["position"] >= head for r in json.loads(status.stdout)):
            break
        time.sleep(0.5)
    # Expected final text of each comment: the last acknowledged write to it.
    final: dict[str, str] = {}
    for w in sorted(acked, key=lambda w: w.position):
        final[w.comment_id] = w.text
    # The log, event by event (`discuss export --open`): each comment's last text, and
    # how many events carry each text (a write applied twice would show as two).
    logged: dict[str, str] = {}
    texts: Counter = Counter()
    exported = discuss(root, env, "export", "--open")
    assert exported.returncode == 0, exported.stderr
    for line in exported.stdout.splitlines():
        event = json.loads(line)
        text = (event.get("opened") or {}).get("text")
        if event.get("comment") and text is not None:
            logged[event["comment"]] = text
            texts[text] += 1
    lost = sum(1 for cid, text in final.items() if logged.get(cid) != text)
    duplicates = sum(n - 1 for text, n in texts.items() if text.startswith("soak ") and n > 1)

    def read_model_text(cid: str) -> str | None:
        status, body, _ = call(base, "GET", f"/api/v1/comments/{cid}?min_position={head}")
        return (body or {}).get("comment", body or {}).get("text") if status == 200 else None

    with ThreadPoolExecutor(8) as pool:
        seen = dict(zip(final, pool.map(read_model_text, final), strict=True))
    missing = sum(1 for cid, text in final.items() if seen[cid] != text)
    rebuild_equal = rebuild_check(root, env)
    verify = discuss(root, env, "verify").returncode == 0
    codes = Counter(code for w in writes for _, code in w.failures)
    phases = ["fault-free"] + [f"{name}@{start:.0f}" for name, start, _ in windows]
    per_phase = {}
    for label, (name, start, end) in zip(phases, [("fault-free", 0, 0), *windows], strict=True):
        if name == "fault-free":
            inside = [w for w in acked if phase_of(w.acked, windows) == "fault-free"]
            span = args.duration - sum(e - s for _, s, e in windows)
            fails = []
        else:
            inside = [w for w in acked if start <= w.acked < end]
            span = end - start
            fails = [t for w in writes for t, _ in w.failures if start <= t < end]
        rw = [w.rw_ms for w in inside if w.rw_ms is not None]
        per_phase[label] = {
            "writes_per_s": round(len(inside) / span, 1) if span > 0 else 0.0,
            "rw_p50_ms": round(percentile(rw, 50), 1) if rw else None,
            "rw_p99_ms": round(percentile(rw, 99), 1) if rw else None,
            "failed_write_span_s": round(max(fails) - min(fails), 2) if fails else 0.0,
        }
    return {
        "mode": args.mode,
        "clients": args.clients,
        "duration": args.duration,
        "nproc": nproc(),
        "attempted": len(writes),
        "acknowledged": len(acked),
        "lost": lost,
        "missing_or_wrong": missing,
        "duplicates": duplicates,
        "non_2xx": dict(codes),
        "rebuild_equal": rebuild_equal,
        "verify": verify,
        "exited_on_their_own": exited,
        "phases": per_phase,
    }


def rebuild_check(root: Path, env: dict[str, str]) -> bool:
    """`discuss rebuild --all` gives tables identical, row for row, to the ones the
    workers built."""
    code = (
        "import json,sys\n"
        "from domain.settings import Settings\n"
        "from workers.bootstrap import bootstrap\n"
        "s = bootstrap(Settings.from_env())\n"
        "e = s.engine\n"
        "out = {}\n"
        "for name, p in e.projections.items():\n"
        "    r = e.store.reader()\n"
        "    for logical, table in p.tables(e.generation(name)).names.items():\n"
        "        rows = r.execute(f'SELECT * FROM {table} ORDER BY 1, 2').all()\n"
        "        out[name + '.' + logical] = [[str(v) for v in row.values()] for row in rows]\n"
        "print(json.dumps(out))\n"
        "s.close()\n"
    )
    python = [sys.executable, "-c", code]

    def dump() -> str:
        out = subprocess.run(python, cwd=root, env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        return out.stdout

    before = dump()
    rebuilt = discuss(root, env, "rebuild", "--all", "--grace", "0", "--quiet")
    assert rebuilt.returncode == 0, rebuilt.stderr
    return dump() == before


def print_table(figures: dict) -> None:
    print(
        f"soak: {figures['mode']}, {figures['clients']} clients, {figures['duration']:.0f} s,"
        f" nproc={figures['nproc']}"
    )
    rows = [
        ("attempted writes", figures["attempted"]),
        ("acknowledged", figures["acknowledged"]),
        ("lost (acknowledged, not in the log)", figures["lost"]),
        ("missing or wrong in read models", figures["missing_or_wrong"]),
        ("duplicates", figures["duplicates"]),
        ("non-2xx / errors by code", json.dumps(figures["non_2xx"], sort_keys=True) or "{}"),
        ("rebuild identical", figures["rebuild_equal"]),
        ("verify intact", figures["verify"]),
        ("processes that exited on their own", json.dumps(figures["exited_on_their_own"])),
    ]
    print(fmt_table(["integrity", "value"], rows))
    print()
    phase_rows = [
        (name, p["writes_per_s"], p["rw_p50_ms"], p["rw_p99_ms"], p["failed_write_span_s"])
        for name, p in figures["phases"].items()
    ]
    print(
        fmt_table(
            ["phase", "acked writes/s", "RYW p50 ms", "RYW p99 ms", "failed-write span s"],
            phase_rows,
        )
    )


DEFAULT_FAULTS = {
    "scaled": "kill-worker@10/10,redis-stop@40+15,kill-web@70,pg-restart@95",
    "embedded": "kill-web@20,kill-web@40",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=["scaled", "embedded"], default="scaled")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=120.0)
    parser.add_argument("--faults", default=None, help="the schedule (see above)")
    parser.add_argument("--root", default=str(Path(__file__).resolve().parents[1]))
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    # SIGTERM ends the run through its `finally` (every process and server stopped).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.path.insert(0, str(Path(args.root).resolve()))
    figures = run(args)
    if args.json:
        print(json.dumps(figures))
    else:
        print_table(figures)


if __name__ == "__main__":
    main()
