"""Aggregates and their events.

Every event carries `actor_id` (who did it) and the library's `timestamp` (when,
UTC); comment events also carry `thread_id`, so that any single event says who
did what, when, to which thread and comment. Events are past tense and nested in
their aggregate. Timestamps can be given explicitly so that imports keep the
original dates.
"""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import (
    AwaitingReview,
    CommentErased,
    CommentHidden,
    CommentRejected,
    CommentRetracted,
    InvalidTransition,
    NotPending,
    PermissionDenied,
    RevisionNotFound,
    ThreadLocked,
)

# The operator (CLI, importer) acts with this id; it has every right.
OPERATOR_ID = uuid5(NAMESPACE_URL, "/actors/operator")

MEMBER = "member"
MODERATOR = "moderator"
ROLES = (MEMBER, MODERATOR)

VISIBLE = "visible"
RETRACTED = "retracted"
HIDDEN = "hidden"

# Review (issue 13): a held revision is pending until a moderator approves or rejects it.
PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"
# The rule named when an edit lands on a comment that is awaiting review already.
STILL_PENDING = "awaiting-review"

# Why something was erased: a fixed list, shown publicly in the erasure ledger (a free
# text would itself be personal content that could not be forgotten).
ERASURE_BASES = {
    "author_request": "at the author's request",
    "legal": "in response to a legal request",
    "personal_data": "it exposed personal data",
    "operator": "by decision of the site's operator",
}
# What an erasure covered.
ERASED_COMMENT = "comment"
ERASED_AUTHOR = "author"


class Author(Aggregate):
    class Registered(Aggregate.Created):
        name: str
        role: str
        token_hash: str
        actor_id: UUID

    class Erased(Aggregate.Event):
        """The author's account and all their content are erased (their data keys
        destroyed); the account can no longer sign in."""

        basis: str
        actor_id: UUID

        def apply(self, author: Author) -> None:
            author.erased = True

    def __init__(self, name: str, role: str, token_hash: str, actor_id: UUID):
        self.name = name  # sealed (domain/sealing.py)
        self.role = role
        self.token_hash = token_hash
        self.erased = False
        # Email (domain/email_accounts.py): sealed address, its keyed digest, and state.
        self.email: str | None = None
        self.email_digest: str | None = None
        self.email_verified = False
        self.email_version: int | None = None
        self.used_links: set[int] = set()
        self.email_token_hashes: list[str] = []
        self.notify_replies = False
        self.notify_digest = False
        self.thread_replies: dict[str, bool] = {}
        self.notify_reviews = False

    def erase(self, basis: str, actor_id: UUID, at: datetime | None = None) -> bool:
        """False if the author was erased already (erasing twice changes nothing)."""
        if self.erased:
            return False
        self.trigger_event(self.Erased, basis=basis, actor_id=actor_id, timestamp=at)
        return True

    @classmethod
    def register(
        cls,
        *,
        name: str,
        role: str,
        token_hash: str,
        actor_id: UUID | None = None,
        author_id: UUID | None = None,
        at: datetime | None = None,
    ) -> Author:
        author_id = author_id or uuid4()
        return cls._create(
            cls.Registered,
            id=author_id,
            name=name,
            role=role,
            token_hash=token_hash,
            actor_id=actor_id or author_id,
            timestamp=at,
        )

    @property
    def is_moderator(self) -> bool:
        return self.role == MODERATOR

    # ---- email (domain/email_accounts.py decides; these record) ---------------------
    # The address is sealed under the author's data key; `digest` is a keyed hash
    # (HMAC under a key derived from the master key) for lookups, never the address.

    class EmailAddressAdded(Aggregate.Event):
        address: str  # sealed
        digest: str

        def apply(self, author: Author) -> None:
            author.email = self.address
            author.email_digest = self.digest
            author.email_verified = False
            author.email_version = self.originator_version

    class EmailAddressVerified(Aggregate.Event):
        added_version: int  # the EmailAddressAdded it confirms

        def apply(self, author: Author) -> None:
            author.email_verified = True

    class EmailAddressRemoved(Aggregate.Event):
        def apply(self, author: Author) -> None:
            author.email = author.email_digest = author.email_version = None
            author.email_verified = False

    class SignInLinkRequested(Aggregate.Event):
        expires_at: datetime

        def apply(self, author: Author) -> None:
            pass

    class SignedInByEmail(Aggregate.Event):
        """A one-time link was used: `link_version` can never be used again; a new
        token (its hash only) signs the author in."""

        link_version: int
        token_hash: str

        def apply(self, author: Author) -> None:
            author.used_links.add(self.link_version)
            author.email_token_hashes.append(self.token_hash)

    class NotificationsChanged(Aggregate.Event):
        """Globally: mail me replies to my comments; batch them in a digest."""

        replies: bool
        digest: bool

        def apply(self, author: Author) -> None:
            author.notify_replies = self.replies
            author.notify_digest = self.digest

    class ThreadNotificationsChanged(Aggregate.Event):
        """In one thread: replies mailed (True), not (False), or as globally (None)."""

        thread_id: UUID
        replies: bool | None

        def apply(self, author: Author) -> None:
            if self.replies is None:
                author.thread_replies.pop(str(self.thread_id), None)
            else:
                author.thread_replies[str(self.thread_id)] = self.replies

    class ReviewNotificationsChanged(Aggregate.Event):
        """A moderator: mail me comments held for review (on), or not."""

        on: bool

        def apply(self, author: Author) -> None:
            author.notify_reviews = self.on

    def wants_replies(self, thread_id: UUID | str) -> bool:
        """Mail this author replies to their comments in this thread?"""
        chosen = self.thread_replies.get(str(thread_id))
        return self.notify_replies if chosen is None else chosen


class Thread(Aggregate):
    class Opened(Aggregate.Created):
        title: str
        body: str | None
        key: str | None
        actor_id: UUID

    class Retitled(Aggregate.Event):
        title: str
        actor_id: UUID

        def apply(self, thread: Thread) -> None:
            thread.title = self.title

    class Locked(Aggregate.Event):
        reason: str | None
        actor_id: UUID

        def apply(self, thread: Thread) -> None:
            thread.locked = True

    class Unlocked(Aggregate.Event):
        reason: str | None
        actor_id: UUID

        def apply(self, thread: Thread) -> None:
            thread.locked = False

    class PremoderationSwitched(Aggregate.Event):
        """Every new comment and edit in the thread is held for review (on), or not."""

        on: bool
        actor_id: UUID

        def apply(self, thread: Thread) -> None:
            thread.premoderated = self.on

    def __init__(self, title: str, body: str | None, key: str | None, actor_id: UUID):
        self.title = title
        self.body = body
        self.key = key
        self.opened_by = actor_id
        self.locked = False
        self.premoderated = False

    def switch_premoderation(self, on: bool, actor: Actor, at: datetime | None = None) -> None:
        actor.check_moderator("switch a thread's pre-moderation")
        if getattr(self, "premoderated", False) == on:
            raise InvalidTransition(f"pre-moderation is {'on' if on else 'off'} already")
        self.trigger_event(self.PremoderationSwitched, on=on, actor_id=actor.id, timestamp=at)

    @staticmethod
    def id_for_key(key: str) -> UUID:
        """A thread with a key (the host page's URL or slug) has an id derived from it."""
        return uuid5(NAMESPACE_URL, f"/threads/{key}")

    @classmethod
    def open(
        cls,
        *,
        title: str,
        body: str | None,
        key: str | None,
        actor_id: UUID,
        at: datetime | None = None,
    ) -> Thread:
        thread_id = cls.id_for_key(key) if key else uuid4()
        return cls._create(
            cls.Opened,
            id=thread_id,
            title=title,
            body=body,
            key=key,
            actor_id=actor_id,
            timestamp=at,
        )

    def retitle(self, title: str, actor_id: UUID, at: datetime | None = None) -> None:
        self.trigger_event(self.Retitled, title=title, actor_id=actor_id, timestamp=at)

    def lock(self, reason: str | None, actor_id: UUID, at: datetime | None = None) -> None:
        if self.locked:
            raise InvalidTransition("the thread is already locked")
        self.trigger_event(self.Locked, reason=reason, actor_id=actor_id, timestamp=at)

    def unlock(self, reason: str | None, actor_id: UUID, at: datetime | None = None) -> None:
        if not self.locked:
            raise InvalidTransition("the thread is not locked")
        self.trigger_event(self.Unlocked, reason=reason, actor_id=actor_id, timestamp=at)

    def check_open(self) -> None:
        if self.locked:
            raise ThreadLocked("the thread is locked: no new comments or edits")


class Comment(Aggregate):
    class Posted(Aggregate.Created):
        thread_id: UUID
        parent_id: UUID | None
        author_id: UUID
        text: str
        client_key: str | None
        actor_id: UUID

    class Edited(Aggregate.Event):
        thread_id: UUID
        text: str
        reason: str | None
        actor_id: UUID

        def apply(self, comment: Comment) -> None:
            comment.text = self.text
            comment.revisions.append(self.originator_version)
            if comment.pending_revision is None and comment.published_revision is not None:
                comment.published_revision = self.originator_version

    class Held(Aggregate.Event):
        """Revision `revision` awaits review: the rules that fired, by name. Readers
        keep seeing `shown_revision` (None: the comment was never approved, so
        readers see nothing of it)."""

        thread_id: UUID
        revision: int
        rules: list[str]
        shown_revision: int | None
        actor_id: UUID

        def apply(self, comment: Comment) -> None:
            comment.pending_revision = self.revision
            comment.published_revision = self.shown_revision

    class Approved(Aggregate.Event):
        """A moderator approved every pending revision up to `revision`."""

        thread_id: UUID
        revision: int
        reason: str | None  # sealed
        actor_id: UUID

        def apply(self, comment: Comment) -> None:
            comment.pending_revision = None
            comment.published_revision = self.revision

    class Rejected(Aggregate.Event):
        """A moderator rejected every pending revision up to `revision`; readers keep
        the last approved revision (none: the comment stays unseen, like a hidden one)."""

        thread_id: UUID
        revision: int
        reason: str | None  # sealed
        actor_id: UUID

        def apply(self, comment: Comment) -> None:
            comment.pending_revision = None
            if comment.published_revision is None:
                comment.rejected = True

    class Retracted(Aggregate.Event):
        thread_id: UUID
        reason: str | None
        actor_id: UUID

        def apply(self, comment: Comment) -> None:
            comment.state = RETRACTED

    class Hidden(Aggregate.Event):
        thread_id: UUID
        reason: str
        actor_id: UUID

        def apply(self, comment: Comment) -> None:
            comment.state = HIDDEN

    class Restored(Aggregate.Event):
        thread_id: UUID
        reason: str | None
        actor_id: UUID

        def apply(self, comment: Comment) -> None:
            comment.state = VISIBLE

    class Erased(Aggregate.Event):
        """Every revision's content is erased (its data keys destroyed). `scope` says
        whether the comment alone or its author's whole account was erased."""

        thread_id: UUID
        scope: str
        basis: str
        actor_id: UUID

        def apply(self, comment: Comment) -> None:
            comment.erased = True

    class RevisionErased(Aggregate.Event):
        """One revision's content (its text and edit reason) is erased."""

        thread_id: UUID
        revision: int
        basis: str
        actor_id: UUID

        def apply(self, comment: Comment) -> None:
            comment.erased_revisions.add(self.revision)

    class RevisionSuppressed(Aggregate.Event):
        """A revision's text and/or edit reason are withheld from everyone but
        moderators (MediaWiki's RevisionDelete); reversible."""

        thread_id: UUID
        revision: int
        text: bool
        edit_reason: bool
        reason: str | None
        actor_id: UUID

        def apply(self, comment: Comment) -> None:
            comment.suppressed[self.revision] = (self.text, self.edit_reason)

    class RevisionUnsuppressed(Aggregate.Event):
        thread_id: UUID
        revision: int
        reason: str | None
        actor_id: UUID

        def apply(self, comment: Comment) -> None:
            comment.suppressed.pop(self.revision, None)

    def __init__(
        self,
        thread_id: UUID,
        parent_id: UUID | None,
        author_id: UUID,
        text: str,
        client_key: str | None,
        actor_id: UUID,
    ):
        self.thread_id = thread_id
        self.parent_id = parent_id
        self.author_id = author_id
        self.text = text  # sealed (domain/sealing.py)
        self.client_key = client_key
        self.state = VISIBLE
        self.erased = False
        self.erased_revisions: set[int] = set()
        self.suppressed: dict[int, tuple[bool, bool]] = {}
        # Versions that carry a text (posted, edited): the revisions.
        self.revisions: list[int] = [1]
        # Review: the revision readers see (None: none approved yet), the one awaiting
        # review, and whether a never-approved comment was rejected.
        self.published_revision: int | None = 1
        self.pending_revision: int | None = None
        self.rejected = False

    @staticmethod
    def id_for_client_key(thread_id: UUID, author_id: UUID, client_key: str) -> UUID:
        """A retried post (same author, thread and client key) maps to the same comment."""
        return uuid5(NAMESPACE_URL, f"/comments/{thread_id}/{author_id}/{client_key}")

    @classmethod
    def post(
        cls,
        *,
        thread_id: UUID,
        parent_id: UUID | None,
        author_id: UUID,
        text: str,
        client_key: str | None = None,
        comment_id: UUID | None = None,
        at: datetime | None = None,
        actor_id: UUID | None = None,
    ) -> Comment:
        if comment_id is None:
            comment_id = (
                cls.id_for_client_key(thread_id, author_id, client_key) if client_key else uuid4()
            )
        return cls._create(
            cls.Posted,
            id=comment_id,
            thread_id=thread_id,
            parent_id=parent_id,
            author_id=author_id,
            text=text,
            client_key=client_key,
            actor_id=actor_id or author_id,  # the operator, when it posts in an author's name
            timestamp=at,
        )

    # Rights: the author or a moderator may edit and retract; only moderators hide/restore.
    def check_may_change(self, actor: Actor) -> None:
        if actor.id != self.author_id and not actor.is_moderator:
            raise PermissionDenied("only the comment's author or a moderator may change it")

    def check_live(self) -> None:
        if self.erased:
            raise CommentErased("the comment has been erased")
        if self.state == RETRACTED:
            raise CommentRetracted("the comment has been retracted")

    @property
    def awaiting_review(self) -> bool:
        return getattr(self, "pending_revision", None) is not None

    @property
    def unpublished(self) -> bool:
        """Never approved (held from its first revision): readers see nothing of it."""
        return getattr(self, "published_revision", 1) is None

    def check_repliable(self) -> None:
        self.check_live()
        if self.unpublished:
            raise AwaitingReview("the comment is awaiting review: it cannot be replied to yet")

    def hold(self, rules: list[str], actor: Actor, at: datetime | None = None) -> None:
        """Hold the latest revision for review (a rule fired, or an import brought it
        in pending). Called right after the post or edit that made the revision."""
        if not rules:
            raise InvalidTransition("a hold names the rule(s) that fired")
        revision = self.revisions[-1]
        if self.pending_revision == revision:
            raise InvalidTransition(f"revision {revision} is held already")
        shown = self.published_revision
        if shown == revision:  # published by the post or edit just made: not yet
            earlier = [r for r in self.revisions if r < revision]
            shown = self._last_published if earlier else None
        self.trigger_event(
            self.Held,
            thread_id=self.thread_id,
            revision=revision,
            rules=[str(r) for r in rules],
            shown_revision=shown,
            actor_id=actor.id,
            timestamp=at,
        )

    def approve(self, actor: Actor, reason: str | None, at: datetime | None = None) -> int:
        actor.check_moderator("approve a comment")
        revision = self._check_pending()
        self.trigger_event(
            self.Approved,
            thread_id=self.thread_id,
            revision=revision,
            reason=reason,
            actor_id=actor.id,
            timestamp=at,
        )
        return revision

    def reject(self, actor: Actor, reason: str | None, at: datetime | None = None) -> int:
        actor.check_moderator("reject a comment")
        revision = self._check_pending()
        self.trigger_event(
            self.Rejected,
            thread_id=self.thread_id,
            revision=revision,
            reason=reason,
            actor_id=actor.id,
            timestamp=at,
        )
        return revision

    def _check_pending(self) -> int:
        if self.erased:
            raise CommentErased("the comment has been erased")
        if self.pending_revision is None:
            raise NotPending("the comment is not awaiting review")
        return self.pending_revision

    def check_revision(self, revision: int) -> None:
        if revision not in self.revisions:
            raise RevisionNotFound(
                f"comment {self.id} has no revision {revision}; its revisions are"
                f" {', '.join(map(str, self.revisions))}",
                field="revision",
            )

    def erase(self, actor: Actor, scope: str, basis: str, at: datetime | None = None) -> bool:
        """False if erased already (erasing twice changes nothing)."""
        if scope == ERASED_COMMENT:
            actor.check_moderator("erase a comment")
        if self.erased:
            return False
        self.trigger_event(
            self.Erased,
            thread_id=self.thread_id,
            scope=scope,
            basis=basis,
            actor_id=actor.id,
            timestamp=at,
        )
        return True

    def erase_revision(
        self, actor: Actor, revision: int, basis: str, at: datetime | None = None
    ) -> bool:
        actor.check_moderator("erase a revision")
        self.check_revision(revision)
        if self.erased or revision in self.erased_revisions:
            return False
        self.trigger_event(
            self.RevisionErased,
            thread_id=self.thread_id,
            revision=revision,
            basis=basis,
            actor_id=actor.id,
            timestamp=at,
        )
        return True

    def suppress_revision(
        self,
        actor: Actor,
        revision: int,
        *,
        text: bool,
        edit_reason: bool,
        reason: str | None,
        at: datetime | None = None,
    ) -> None:
        actor.check_moderator("suppress a revision")
        self.check_revision(revision)
        if not (text or edit_reason):
            raise InvalidTransition("suppress the text, the edit reason, or both")
        if self.erased or revision in self.erased_revisions:
            raise CommentErased("that revision is erased: there is nothing left to suppress")
        if self.suppressed.get(revision) == (text, edit_reason):
            raise InvalidTransition(f"revision {revision} is suppressed that way already")
        self.trigger_event(
            self.RevisionSuppressed,
            thread_id=self.thread_id,
            revision=revision,
            text=text,
            edit_reason=edit_reason,
            reason=reason,
            actor_id=actor.id,
            timestamp=at,
        )

    def unsuppress_revision(
        self, actor: Actor, revision: int, reason: str | None, at: datetime | None = None
    ) -> None:
        actor.check_moderator("restore a suppressed revision")
        self.check_revision(revision)
        if self.erased or revision in self.erased_revisions:
            raise CommentErased("that revision is erased: there is nothing left to restore")
        if revision not in self.suppressed:
            raise InvalidTransition(f"revision {revision} is not suppressed")
        self.trigger_event(
            self.RevisionUnsuppressed,
            thread_id=self.thread_id,
            revision=revision,
            reason=reason,
            actor_id=actor.id,
            timestamp=at,
        )

    def edit(
        self, text: str, actor: Actor, reason: str | None = None, at: datetime | None = None
    ) -> None:
        self.check_may_change(actor)
        self.check_live()
        if self.state == HIDDEN and not actor.is_moderator:
            raise CommentHidden("the comment is hidden by a moderator and cannot be edited")
        if getattr(self, "rejected", False):
            raise CommentRejected("the comment was rejected by a moderator and cannot be edited")
        self._last_published = self.published_revision
        self.trigger_event(
            self.Edited,
            thread_id=self.thread_id,
            text=text,
            reason=reason,
            actor_id=actor.id,
            timestamp=at,
        )

    def retract(self, actor: Actor, reason: str | None = None, at: datetime | None = None) -> None:
        self.check_may_change(actor)
        self.check_live()
        self.trigger_event(
            self.Retracted,
            thread_id=self.thread_id,
            reason=reason,
            actor_id=actor.id,
            timestamp=at,
        )

    def hide(self, actor: Actor, reason: str, at: datetime | None = None) -> None:
        actor.check_moderator("hide a comment")
        self.check_live()
        if self.state == HIDDEN:
            raise InvalidTransition("the comment is already hidden")
        self.trigger_event(
            self.Hidden, thread_id=self.thread_id, reason=reason, actor_id=actor.id, timestamp=at
        )

    def restore(self, actor: Actor, reason: str | None, at: datetime | None = None) -> None:
        actor.check_moderator("restore a comment")
        if self.erased:
            raise CommentErased("the comment has been erased")
        if self.state != HIDDEN:
            raise InvalidTransition("only a hidden comment can be restored")
        self.trigger_event(
            self.Restored,
            thread_id=self.thread_id,
            reason=reason,
            actor_id=actor.id,
            timestamp=at,
        )


class Actor:
    """Who is acting: an author's id and role, or the operator."""

    def __init__(self, actor_id: UUID, role: str):
        self.id = actor_id
        self.role = role

    @property
    def is_moderator(self) -> bool:
        return self.role == MODERATOR

    def check_moderator(self, what: str) -> None:
        if not self.is_moderator:
            raise PermissionDenied(f"only a moderator may {what}")


OPERATOR = Actor(OPERATOR_ID, MODERATOR)
