"""The mail sender: delivers the mail channel's outbox rows over SMTP (DISCUSS_SMTP_URL).

Everything personal is opened at send time, never stored in the outbox: the recipient's
address (sealed in their events), the reply's text and its author's name, each after
the visibility policy (projections/visibility.py) has decided for this recipient, today.
A reply hidden, retracted, erased or suppressed since it was queued is dropped, not
mailed; so is a mail whose recipient has left (erased, address removed or unverified,
unsubscribed).

Idempotency: the Message-ID is derived from the outbox key (channel, event position,
recipient), the same on every attempt, so a message sent again after a crash in the
at-least-once window (projections/outbox.py) carries the same Message-ID.

SMTP with the standard library's smtplib: one connection per delivery round, reused
for its messages. `smtp://host:port` (plain), `smtp+starttls://` and `smtps://` (TLS),
with `user:password@` for AUTH.
"""

from __future__ import annotations

import contextlib
import hashlib
import smtplib
import ssl
from collections.abc import Sequence
from datetime import UTC, datetime
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote, urlparse
from uuid import UUID

from domain.email_accounts import REVIEWS
from domain.model import Author, Comment, Thread
from domain.settings import Settings
from projections.mail_channel import MAIL, REPLY, REVIEW, SIGN_IN, VERIFY
from projections.outbox import Dropped, Queued, Sent
from projections.visibility import (
    THREAD,
    Viewer,
    author_verdict,
    decisions_for,
    text_verdict,
)

SMTP_TIMEOUT = 10  # seconds per SMTP command
# Headers up to RFC 5322's 998 characters on one line: a folded List-Unsubscribe URL
# is not always put back together by mail clients.
UNFOLDED = compat32.clone(max_line_length=998)
# Quoted-printable bodies: readable as they are (links intact), unlike base64.
BODY_CHARSET = Charset("utf-8")
BODY_CHARSET.body_encoding = QP


class SmtpUrl:
    def __init__(self, url: str):
        parsed = urlparse(url)
        if parsed.scheme not in ("smtp", "smtps", "smtp+starttls"):
            raise ValueError(
                "DISCUSS_SMTP_URL must start with smtp://, smtps:// or smtp+starttls://"
            )
        self.scheme = parsed.scheme
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or (465 if parsed.scheme == "smtps" else 25)
        self.user = unquote(parsed.username) if parsed.username else None
        self.password = unquote(parsed.password or "")

    def connect(self) -> smtplib.SMTP:
        if self.scheme == "smtps":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=SMTP_TIMEOUT, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT)
            if self.scheme == "smtp+starttls":
                smtp.starttls(context=ssl.create_default_context())
        if self.user:
            smtp.login(self.user, self.password)
        return smtp


class _Chunk:
    """What the deliveries of one chunk need, loaded together: the aggregates (each
    once), today's decisions on the comments (one query, the decisions read model
    first caught up to the head), and every sealed value opened in one batch."""

    def __init__(self, app: Any, engine: Any, rows: Sequence[Queued]):
        self.app = app
        self.aggregates: dict[tuple[type, str], Any] = {}
        comment_ids = sorted({r.payload["comment_id"] for r in rows if "comment_id" in r.payload})
        for r in rows:
            self.get(Author, r.recipient)
            if "thread_id" in r.payload:
                self.get(Thread, r.payload["thread_id"])
        for comment_id in comment_ids:
            comment = self.get(Comment, comment_id)
            if comment is not None:
                self.get(Author, str(comment.author_id))
        self.decisions = {}
        if comment_ids:
            engine.catch_up("decisions", stop=app.head_position())
            self.decisions = decisions_for(engine, comment_ids)
        sealed = []
        for (cls, _), found in self.aggregates.items():
            if found is None:
                continue
            if cls is Author:
                sealed += [found.name, found.email]
            elif cls is Comment:
                sealed.append(found.text)
        values = [v for v in sealed if v is not None]
        opener = app.opener
        self.opened = opener.open_many(values) if opener is not None else {v: v for v in values}

    def get(self, cls: type, aggregate_id: str) -> Any:
        key = (cls, str(aggregate_id))
        if key not in self.aggregates:
            self.aggregates[key] = self.app._get(UUID(str(aggregate_id)), cls)
        return self.aggregates[key]

    def open(self, value: str | None) -> str | None:
        opened = self.opened.get(value) if value is not None else None
        return opened if isinstance(opened, str) else None


class MailSender:
    """`send(rows)` for the outbox (workers/delivery.py): Sent, Dropped, or raises."""

    channel = MAIL

    def __init__(self, app: Any, engine: Any, settings: Settings):
        self.app = app
        self.engine = engine  # the projections' (decisions, names)
        self.settings = settings
        self.smtp_url = SmtpUrl(settings.smtp_url) if settings.smtp_url else None
        self._smtp: smtplib.SMTP | None = None
        self._chunk: _Chunk | None = None

    @property
    def configured(self) -> bool:
        return self.smtp_url is not None

    # ---- the connection, one per round --------------------------------------------------

    def close(self) -> None:
        self._chunk = None
        if self._smtp is not None:
            with contextlib.suppress(Exception):  # closing a broken connection
                self._smtp.quit()
            self._smtp = None

    def _transmit(self, message: Message) -> None:
        if self.smtp_url is None:
            raise RuntimeError("no SMTP server: set DISCUSS_SMTP_URL")
        for attempt in (1, 2):
            if self._smtp is None:
                self._smtp = self.smtp_url.connect()
            try:
                self._smtp.send_message(message)
                return
            except smtplib.SMTPServerDisconnected:
                self._smtp = None  # a reused connection the server closed: once more
                if attempt == 2:
                    raise
            except Exception:
                self.close()
                raise

    # ---- one delivery (or one digest) ------------------------------------------------------

    def prepare(self, rows: Sequence[Queued]) -> None:
        """Load what the next deliveries need at once (workers/delivery.py calls this
        per chunk of a round, right before sending it)."""
        self._chunk = _Chunk(self.app, self.engine, rows)

    def send(self, rows: Sequence[Queued]) -> Sent | Dropped:
        first = rows[0]
        chunk = self._chunk
        if chunk is None or any((Author, r.recipient) not in chunk.aggregates for r in rows):
            chunk = self._chunk = _Chunk(self.app, self.engine, rows)
        author = chunk.get(Author, first.recipient)
        if author is None or author.erased:
            return Dropped("the recipient's account is gone")
        if first.kind == VERIFY:
            return self._verify(first, author)
        if first.kind == SIGN_IN:
            return self._sign_in(first, author)
        if first.kind == REPLY:
            return self._replies(rows, author)
        if first.kind == REVIEW:
            return self._review(first, author)
        return Dropped(f"unknown kind {first.kind!r}")

    def _address(self, author: Author) -> str | None:
        if author.email is None or author.erased:
            return None
        return self._chunk.open(author.email)

    def _message(self, row_key: str, to: str, subject: str, body: str) -> Message:
        """A plain-text UTF-8 message. Built with the compat32 classes (MIMEText, Header):
        the modern EmailMessage parses every header it is given and cost ~10 ms per
        message, more than the rest of a delivery."""
        message = MIMEText(body, "plain", BODY_CHARSET, policy=UNFOLDED)
        message["From"] = self.settings.mail_from
        message["To"] = to
        message["Subject"] = Header(subject, "utf-8")
        message["Date"] = formatdate(localtime=False, usegmt=True)
        host = urlparse(self.settings.public_url).hostname or "localhost"
        message["Message-ID"] = f"<{row_key.replace(':', '.')}@{host}>"
        message["Auto-Submitted"] = "auto-generated"
        return message

    def _verify(self, row: Queued, author: Author) -> Sent | Dropped:
        version = int(row.payload["version"])
        if author.email_version != version or author.email_verified:
            return Dropped("the address changed or is verified already")
        address = self._address(author)
        if address is None:
            return Dropped("the address cannot be opened")
        at = datetime.fromisoformat(row.payload["at"])
        token = self.app.verify_link_token(author.id, version, at)
        link = f"{self.settings.public_url}/account/email/verify/{token}"
        body = (
            "Someone (we hope you) added this address to an account on our discussions.\n\n"
            f"To confirm it, open this link within two days:\n{link}\n\n"
            "If it was not you, ignore this mail: the address stays unconfirmed.\n"
        )
        self._transmit(self._message(row.key, address, "Confirm your email address", body))
        return Sent()

    def _sign_in(self, row: Queued, author: Author) -> Sent | Dropped:
        version = int(row.payload["version"])
        expires = datetime.fromisoformat(row.payload["expires"])
        if expires <= datetime.now(UTC):
            return Dropped("the link expired before it could be sent")
        if version in author.used_links or not author.email_verified:
            return Dropped("the link was used, or the address is no longer verified")
        address = self._address(author)
        if address is None:
            return Dropped("the address cannot be opened")
        token = self.app.sign_in_link_token(author.id, version, expires)
        link = f"{self.settings.public_url}/account/email/signin/{token}"
        body = (
            "Someone (we hope you) asked to sign in to our discussions with this address.\n\n"
            f"This link signs you in once, within 20 minutes:\n{link}\n\n"
            "If it was not you, ignore this mail: nothing changes.\n"
        )
        self._transmit(self._message(row.key, address, "Your sign-in link", body))
        return Sent()

    def _replies(self, rows: Sequence[Queued], author: Author) -> Sent | Dropped:
        if not author.email_verified:
            return Dropped("the address is no longer verified")
        address = self._address(author)
        if address is None:
            return Dropped("the address cannot be opened")
        viewer = Viewer(str(author.id), author.is_moderator)
        # Decide on today's decisions: the decisions read model caught up to the head
        # first (exactly once, like any worker), so nothing withheld since slips out.
        chunk = self._chunk
        comments = {
            r.payload["comment_id"]: chunk.get(Comment, r.payload["comment_id"]) for r in rows
        }
        decisions = chunk.decisions
        parts = []
        for row in rows:
            comment = comments[row.payload["comment_id"]]
            thread = chunk.get(Thread, row.payload["thread_id"])
            if comment is None or thread is None or not author.wants_replies(thread.id):
                continue
            d = decisions.get(str(comment.id))
            verdict = text_verdict(d, viewer, str(comment.author_id), comment.revisions[-1], THREAD)
            if not verdict.shown:
                continue
            text = chunk.open(comment.text)
            if text is None:
                continue
            by = author_verdict(d, viewer, str(comment.author_id), THREAD)
            replier = chunk.get(Author, str(comment.author_id)) if by.shown else None
            name = chunk.open(replier.name) if replier is not None else None
            parts.append((row, thread, name or "someone", text))
        if not parts:
            return Dropped("nothing left to mail (withheld since, or unsubscribed)")
        unsubscribe = self._unsubscribe_link(author, parts[0][1].id if len(parts) == 1 else None)
        if len(parts) == 1:
            row, thread, name, text = parts[0]
            subject = f"{name} replied to you in “{thread.title}”"
            key = row.key
        else:
            subject = f"{len(parts)} replies to your comments"
            positions = ",".join(str(p[0].position) for p in parts)
            key = f"{MAIL}:digest-{hashlib.sha256(positions.encode()).hexdigest()[:16]}:{author.id}"
        body = "\n\n".join(
            f"{name} replied to your comment in “{thread.title}”:\n\n{_quote(text)}\n\n"
            f"Read it and reply: {self.settings.public_url}/c/{row.payload['comment_id']}"
            for row, thread, name, text in parts
        )
        body += (
            f"\n\n--\nYou get this because you asked for replies by email."
            f"\nStop these mails: {unsubscribe}"
            f"\nSettings: {self.settings.public_url}/account/email\n"
        )
        message = self._message(key, address, subject, body)
        message["List-Unsubscribe"] = f"<{unsubscribe}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058
        self._transmit(message)
        return Sent()

    def _review(self, row: Queued, author: Author) -> Sent | Dropped:
        """A comment held for review, to a moderator who asked for these mails."""
        if not (author.is_moderator and author.notify_reviews and author.email_verified):
            return Dropped("the recipient no longer wants these mails")
        address = self._address(author)
        chunk = self._chunk
        comment = chunk.get(Comment, row.payload["comment_id"])
        thread = chunk.get(Thread, row.payload["thread_id"])
        if address is None or comment is None or thread is None:
            return Dropped("the address, the comment or the thread is gone")
        revision = int(row.payload["revision"])
        if comment.pending_revision != revision:
            return Dropped("reviewed already")
        d = chunk.decisions.get(str(comment.id))
        viewer = Viewer(str(author.id), True)
        if not text_verdict(d, viewer, str(comment.author_id), revision, THREAD).shown:
            return Dropped("withheld from moderators too (erased)")
        text = chunk.open(comment.text)
        if text is None:
            return Dropped("the text cannot be opened")
        writer = chunk.get(Author, str(comment.author_id))
        name = (chunk.open(writer.name) if writer is not None else None) or "someone"
        token = self.app.unsubscribe_token(author.id, REVIEWS, datetime.now(UTC))
        unsubscribe = f"{self.settings.public_url}/account/email/unsubscribe/{token}"
        body = (
            f"A comment by {name} in “{thread.title}” awaits review:\n\n{_quote(text)}\n\n"
            f"Review it: {self.settings.public_url}/c/{comment.id}\n\n--\n"
            f"You get this because you asked for comments awaiting review by email."
            f"\nStop these mails: {unsubscribe}\n"
        )
        message = self._message(
            row.key, address, f"A comment awaits review in “{thread.title}”", body
        )
        message["List-Unsubscribe"] = f"<{unsubscribe}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        self._transmit(message)
        return Sent()

    def _unsubscribe_link(self, author: Author, thread_id: UUID | None) -> str:
        """For one reply: that thread's replies (unless they come by the global choice,
        then all); for a digest: all."""
        scope = "all"
        if thread_id is not None and author.thread_replies.get(str(thread_id)):
            scope = str(thread_id)
        token = self.app.unsubscribe_token(author.id, scope, datetime.now(UTC))
        return f"{self.settings.public_url}/account/email/unsubscribe/{token}"


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" for line in text.splitlines())
