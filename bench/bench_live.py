"""Live updates (issue 16, item 5): Server-Sent Events served by a gthread gunicorn.

1. Latency: comments POSTed at `--rate` per second through the API; `--clients` SSE
   clients (sseclient-py over streaming requests) on the thread record when each event
   arrives. Latency = arrival - the POST returned, per (client, event). Target: p99 <
   200 ms at 50 writes/s. Baseline in the same run: the POST's own round trip.
   `--mode embedded` (default): SQLite, one gunicorn (gthread, 2 workers) serving the
   API and the streams, each worker's projection runner and its hub's poll.
   `--mode scaled`: the same store with Redis: an RQ catch-up worker publishes each
   catch-up, the stream process listens (polling set to 30 s, so only pub/sub counts).
2. Many streams: a web gunicorn (2 sync workers, bench/servers.py) and a stream gunicorn
   (1 gthread worker, `--streams` + 100 threads) on one store. The cached GET of a
   thread is driven with wrk for `--seconds`, first with no stream open, then with
   `--streams` SSE connections held open on the stream process, then once more after
   they are closed. Reported: the throughputs and the ratio of the one with streams to
   the mean of the two without (target: within 20%), and the stream process's memory
   per open stream (RSS of its processes, before and after).

    .venv/bin/python bench/bench_live.py                       # both parts, embedded
    .venv/bin/python bench/bench_live.py --part latency --mode scaled
    .venv/bin/python bench/bench_live.py --part streams --streams 1000
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

from common import ROOT, fmt_table, free_port, nproc, percentile
from servers import Server, gunicorn_argv, http_json, run_wrk
from stores import temp_store

BIN = ROOT / ".venv" / "bin"
if not (BIN / "gunicorn").exists():
    BIN = Path(os.sys.executable).parent
REDIS_URL = "redis://127.0.0.1:6379/4"


def _env(database, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DISCUSS_DATABASE_URL": database.url,
        "DISCUSS_SECRET_KEY": "bench-live",
        "DISCUSS_WRITE_RATE_LIMIT": "1000000 per minute",
        **extra,
    }
    if "DISCUSS_REDIS_URL" not in extra:
        env.pop("DISCUSS_REDIS_URL", None)
    return env


def _thread(database) -> str:
    from domain.model import OPERATOR_ID
    from projections.setup import open_application

    app = open_application(database)
    try:
        return str(app.open_thread(OPERATOR_ID, "Live bench", key="live-bench").thread_id)
    finally:
        app.close()


def _gthread(port: int, workers: int, threads: int) -> list[str]:
    return [
        str(BIN / "gunicorn"),
        "-k",
        "gthread",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--worker-connections",
        str(threads + 100),
        "--bind",
        f"127.0.0.1:{port}",
        "--backlog",
        "2048",
        "--log-level",
        "warning",
        "web.wsgi:app",
    ]


def latency(args) -> None:
    import requests
    import sseclient

    with temp_store("sqlite") as database:
        thread_id = _thread(database)
        extra = {"DISCUSS_STREAM_MAX": "100"}
        processes = []
        if args.mode == "scaled":
            from redis import Redis

            Redis.from_url(REDIS_URL).flushdb()
            extra.update(
                DISCUSS_REDIS_URL=REDIS_URL,
                DISCUSS_QUEUE="bench-live",
                DISCUSS_STREAM_POLL_SECONDS="30",
            )
        env = _env(database, **extra)
        port = free_port()
        web = Server("live-web", _gthread(port, 2, 32), env, port, ready_path="/api/v1/health")
        processes.append(web)
        if args.mode == "scaled":
            worker = [
                str(BIN / "rq"),
                "worker",
                "--worker-class",
                "workers.rq_worker.CatchUpWorker",
                "--url",
                REDIS_URL,
                "bench-live",
            ]
            processes.append(Server("live-rq", worker, env, None))
        try:
            web.wait_ready()
            base = web.base + "/api/v1"
            _, _, raw = http_json("POST", base + "/authors", {"name": "bench writer"})
            author = json.loads(raw)
            headers = {"Authorization": f"Bearer {author['token']}"}
            deadline = time.monotonic() + 30  # scaled: the catch-up job has to run first
            while requests.get(f"{base}/threads/{thread_id}", timeout=10).status_code != 200:
                assert time.monotonic() < deadline, "the thread never reached the read models"
                time.sleep(0.1)
            arrivals: list[dict[int, float]] = []
            ready = threading.Barrier(args.clients + 1)
            stop = threading.Event()

            def client(seen: dict[int, float]) -> None:
                response = requests.get(
                    f"{base}/threads/{thread_id}/events", stream=True, timeout=(5, 60)
                )
                ready.wait()
                if response.status_code != 200:
                    print(f"a client was refused: {response.status_code} {response.text[:200]}")
                    return
                try:
                    for event in sseclient.SSEClient(response).events():
                        seen[int(event.id)] = time.monotonic()
                        if stop.is_set():
                            break
                except requests.RequestException:
                    pass  # the server stopped at the end of the run
                finally:
                    response.close()

            for _ in range(args.clients):
                arrivals.append({})
                threading.Thread(target=client, args=(arrivals[-1],), daemon=True).start()
            ready.wait()
            time.sleep(0.5)
            session = requests.Session()
            written: dict[int, float] = {}
            posts: list[float] = []
            n = int(args.rate * args.seconds)
            start = time.monotonic()
            for i in range(n):
                due = start + i / args.rate
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                t0 = time.monotonic()
                r = session.post(
                    f"{base}/threads/{thread_id}/comments",
                    json={"text": f"live {i}"},
                    headers=headers,
                    timeout=30,
                )
                done = time.monotonic()
                posts.append(done - t0)
                written[r.json()["position"]] = done
            achieved = n / (time.monotonic() - start)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and any(len(a) < n for a in arrivals):
                time.sleep(0.05)
            stop.set()
            latencies = [
                seen[p] - at for seen in arrivals for p, at in written.items() if p in seen
            ]
            missing = sum(1 for seen in arrivals for p in written if p not in seen)
        finally:
            for p in reversed(processes):
                p.stop()
    print(
        f"nproc: {nproc()}  mode: {args.mode}  rate asked {args.rate}/s, achieved"
        f" {achieved:.1f}/s, {n} writes x {args.clients} SSE clients, {missing} not received"
    )
    rows = [
        ["write → SSE client", *(f"{percentile(latencies, q) * 1000:.1f}" for q in (50, 90, 99))],
        ["baseline: the POST alone", *(f"{percentile(posts, q) * 1000:.1f}" for q in (50, 90, 99))],
    ]
    print(fmt_table(["ms", "p50", "p90", "p99"], rows))
    p99 = percentile(latencies, 99)
    print(
        f"p99 / POST p99: {p99 / percentile(posts, 99):.1f}x;"
        f" target p99 < 200 ms: {'met' if p99 < 0.2 else 'NOT met'}"
    )


def _rss_kib(root_pid: int) -> int:
    """RSS of a process and its children (gunicorn's arbiter and workers)."""
    pids = [root_pid]
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(root_pid)], capture_output=True, text=True
    )
    pids += [int(p) for p in out.stdout.split()]
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def _open_streams(port: int, path: str, count: int) -> list[socket.socket]:
    """`count` SSE connections, each past its response headers, held open."""
    held = []
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                raise RuntimeError("a stream was closed")
            head += chunk
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head.split(b"\r\n", 1)[0].decode())
        held.append(sock)
    return held


def streams(args) -> None:
    with temp_store("sqlite") as database:
        thread_id = _thread(database)
        env = _env(database, DISCUSS_STREAM_MAX=str(args.streams + 10))
        web_port, stream_port = free_port(), free_port()
        web = Server(
            "live-plain-web",
            gunicorn_argv(BIN / "gunicorn", "web.wsgi:app", web_port),
            env,
            web_port,
            ready_path="/api/v1/health",
        )
        stream = Server(
            "live-streams",
            _gthread(stream_port, 1, args.streams + 100),
            env,
            stream_port,
            ready_path="/api/v1/health",
        )
        held: list[socket.socket] = []
        try:
            web.wait_ready()
            stream.wait_ready()
            url = f"{web.base}/api/v1/threads/{thread_id}"
            run_wrk("warm-up", url, seconds=2, connections=8)
            before = run_wrk("no streams", url, seconds=args.seconds, connections=8)
            rss_before = _rss_kib(stream.proc.pid)
            t0 = time.monotonic()
            held = _open_streams(stream_port, f"/api/v1/threads/{thread_id}/events", args.streams)
            opened = time.monotonic() - t0
            time.sleep(2)
            rss_after = _rss_kib(stream.proc.pid)
            during = run_wrk(
                f"{args.streams} streams held", url, seconds=args.seconds, connections=8
            )
            alive = 0
            for sock in held:  # still open: nothing read back as closed
                sock.setblocking(False)
                try:
                    alive += 1 if sock.recv(65536) != b"" else 0
                except BlockingIOError:
                    alive += 1
            for sock in held:
                sock.close()
            held = []
            time.sleep(3)  # the stream threads notice and end
            after = run_wrk("streams closed again", url, seconds=args.seconds, connections=8)
        finally:
            for sock in held:
                sock.close()
            stream.stop()
            web.stop()
    print(
        f"nproc: {nproc()}  {args.streams} SSE streams opened in {opened:.1f} s on one gthread"
        f" worker; {alive} still open after the second wrk run"
    )
    rows = [
        [r.label, f"{r.rps:.0f}", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}"]
        for r in (before, during, after)
    ]
    print(fmt_table(["cached GET /threads/{id}", "req/s", "p50 ms", "p99 ms"], rows))
    # Bracketed: the machine is shared, so the baseline is the mean of the runs before
    # and after the streams.
    baseline = (before.rps + after.rps) / 2
    ratio = during.rps / baseline if baseline else float("nan")
    per_stream = (rss_after - rss_before) / args.streams
    print(
        f"throughput with streams / without (mean of before and after): {ratio:.2f}"
        f" (target >= 0.80:"
        f" {'met' if ratio >= 0.8 else 'NOT met'}); stream process RSS {rss_before / 1024:.1f}"
        f" -> {rss_after / 1024:.1f} MiB: {per_stream:.0f} KiB per open stream"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", choices=["latency", "streams", "both"], default="both")
    parser.add_argument("--mode", choices=["embedded", "scaled"], default="embedded")
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=5)
    parser.add_argument("--streams", type=int, default=1000)
    args = parser.parse_args()
    if args.part in ("latency", "both"):
        latency(args)
    if args.part in ("streams", "both"):
        streams(args)


if __name__ == "__main__":
    main()
