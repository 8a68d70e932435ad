"""Running the outbox (projections/outbox.py): channels caught up, due rows delivered.

- `senders_for(services)`: every channel's sender, by channel name (add yours here).
- `deliver_round(outbox, senders)`: catch every channel up, then deliver what is due,
  each delivery's outcome recorded at once (sent, dropped, or failed: retried later
  with backoff and jitter, dead-lettered after settings.outbox_max_attempts tries).
- `DeliveryRunner`: the embedded default's thread (one per web process; on SQLite only
  the process elected to run the projections runs rounds, woken after its runner
  applied events, polling otherwise); processes that do run rounds together race
  safely (leases, locks).
- Scaled out: writes enqueue a deduplicated `deliver` job on RQ (like catch-up jobs,
  workers/jobs.py) on the same queue, and `discuss deliver` (the Procfile's `sender:`)
  runs rounds forever, for retries and for writes whose job was lost.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from redis import Redis
from rq import Queue
from rq.job import get_current_job

from projections.outbox import Dropped, Outbox, Sent
from workers.jobs import breaker_for

log = logging.getLogger(__name__)

ROUND_LIMIT = 100  # rows claimed per channel per round
CHUNK = 20  # deliveries prepared together (senders with `prepare`)
LINGER = 0.05  # seconds a woken delivery thread waits for more writes before its round
PENDING_KEY = "discuss:deliver:pending"
PENDING_TTL = 30


def senders_for(services: Any) -> dict[str, Any]:
    from workers.mail import MailSender
    from workers.webhooks import WebhookSender

    senders = [
        MailSender(services.app, services.engine, services.settings),
        WebhookSender(services.app, services.engine, services.settings),
    ]
    return {s.channel: s for s in senders if getattr(s, "configured", True)}


def deliver_round(outbox: Outbox, senders: dict[str, Any], limit: int = ROUND_LIMIT) -> dict:
    """One round: catch up, then deliver due rows. Returns counts per outcome."""
    counts = {"sent": 0, "dropped": 0, "failed": 0}
    _, failures = outbox.catch_up()
    for failure in failures.values():
        log.error("%s", failure)
    for channel, sender in senders.items():
        try:
            while True:
                rows = outbox.claim(channel, limit)
                if not rows:
                    break
                groups = outbox.groups(rows)
                for index, group in enumerate(groups):
                    if index % CHUNK == 0 and hasattr(sender, "prepare"):
                        # What the next CHUNK deliveries need, loaded at once: what they
                        # say is decided at most CHUNK deliveries before it is sent.
                        sender.prepare([r for g in groups[index : index + CHUNK] for r in g])
                    try:
                        outcome = sender.send(group)
                    except Exception as error:
                        log.warning("delivery %s failed: %s", group[0].key, error)
                        outbox.failed(group, f"{type(error).__name__}: {error}")
                        counts["failed"] += len(group)
                        continue
                    if isinstance(outcome, Sent):
                        outbox.sent(group)
                        counts["sent"] += len(group)
                    elif isinstance(outcome, Dropped):
                        outbox.dropped(group, outcome.why)
                        counts["dropped"] += len(group)
                if len(rows) < limit:
                    break
        finally:
            close = getattr(sender, "close", None)
            if close:
                close()
    return counts


class DeliveryRunner:
    """The embedded default's delivery thread. With `leading` (the elected runner's:
    workers/runner_election.py), it runs rounds only while its process holds the
    store's runner lock, woken after that runner applied events: one process catches
    the channels up, instead of every web process racing for the views' write lock
    after every write (11% of a POST load's samples waited for it, bench/README.md)."""

    def __init__(
        self,
        outbox: Outbox,
        senders: dict[str, Any],
        interval: float = 1.0,
        leading: Callable[[], bool] | None = None,
    ):
        self.outbox = outbox
        self.senders = senders
        self.interval = interval
        self.leading = leading
        self.rounds = 0  # rounds run by this process (tests)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> DeliveryRunner:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="delivery", daemon=True)
            self._thread.start()
        return self

    def nudge(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            if self.leading is None or self.leading():
                try:
                    deliver_round(self.outbox, self.senders)
                    self.rounds += 1
                except Exception:  # keep the thread alive: the store may be briefly down
                    log.exception("delivery runner: round failed; retrying")
            if self._wake.wait(self.interval):
                # Woken by a write: let the writes of the next moment join this round
                # (under load, one round per LINGER instead of one per write; a mail
                # or webhook waits LINGER longer, a read never does).
                self._stop.wait(LINGER)
        self.outbox.store.close()  # this thread's connection


# ---- scaled out: RQ ------------------------------------------------------------------


def deliver() -> dict:
    """RQ job: one delivery round in this worker process."""
    from workers.bootstrap import services_for

    services = services_for()
    job = get_current_job()
    if job is not None:
        job.connection.delete(f"{PENDING_KEY}:{job.origin}")
    return deliver_round(services.outbox, senders_for(services))


def enqueue_deliver(redis: Redis, queue: str) -> bool:
    """Enqueue one delivery round unless one is waiting; never raises (the `sender`
    process's rounds pick up anything a lost job would have sent)."""
    breaker = breaker_for(redis)  # the catch-up enqueue's: one view of Redis per client
    if breaker.is_open():
        return False  # Redis was just found down: don't make the write wait for it again
    try:
        if not redis.set(f"{PENDING_KEY}:{queue}", "1", nx=True, ex=PENDING_TTL):
            return False
        Queue(queue, connection=redis).enqueue(
            deliver, job_timeout=600, result_ttl=60, failure_ttl=7 * 86400
        )
        return True
    except Exception as error:
        breaker.trip(error)
        log.debug("could not enqueue a delivery job (%s); the sender will deliver", error)
        return False
