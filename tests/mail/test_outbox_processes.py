"""The outbox with real processes, on SQLite and PostgreSQL: two workers racing to
queue deliveries while one is killed -9 mid-page; a sender killed -9 mid-batch; a
rebuild of every read model. Nothing lost, nothing queued twice, nothing re-sent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from domain.settings import Settings
from projections.rebuild import rebuild
from tests.mail.conftest import link_in, thread_with_comment
from workers.bootstrap import bootstrap
from workers.delivery import deliver_round, senders_for

ROOT = Path(__file__).resolve().parents[2]
DISCUSS = str(Path(sys.executable).with_name("discuss"))
REPLIES = 150


def child_env(database, smtp) -> dict:
    return {
        **os.environ,
        "DISCUSS_DATABASE_URL": database.url,
        "DISCUSS_SMTP_URL": smtp.url,
        "DISCUSS_PUBLIC_URL": "http://discuss.test",
        "DISCUSS_OUTBOX_LEASE_SECONDS": "2",
    }


def subscribed_with_replies(services, smtp, replies: int = REPLIES):
    """alice (verified, replies on) and `replies` replies by bob to her comment."""
    app = services.app
    _, thread, alice, posted = thread_with_comment(app)
    app.add_email_address(alice.author_id, "alice@example.org")
    deliver_round(services.outbox, senders_for(services))
    _, message = smtp.recorder.wait_for(1)[0]
    app.verify_email_address(link_in(message, "/account/email/verify/"))
    app.set_notifications(alice.author_id, replies=True, digest=False)
    bob = app.register_author("bob")
    return [
        app.post_comment(
            bob.author_id, thread.thread_id, f"reply {i}", parent_id=posted.comment_id
        ).position
        for i in range(replies)
    ]


def queued(services) -> list[tuple[int, str]]:
    return [
        (r["position"], r["recipient"])
        for r in services.outbox.rows("mail", limit=100_000)
        if r["kind"] == "reply"
    ]


def test_two_workers_racing_one_killed_mid_page_queue_each_delivery_once(services, smtp, database):
    positions = subscribed_with_replies(services, smtp)
    env = child_env(database, smtp)
    command = [sys.executable, "-m", "tests.support.outbox_worker", "catch-up", "3"]
    first = subprocess.Popen(command, cwd=ROOT, env=env)
    second = subprocess.Popen(command, cwd=ROOT, env=env)
    # Kill the first once the channel has moved (mid-page, or between pages).
    deadline = time.monotonic() + 60
    start = {s["channel"]: s for s in services.outbox.status()}["mail"]["position"]
    while {s["channel"]: s for s in services.outbox.status()}["mail"]["position"] <= start:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    third = subprocess.Popen(command, cwd=ROOT, env=env)
    assert second.wait(120) == 0
    assert third.wait(120) == 0
    status = {s["channel"]: s for s in services.outbox.status()}["mail"]
    assert status["position"] == services.app.head_position()
    rows = queued(services)
    assert sorted(p for p, _ in rows) == positions  # every reply once, none twice
    assert len(set(rows)) == len(rows) == REPLIES


def test_sender_killed_mid_batch_loses_nothing_and_repeats_at_most_the_one_in_flight(
    services, smtp, database
):
    positions = subscribed_with_replies(services, smtp, replies=60)
    services.outbox.catch_up()
    env = child_env(database, smtp)
    sender = subprocess.Popen(
        [DISCUSS, "deliver", "--interval", "0.2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    smtp.recorder.wait_for(1 + 20, timeout=60)  # the verification mail, then 20 replies
    sender.send_signal(signal.SIGKILL)  # mid-batch: the sender claims 100 rows a round
    sender.wait(10)
    sent_before = len(smtp.recorder.received())
    assert sent_before < 1 + len(positions), "the sender finished before it was killed"
    # Another sender takes over once the dead one's lease ran out (2 s here).
    again = subprocess.run(
        [DISCUSS, "deliver", "--once"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr
    time.sleep(2.1)
    again = subprocess.run(
        [DISCUSS, "deliver", "--once"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr
    ids = Counter(m["Message-ID"] for _, m in smtp.recorder.received()[1:])
    wanted = {p for p in positions}
    got = {int(mid.split(".")[1]) for mid in ids}
    assert got == wanted  # no reply lost
    repeated = [mid for mid, n in ids.items() if n > 1]
    # At least once: only the message in flight at the kill can come twice, and with
    # the same Message-ID (the outbox key), so the receiver can tell.
    assert len(repeated) <= 1 and all(ids[mid] == 2 for mid in repeated)
    status = {s["channel"]: s for s in services.outbox.status()}["mail"]
    assert (status["pending"], status["dead"]) == (0, 0)


def test_rebuilding_every_read_model_sends_nothing_again(services, smtp, database):
    subscribed_with_replies(services, smtp, replies=5)
    deliver_round(services.outbox, senders_for(services))
    received = len(smtp.recorder.received())
    assert received == 6
    before = {s["channel"]: s for s in services.outbox.status()}["mail"]
    for name in services.engine.projections:
        rebuild(services.engine, name, grace=0)
    # And from the command line, in another process.
    result = subprocess.run(
        [DISCUSS, "rebuild", "--all"],
        cwd=ROOT,
        env=child_env(database, smtp),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    fresh = bootstrap(Settings.from_env(database=database, smtp_url=smtp.url))
    try:
        assert deliver_round(fresh.outbox, senders_for(fresh))["sent"] == 0
        after = {s["channel"]: s for s in fresh.outbox.status()}["mail"]
    finally:
        fresh.close()
    assert after == before
    assert len(smtp.recorder.received()) == received
