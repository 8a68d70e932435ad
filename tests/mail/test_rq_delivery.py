"""Scaled out: a write enqueues a deduplicated delivery job on RQ, and an RQ worker
(the catch-up worker class) catches the mail channel up and sends (Redis db 3)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from redis import Redis

from tests.mail.conftest import thread_with_comment
from workers.delivery import PENDING_KEY, enqueue_deliver

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
REDIS_URL = "redis://127.0.0.1:6379/3"  # this feature's own database (tests only)


def test_a_delivery_job_run_by_an_rq_worker_sends_the_mail(services, smtp, database):
    queue = f"mail-test-{uuid.uuid4().hex[:8]}"
    redis = Redis.from_url(REDIS_URL)
    try:
        _, _, alice, _ = thread_with_comment(services.app)
        services.app.add_email_address(alice.author_id, "alice@example.org")
        assert enqueue_deliver(redis, queue)
        assert not enqueue_deliver(redis, queue)  # one waiting job is enough
        result = subprocess.run(
            [
                str(BIN / "rq"),
                "worker",
                "--burst",
                "--url",
                REDIS_URL,
                "--worker-class",
                "workers.rq_worker.CatchUpWorker",
                queue,
            ],
            cwd=ROOT,
            env={
                **os.environ,
                "DISCUSS_DATABASE_URL": database.url,
                "DISCUSS_SMTP_URL": smtp.url,
                "DISCUSS_REDIS_URL": REDIS_URL,
                "DISCUSS_QUEUE": queue,
            },
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        ((rcpts, message),) = smtp.recorder.wait_for(1)
        assert rcpts == ["alice@example.org"] and "Confirm" in message["Subject"]
        status = {s["channel"]: s for s in services.outbox.status()}["mail"]
        assert (status["sent"], status["pending"]) == (1, 0)
    finally:
        redis.delete(f"{PENDING_KEY}:{queue}", f"rq:queue:{queue}")
        redis.close()
