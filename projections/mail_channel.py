"""The mail channel: which mails each event causes, queued in the outbox exactly once.

- Author.EmailAddressAdded → "verify" to that author (the link to confirm it);
- Author.SignInLinkRequested → "sign-in" to that author (the one-time link);
- Comment.Posted as a reply → "reply" to the parent comment's author when they have a
  verified address and want replies in that thread (globally or for the thread), and
  did not write the reply themself. With the digest option the row is batched with
  the author's other replies of the same window (settings.digest_minutes).

Rows carry ids only; the sender (workers/mail.py) opens the address and the text at
send time, after the visibility policy has decided again (a reply hidden between the
queueing and the sending is dropped, not mailed).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.model import Author, Comment
from projections.outbox import Channel, Delivery
from projections.tracking import iso

MAIL = "mail"
VERIFY, SIGN_IN, REPLY = "verify", "sign-in", "reply"


def digest_window_end(now: datetime, minutes: int) -> datetime:
    """The end of the digest window `now` falls in (windows start at midnight UTC)."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    step = timedelta(minutes=max(1, minutes))
    return midnight + step * ((now - midnight) // step + 1)


class MailChannel(Channel):
    name = MAIL

    def __init__(self, app: Any, digest_minutes: int = 60):
        self.app = app
        self.digest_minutes = digest_minutes

    def deliveries(self, event: Any, position: int) -> Iterable[Delivery]:
        if isinstance(event, Author.EmailAddressAdded):
            return [
                Delivery(
                    str(event.originator_id),
                    VERIFY,
                    {"version": event.originator_version, "at": iso(event.timestamp)},
                )
            ]
        if isinstance(event, Author.SignInLinkRequested):
            return [
                Delivery(
                    str(event.originator_id),
                    SIGN_IN,
                    {"version": event.originator_version, "expires": iso(event.expires_at)},
                )
            ]
        if isinstance(event, Comment.Posted) and event.parent_id is not None:
            return self._reply(event)
        return []

    def _reply(self, event: Comment.Posted) -> list[Delivery]:
        parent = self.app._get(event.parent_id, Comment)
        if parent is None or parent.author_id == event.author_id:
            return []
        author = self.app._get(parent.author_id, Author)
        if author is None or author.erased or not author.email_verified:
            return []
        if not author.wants_replies(event.thread_id):
            return []
        payload = {"comment_id": str(event.originator_id), "thread_id": str(event.thread_id)}
        if not author.notify_digest:
            return [Delivery(str(author.id), REPLY, payload)]
        now = datetime.now(UTC)
        end = digest_window_end(now, self.digest_minutes)
        return [
            Delivery(
                str(author.id),
                REPLY,
                payload,
                batch=f"digest:{iso(end)}",
                delay=(end - now).total_seconds(),
            )
        ]
