"""Write → SMTP server accepted, at a steady write rate (issue 16: p99 < 1 s at 50/s).

A real SMTP server (aiosmtpd) in this process records when it accepted each message;
a writer posts replies to a subscribed author's comment at `--rate` per second through
the application service; the delivery thread of the embedded default (workers/delivery.py),
nudged after each write as a web process does, queues them in the outbox and sends them.
Latency = SMTP accepted - the write returned, per reply (the Message-ID carries the
event position). Baseline in the same run: one message sent straight with smtplib
to the same server (the floor any sender pays).

    PYTHONPATH=. .venv/bin/python bench/bench_mail.py                 # sqlite, 50/s, 20 s
    PYTHONPATH=. .venv/bin/python bench/bench_mail.py --backend postgres --seconds 30
"""

from __future__ import annotations

import argparse
import smtplib
import time
from email.message import EmailMessage

from common import latency_report, nproc
from stores import temp_store


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()

    from domain.model import OPERATOR_ID
    from domain.settings import Settings
    from tests.support.smtp import SmtpServer
    from workers.bootstrap import bootstrap
    from workers.delivery import DeliveryRunner, deliver_round, senders_for

    with SmtpServer() as smtp, temp_store(args.backend) as database:
        accepted: dict[str, float] = {}
        original = smtp.recorder.handle_DATA

        async def timed(server, session, envelope):
            answer = await original(server, session, envelope)
            _, message = smtp.recorder.messages[-1]
            accepted[message["Message-ID"]] = time.monotonic()
            return answer

        smtp.recorder.handle_DATA = timed
        settings = Settings.from_env(database=database, smtp_url=smtp.url, redis_url=None)
        services = bootstrap(settings)
        app = services.app
        thread = app.open_thread(OPERATOR_ID, "Bench", key="bench").thread_id
        alice = app.register_author("alice")
        parent = app.post_comment(alice.author_id, thread, "a comment").comment_id
        app.add_email_address(alice.author_id, "alice@example.org")
        deliver_round(services.outbox, senders_for(services))
        link = smtp.recorder.wait_for(1)[0][1].get_content().split("/verify/")[1].split()[0]
        app.verify_email_address(link)
        app.set_notifications(alice.author_id, replies=True, digest=False)
        bob = app.register_author("bob").author_id

        # Baseline: one message straight to the SMTP server, 50 times.
        floor = []
        with smtplib.SMTP("127.0.0.1", smtp.port) as client:
            for i in range(50):
                m = EmailMessage()
                m["From"], m["To"], m["Subject"] = "a@b.c", "d@e.f", f"floor {i}"
                m["Message-ID"] = f"<floor.{i}@bench>"
                m.set_content("x")
                t0 = time.monotonic()
                client.send_message(m)
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
            position = app.post_comment(bob, thread, f"reply {i}", parent_id=parent).position
            written[position] = time.monotonic()
            runner.nudge()
        achieved = n / (time.monotonic() - start)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = [k for k in accepted if k.startswith("<mail.")]
            if len(done) >= n + 1:
                break
            time.sleep(0.05)
        runner.stop()
        latencies = []
        for message_id, at in accepted.items():
            if not message_id.startswith("<mail."):
                continue
            position = int(message_id.split(".")[1])
            if position in written:
                latencies.append(at - written[position])
        services.close()

    print(
        f"nproc: {nproc()}  backend: {args.backend}  rate asked {args.rate}/s,"
        f" achieved {achieved:.1f}/s, {n} replies, {len(latencies)} mails accepted"
    )
    latency_report(
        "write → SMTP accepted", latencies, "baseline: smtplib send alone", floor, target=1.0
    )


if __name__ == "__main__":
    main()
