"""Write → webhook receiver, at a steady write rate (issue 16: p99 < 500 ms at 50/s).

A real HTTP receiver in its own process (as a receiver is: in this one it would share
the GIL with the writer and the sender) writes down when each delivery arrived; a
writer posts comments at `--rate` per second through the application service; the
delivery thread of the embedded default (workers/delivery.py), nudged after each write
as a web process does, queues each event in the outbox for the endpoint and POSTs it,
signed. Latency = arrival - the write returned, per event (the
webhook-id is the event's position). Baseline in the same run: the same POST sent
straight to the receiver with requests (the floor any sender pays).

    PYTHONPATH=. .venv/bin/python bench/bench_webhooks.py                 # sqlite, 50/s, 20 s
    PYTHONPATH=. .venv/bin/python bench/bench_webhooks.py --backend postgres --seconds 30
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import latency_report, nproc
from bench.stores import temp_store

RECEIVER = """
import sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
out = open(sys.argv[1], "a", buffering=1)
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        out.write(f"{self.headers.get('webhook-id', '-')} {time.time()}\\n")
        self.send_response(204); self.send_header("Content-Length", "0"); self.end_headers()
server = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()

    import requests

    from domain.model import OPERATOR_ID
    from domain.settings import Settings
    from domain.webhooks import register_webhook
    from workers.bootstrap import bootstrap
    from workers.delivery import DeliveryRunner, senders_for

    arrivals = Path(tempfile.mkdtemp(prefix="bench-hooks-")) / "arrivals.txt"
    receiver = subprocess.Popen(
        [sys.executable, "-c", RECEIVER, str(arrivals)], stdout=subprocess.PIPE, text=True
    )
    url = f"http://127.0.0.1:{receiver.stdout.readline().strip()}/hook"
    with temp_store(args.backend) as database:
        settings = Settings.from_env(database=database, redis_url=None)
        services = bootstrap(settings)
        app = services.app
        thread = app.open_thread(OPERATOR_ID, "Bench", key="bench").thread_id
        alice = app.register_author("alice").author_id
        register_webhook(app, OPERATOR_ID, url, ["comment.posted"], allow_private=True)

        floor = []
        for _ in range(50):
            t0 = time.monotonic()
            requests.post(url, data=b"{}", timeout=5)
            floor.append(time.monotonic() - t0)
        runner = DeliveryRunner(services.outbox, senders_for(services), interval=1.0).start()
        written: dict[int, float] = {}
        n = int(args.rate * args.seconds)
        start = time.monotonic()
        for i in range(n):
            due = start + i / args.rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            position = app.post_comment(alice, thread, f"comment {i}").position
            written[position] = time.time()  # the receiver's clock: same machine
            services.engine.catch_up_many()  # the web process's runner does this on a write
            runner.nudge()
        achieved = n / (time.monotonic() - start)
        arrived: dict[str, float] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(arrived) < n:
            time.sleep(0.2)
            for line in arrivals.read_text().splitlines():
                hook_id, at = line.split()
                arrived.setdefault(hook_id, float(at))
        runner.stop()
        receiver.terminate()
        os.remove(arrivals)
        latencies = [arrived[str(p)] - at for p, at in written.items() if str(p) in arrived]
        services.close()

    print(
        f"nproc: {nproc()}  backend: {args.backend}  rate asked {args.rate}/s,"
        f" achieved {achieved:.1f}/s, {n} comments, {len(latencies)} deliveries received"
    )
    latency_report(
        "write → webhook received", latencies, "baseline: a POST alone", floor, target=0.5
    )


if __name__ == "__main__":
    main()
