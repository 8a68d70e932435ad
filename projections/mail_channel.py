"""The mail channel: which mails each event causes, queued in the outbox exactly once.

- Author.EmailAddressAdded → "verify" to that author (the link to confirm it);
- Author.SignInLinkRequested → "sign-in" to that author (the one-time link);
- Comment.Posted as a reply → "reply" to the parent comment's author when they have a
  verified address and want replies in that thread (globally or for the thread), and
  did not write the reply themself. With the digest option the row is batched with
  the author's other replies of the same window (settings.digest_minutes). A reply
  held for review when posted (its next event, in the same save, is Held) is queued
  instead by its first Comment.Approved: readers, the parent's author included, see it
  only from then on.
- Comment.Held → "review" to every moderator who asked for "awaiting review" mails
  (projections/email_addresses.py `reviewers`, as that read model has it now) and did
  not write the comment.

Rows carry ids only; the sender (workers/mail.py) opens the address and the text at
send time, after the visibility policy has decided again (a reply hidden between the
queueing and the sending is dropped, not mailed).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.model import Author, Comment
from projections.email_addresses import reviewers
from projections.outbox import Channel, Delivery
from projections.tracking import iso

MAIL = "mail"
VERIFY, SIGN_IN, REPLY, REVIEW = "verify", "sign-in", "reply", "review"


def digest_window_end(now: datetime, minutes: int) -> datetime:
    """The end of the digest window `now` falls in (windows start at midnight UTC)."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    step = timedelta(minutes=max(1, minutes))
    return midnight + step * ((now - midnight) // step + 1)


class MailChannel(Channel):
    name = MAIL

    def __init__(self, app: Any, digest_minutes: int = 60, projections: Any = None):
        self.app = app
        self.digest_minutes = digest_minutes
        self.projections = projections  # the read models' engine (reviewers)

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
            if self._held_when_posted(event.originator_id):
                return []  # mailed when first approved
            return self._reply(
                event.originator_id, event.thread_id, event.parent_id, event.author_id
            )
        if isinstance(event, Comment.Approved) and self._first_approval(event):
            comment = self.app._get(event.originator_id, Comment)
            if comment is not None and comment.parent_id is not None:
                return self._reply(
                    comment.id, comment.thread_id, comment.parent_id, comment.author_id
                )
        if isinstance(event, Comment.Held):
            return self._review(event)
        return []

    def _events(self, comment_id: Any, upto: int | None = None) -> list[Any]:
        return list(self.app.repository.event_store.get(comment_id, lte=upto))

    def _held_when_posted(self, comment_id: Any) -> bool:
        """Held in the save that posted it: its version 2 holds revision 1."""
        second = self._events(comment_id, 2)[1:2]
        return bool(second) and isinstance(second[0], Comment.Held) and second[0].revision == 1

    def _first_approval(self, event: Any) -> bool:
        """The approval that first shows a comment held when it was posted."""
        earlier = self._events(event.originator_id, event.originator_version - 1)
        if any(isinstance(e, Comment.Approved) for e in earlier):
            return False
        return self._held_when_posted(event.originator_id)

    def _review(self, event: Any) -> list[Delivery]:
        if self.projections is None:
            return []
        comment = self.app._get(event.originator_id, Comment)
        author_id = str(comment.author_id) if comment is not None else None
        payload = {
            "comment_id": str(event.originator_id),
            "thread_id": str(event.thread_id),
            "revision": event.revision,
        }
        return [
            Delivery(moderator, REVIEW, payload)
            for moderator in reviewers(self.projections)
            if moderator != author_id
        ]

    def _reply(self, comment_id: Any, thread_id: Any, parent_id: Any, author_id: Any) -> list:
        parent = self.app._get(parent_id, Comment)
        if parent is None or parent.author_id == author_id:
            return []
        author = self.app._get(parent.author_id, Author)
        if author is None or author.erased or not author.email_verified:
            return []
        if not author.wants_replies(thread_id):
            return []
        payload = {"comment_id": str(comment_id), "thread_id": str(thread_id)}
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
