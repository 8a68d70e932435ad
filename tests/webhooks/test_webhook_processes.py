"""Webhooks with real processes: the operator's `discuss webhooks add` (a private
address refused unless --allow-private), and a `discuss deliver` sender killed -9 while
the receiver holds its request: after a new sender starts, every event has reached the
receiver, in order, signed, each webhook-id answered once (the one in flight when the
sender died is the only one sent twice, with the same id and body)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from standardwebhooks.webhooks import Webhook

from domain.model import MEMBER, OPERATOR_ID
from domain.settings import Database
from domain.webhooks import new_secret
from projections.setup import open_application
from tests.support.webhook_receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run(env, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(BIN / "discuss"), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    if ok:
        assert done.returncode == 0, done.stderr
    return done


def start_sender(env, folder: Path, name: str) -> subprocess.Popen:
    log = open(folder / f"{name}.log", "w")  # noqa: SIM115 - the process owns it
    return subprocess.Popen(
        [str(BIN / "discuss"), "deliver", "--interval", "0.2"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def test_a_sender_killed_mid_delivery_loses_nothing_and_keeps_ids(tmp_path):
    env = {
        **os.environ,
        "DISCUSS_DATABASE_URL": f"sqlite:///{tmp_path}/discuss.db",
        "DISCUSS_OUTBOX_LEASE_SECONDS": "2",
        "DISCUSS_WEBHOOK_TIMEOUT_SECONDS": "20",
    }
    env.pop("DISCUSS_REDIS_URL", None)
    run(env, "init-db")
    with Receiver() as receiver:
        secret = new_secret()
        refused = run(env, "webhooks", "add", receiver.url, "--events", "comment.posted", ok=False)
        assert refused.returncode == 1
        assert "loopback or private" in refused.stderr
        added = run(
            env,
            "webhooks",
            "add",
            receiver.url,
            "--events",
            "comment.posted,comment.edited",
            "--secret",
            secret,
            "--allow-private",
        )
        endpoint_id = re.search(r"^id: (\S+)$", added.stdout, re.M).group(1)
        app = open_application(Database.from_url(env["DISCUSS_DATABASE_URL"]))
        try:
            thread = app.open_thread(OPERATOR_ID, "Killed sender", key="killed")
            alice = app.register_author("alice", MEMBER)
            posted = [
                app.post_comment(alice.author_id, thread.thread_id, f"comment {n}")
                for n in range(3)
            ]
        finally:
            app.close()
        expected = [str(p.position) for p in posted]
        receiver.plan.append("hold")  # the first delivery waits here
        first = start_sender(env, tmp_path, "sender-1")
        assert receiver.holding.wait(30), (tmp_path / "sender-1.log").read_text()
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        receiver.released.set()
        second = start_sender(env, tmp_path, "sender-2")
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                ok = [r["headers"]["webhook-id"] for r in receiver.answered("ok")]
                if ok == expected:
                    break
                time.sleep(0.1)
            time.sleep(2.5)  # past a lease: anything left would be sent again now
        finally:
            second.terminate()
            second.wait(10)
        ok = [r["headers"]["webhook-id"] for r in receiver.answered("ok")]
        assert ok == expected, (tmp_path / "sender-2.log").read_text()
        ids = [r["headers"]["webhook-id"] for r in receiver.requests]
        assert ids == [expected[0], *expected]  # only the one in flight came twice
        held, again = receiver.requests[0], receiver.requests[1]
        assert held["body"] == again["body"]
        for request in receiver.requests:
            headers = {k.lower(): v for k, v in request["headers"].items()}
            Webhook(secret).verify(request["body"], headers)
        log = run(env, "webhooks", "deliveries", endpoint_id).stdout
        assert log.count(" sent ") == 3, log
