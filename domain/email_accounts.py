"""Email for authors: an address verified by a signed link, sign-in again by an emailed
one-time link (no passwords), and the choice of reply notifications.

The use cases of the application service (`Discussions` inherits `EmailAccounts`), in
one place. Each records its event only when the link or the input is good: a forged,
expired, used or stale link raises `InvalidLink` and stores nothing.

- The address is personal content: sealed under the author's data key (destroyed by
  `erase_author`); events carry it sealed and a keyed digest for lookups.
- A link's token is derived from its event (domain/links.py): the verification link
  from EmailAddressAdded (the author, that event's version, an expiry), the sign-in
  link from SignInLinkRequested (the same, with the expiry the event records). A used
  sign-in link is recorded by SignedInByEmail (its version), so it works once.
- The mails themselves are queued by the mail channel (projections/mail_channel.py)
  from these events and sent through the outbox (projections/outbox.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from domain import tokens
from domain.errors import DomainError, InvalidInput, InvalidTransition, PermissionDenied
from domain.links import InvalidLink, LinkSigner
from domain.model import Author

VERIFY_SECONDS = 2 * 24 * 3600  # a verification link works this long
SIGN_IN_SECONDS = 20 * 60  # a sign-in link works this long, once
UNSUBSCRIBE_SECONDS = 365 * 24 * 3600  # an unsubscribe link (in every reply mail)
ADDRESS_MAX = 254  # RFC 5321's path limit
# One @, no spaces or controls, a dotted domain: what the mail is then tried on.
ADDRESS = re.compile(r"^[^@\s\x00-\x1f\x7f<>,;:\"]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")

VERIFY, SIGN_IN, UNSUBSCRIBE = "verify-email", "sign-in", "unsubscribe"
ALL_THREADS = "all"
REVIEWS = "reviews"  # the unsubscribe scope of "awaiting review" mails


class EmailNotConfigured(InvalidInput):
    """No SMTP server is set (DISCUSS_SMTP_URL), so no mail can be sent."""


def clean_address(address: str) -> str:
    address = (address or "").strip()
    if len(address) > ADDRESS_MAX or not ADDRESS.match(address):
        raise InvalidInput("this is not an email address we can send to", "address")
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}"


def _expiry(at: datetime, seconds: int) -> float:
    return at.timestamp() + seconds


@dataclass(frozen=True)
class SignedIn:
    author_id: UUID
    token: str  # shown once (a cookie); only its hash is stored
    position: int


class EmailAccounts:
    """Mixed into `Discussions` (domain/application.py); `links` is set by
    projections/setup.py from the master key."""

    links: LinkSigner | None = None

    # ---- the links (also made by the mail sender, from the events) ------------------

    def _signer(self) -> LinkSigner:
        if self.links is None:
            raise EmailNotConfigured("links cannot be signed: no master key")
        return self.links

    def address_digest(self, address: str) -> str:
        return self._signer().digest(clean_address(address).lower())

    def verify_link_token(self, author_id: UUID | str, version: int, added_at: datetime) -> str:
        return self._signer().sign(
            VERIFY, author_id, version, expires=_expiry(added_at, VERIFY_SECONDS)
        )

    def sign_in_link_token(self, author_id: UUID | str, version: int, expires: datetime) -> str:
        return self._signer().sign(SIGN_IN, author_id, version, expires=expires.timestamp())

    def unsubscribe_token(self, author_id: UUID | str, scope: str, at: datetime) -> str:
        """`scope`: a thread id, ALL_THREADS, or REVIEWS."""
        return self._signer().sign(
            UNSUBSCRIBE, author_id, scope, expires=_expiry(at, UNSUBSCRIBE_SECONDS)
        )

    def _open(self, purpose: str, token: str, count: int) -> list[str]:
        parts = self._signer().open(purpose, token)
        if len(parts) != count:
            raise InvalidLink("this link is not valid (it may be incomplete or altered)")
        return parts

    def _linked_author(self, author_id: str) -> Author:
        try:
            author = self.get_author(UUID(author_id))
        except (ValueError, DomainError) as error:
            raise InvalidLink("this link belongs to no account") from error
        if author.erased:
            raise InvalidLink("this account has been erased")
        return author

    # ---- the address ---------------------------------------------------------------

    def add_email_address(self, author_id: UUID, address: str, at: datetime | None = None):
        """Record a new (unverified) address; the verification mail follows from the
        event. Adding the current address again changes nothing."""
        address = clean_address(address)
        digest = self.address_digest(address)
        author = self.get_author(author_id)
        if author.erased:
            raise InvalidTransition("this account has been erased")
        if author.email_digest == digest:
            return self._unchanged(author)
        # The key's "comment" is the author itself, so that this address alone can be
        # destroyed (removed or replaced); erase_author destroys it with all the rest.
        key = self.data_key(author.id, author.id, author.version + 1)
        old = _address_versions(self, author)
        author.trigger_event(
            Author.EmailAddressAdded, address=key.seal(address), digest=digest, timestamp=at
        )
        changed = self._changed(author, key)
        self._forget(author, old)
        return changed

    def remove_email_address(self, author_id: UUID, at: datetime | None = None):
        author = self.get_author(author_id)
        if author.email is None:
            return self._unchanged(author)
        author.trigger_event(Author.EmailAddressRemoved, timestamp=at)
        changed = self._changed(author)
        self._forget(author, _address_versions(self, author))
        return changed

    def _forget(self, author: Author, versions: list[int]) -> None:
        """Destroy the data keys of addresses no longer on the account: their events
        keep them sealed for good."""
        for version in versions:
            self._destroy(owner_id=author.id, comment_id=author.id, version=version)

    def email_address(self, author: Author) -> str | None:
        """The author's address in plaintext; None if none, or once erased."""
        if author.email is None or author.erased:
            return None
        if self.opener is None:
            return author.email
        opened = self.opener.open(author.email)
        return opened if isinstance(opened, str) else None

    def verify_email_address(self, token: str):
        """The link from the verification mail: valid, unexpired, for the address the
        author has now, not verified yet. Anything else: InvalidLink, no event."""
        author_id, version = self._open(VERIFY, token, 2)
        author = self._linked_author(author_id)
        if not version.isdigit() or author.email_version != int(version):
            raise InvalidLink("this link is for an address that is no longer on the account")
        if author.email_verified:
            raise InvalidLink("this address is verified already")
        author.trigger_event(Author.EmailAddressVerified, added_version=int(version))
        return self._changed(author)

    # ---- signing in again --------------------------------------------------------------

    def request_sign_in_link(self, author_id: UUID, at: datetime | None = None):
        """Record a request for a sign-in link (the mail follows from the event); None
        when the author has no verified address (no event)."""
        author = self.get_author(author_id)
        if author.erased or not author.email_verified:
            return None
        now = at or datetime.now(UTC)
        expires = now + timedelta(seconds=SIGN_IN_SECONDS)
        author.trigger_event(Author.SignInLinkRequested, expires_at=expires, timestamp=at)
        return self._changed(author)

    def sign_in_by_email(self, token: str) -> SignedIn:
        """Use a sign-in link: once, before it expires, while the address is verified."""
        author_id, version = self._open(SIGN_IN, token, 2)
        author = self._linked_author(author_id)
        if not version.isdigit():
            raise InvalidLink("this link is not valid (it may be incomplete or altered)")
        if int(version) in author.used_links:
            raise InvalidLink("this link has been used already: ask for a new one")
        if not author.email_verified:
            raise InvalidLink("this account has no verified address any more")
        secret = tokens.new_secret()
        author.trigger_event(
            Author.SignedInByEmail, link_version=int(version), token_hash=tokens.hash_secret(secret)
        )
        changed = self._changed(author)
        return SignedIn(author.id, tokens.make_token(author.id, secret), changed.position)

    # ---- notifications ----------------------------------------------------------------

    def set_notifications(self, author_id: UUID, *, replies: bool, digest: bool):
        author = self.get_author(author_id)
        if (author.notify_replies, author.notify_digest) == (replies, digest):
            return self._unchanged(author)
        author.trigger_event(Author.NotificationsChanged, replies=replies, digest=digest)
        return self._changed(author)

    def set_thread_notifications(self, author_id: UUID, thread_id: UUID, replies: bool | None):
        self.get_thread(thread_id)  # NotFound if there is no such thread
        author = self.get_author(author_id)
        if author.thread_replies.get(str(thread_id)) == replies:
            return self._unchanged(author)
        author.trigger_event(
            Author.ThreadNotificationsChanged, thread_id=thread_id, replies=replies
        )
        return self._changed(author)

    def set_review_notifications(self, author_id: UUID, on: bool):
        """Moderators: mail me every comment held for review."""
        author = self.get_author(author_id)
        if not author.is_moderator:
            raise PermissionDenied("only moderators review held comments")
        if author.notify_reviews == on:
            return self._unchanged(author)
        author.trigger_event(Author.ReviewNotificationsChanged, on=on)
        return self._changed(author)

    def unsubscribe(self, token: str):
        """The one-click link of a reply mail (RFC 8058): replies off in that thread, or
        everywhere. Already off: nothing recorded."""
        author_id, scope = self._open(UNSUBSCRIBE, token, 2)
        author = self._linked_author(author_id)
        if scope == REVIEWS:
            if not author.notify_reviews:
                return self._unchanged(author)
            author.trigger_event(Author.ReviewNotificationsChanged, on=False)
            return self._changed(author)
        if scope == ALL_THREADS:
            if not author.notify_replies and not any(author.thread_replies.values()):
                return self._unchanged(author)
            author.trigger_event(
                Author.NotificationsChanged, replies=False, digest=author.notify_digest
            )
            for thread_id, on in sorted(author.thread_replies.items()):
                if on:
                    author.trigger_event(
                        Author.ThreadNotificationsChanged, thread_id=UUID(thread_id), replies=False
                    )
            return self._changed(author)
        try:
            thread_id = UUID(scope)
        except ValueError:
            raise InvalidLink("this link is not valid (it may be incomplete or altered)") from None
        if not author.wants_replies(thread_id):
            return self._unchanged(author)
        author.trigger_event(Author.ThreadNotificationsChanged, thread_id=thread_id, replies=False)
        return self._changed(author)


def _address_versions(app, author: Author) -> list[int]:
    """Versions of the author's EmailAddressAdded events (their data keys)."""
    return [
        e.originator_version
        for e in app.repository.event_store.get(author.id)
        if isinstance(e, Author.EmailAddressAdded)
    ]
