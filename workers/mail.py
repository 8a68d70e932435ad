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
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote, urlparse
from uuid import UUID

from domain.model import Author, Comment, Thread
from domain.settings import Settings
from projections.mail_channel import MAIL, REPLY, SIGN_IN, VERIFY
from projections.outbox import Dropped, Queued, Sent
from projections.visibility import (
    THREAD,
    Viewer,
    author_verdict,
    decisions_for,
    text_verdict,
)

SMTP_TIMEOUT = 10  # seconds per SMTP command


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


class MailSender:
    """`send(rows)` for the outbox (workers/delivery.py): Sent, Dropped, or raises."""

    channel = MAIL

    def __init__(self, app: Any, engine: Any, settings: Settings):
        self.app = app
        self.engine = engine  # the projections' (decisions, names)
        self.settings = settings
        self.smtp_url = SmtpUrl(settings.smtp_url) if settings.smtp_url else None
        self._smtp: smtplib.SMTP | None = None

    @property
    def configured(self) -> bool:
        return self.smtp_url is not None

    # ---- the connection, one per round --------------------------------------------------

    def close(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(Exception):  # closing a broken connection
                self._smtp.quit()
            self._smtp = None

    def _transmit(self, message: EmailMessage) -> None:
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

    def send(self, rows: Sequence[Queued]) -> Sent | Dropped:
        first = rows[0]
        author = self.app._get(UUID(first.recipient), Author)
        if author is None or author.erased:
            return Dropped("the recipient's account is gone")
        if first.kind == VERIFY:
            return self._verify(first, author)
        if first.kind == SIGN_IN:
            return self._sign_in(first, author)
        if first.kind == REPLY:
            return self._replies(rows, author)
        return Dropped(f"unknown kind {first.kind!r}")

    def _address(self, author: Author) -> str | None:
        return self.app.email_address(author)

    def _message(self, row_key: str, to: str, subject: str, body: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False, usegmt=True)
        host = urlparse(self.settings.public_url).hostname or "localhost"
        message["Message-ID"] = f"<{row_key.replace(':', '.')}@{host}>"
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(body)
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
        self.engine.catch_up("decisions", stop=self.app.head_position())
        comments = {
            r.payload["comment_id"]: self.app._get(UUID(r.payload["comment_id"]), Comment)
            for r in rows
        }
        decisions = decisions_for(self.engine, comments)
        parts = []
        for row in rows:
            comment = comments[row.payload["comment_id"]]
            thread = self.app._get(UUID(row.payload["thread_id"]), Thread)
            if comment is None or thread is None or not author.wants_replies(thread.id):
                continue
            d = decisions.get(str(comment.id))
            verdict = text_verdict(d, viewer, str(comment.author_id), comment.revisions[-1], THREAD)
            if not verdict.shown:
                continue
            text = self.app.opener.open(comment.text) if self.app.opener else comment.text
            if not isinstance(text, str):
                continue
            by = author_verdict(d, viewer, str(comment.author_id), THREAD)
            replier = self.app._get(comment.author_id, Author) if by.shown else None
            name = self.app.display_name(replier) if replier is not None else None
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
