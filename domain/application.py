"""The application service: one method per use case.

Each command validates, loads what it needs, lets the aggregate decide, and
saves everything in one atomic write. It returns the position (notification id)
of the last event it recorded, for read-your-writes. A command that fails records
nothing: aggregates change only in memory until the single `save()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from domain import tokens
from domain.email_accounts import EmailAccounts
from domain.errors import (
    AuthorNotFound,
    CommentNotFound,
    InvalidInput,
    NotAuthenticated,
    ParentNotFound,
    PermissionDenied,
    ThreadKeyTaken,
    ThreadNotFound,
    VersionConflict,
)
from domain.model import (
    ERASED_AUTHOR,
    ERASED_COMMENT,
    ERASURE_BASES,
    MEMBER,
    MODERATOR,
    OPERATOR,
    OPERATOR_ID,
    ROLES,
    STILL_PENDING,
    Actor,
    Author,
    Comment,
    Thread,
)
from domain.rules import TITLE_MAX_LENGTH, Limits, clean_line, clean_name, clean_reason, clean_text
from domain.sealing import MasterKeyError, Sealer
from domain.settings import DEFAULT_TEXT_MAX_LENGTH, DEFAULT_TEXT_MIN_LENGTH

# Erasing an author's comments: this many comments are loaded and saved at a time.
ERASE_CHUNK = 500


@dataclass(frozen=True)
class Registration:
    author_id: UUID
    name: str
    role: str
    token: str  # shown once; only its hash is stored
    position: int


@dataclass(frozen=True)
class Opened:
    thread_id: UUID
    position: int


@dataclass(frozen=True)
class Posted:
    comment_id: UUID
    thread_id: UUID
    version: int
    position: int
    created: bool  # False when an idempotent retry returned the original


@dataclass(frozen=True)
class Changed:
    """The outcome of any command on an existing aggregate."""

    id: UUID
    version: int
    position: int


class _Plain:
    """Stands in for a data key where no sealing is set up (in-memory tests): the
    content stays plaintext, as in stores written before sealing."""

    stored = None

    @staticmethod
    def seal(value: str | None) -> str | None:
        return value


class Discussions(EmailAccounts, Application[UUID]):
    """`sealer` seals personal content (domain/sealing.py); `vault` is the key table's
    side that erasure needs: `comments_of(owner_id)` and `destroy(owner_id=,
    comment_id=, version=)` (projections/keys.py builds both)."""

    name = "discussions"

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        sealer: Sealer | None = None,
        vault: Any = None,
    ):
        super().__init__(env)
        if sealer is not None and not getattr(self.recorder, "stores_data_keys", False):
            raise MasterKeyError(
                f"{type(self.recorder).__name__} cannot store data keys with the events"
            )
        self.sealer = sealer
        self.vault = vault
        self.opener: Any = None  # opens sealed values (projections/keys.py Opener)
        self.limits = Limits(
            text_min_length=int(self.env.get("TEXT_MIN_LENGTH") or DEFAULT_TEXT_MIN_LENGTH),
            text_max_length=int(self.env.get("TEXT_MAX_LENGTH") or DEFAULT_TEXT_MAX_LENGTH),
        )
        # Authors never change name or role, so their actor records can be cached.
        self._actors: dict[UUID, Actor] = {OPERATOR_ID: OPERATOR}

    # ---- authors -----------------------------------------------------------------

    def register_author(
        self,
        name: str,
        role: str = MEMBER,
        *,
        author_id: UUID | None = None,
        at: datetime | None = None,
    ) -> Registration:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        secret = tokens.new_secret()
        name = clean_name(name)
        author_id = author_id or uuid4()
        key = self.data_key(author_id, None, 1)
        author = Author.register(
            name=key.seal(name),
            role=role,
            token_hash=tokens.hash_secret(secret),
            author_id=author_id,
            at=at,
        )
        position = self._save(author, keys=[key])
        return Registration(author.id, name, role, tokens.make_token(author.id, secret), position)

    def authenticate(self, token: str) -> Author:
        """The author a bearer token belongs to; NotAuthenticated if none."""
        parts = tokens.split_token(token or "")
        if parts is None:
            raise NotAuthenticated("the token is malformed")
        author_id, secret = parts
        try:
            author: Author = self.repository.get(author_id)
        except AggregateNotFoundError:
            raise NotAuthenticated("the token is not valid") from None
        if not isinstance(author, Author) or not any(
            tokens.secret_matches(secret, stored)
            for stored in (author.token_hash, *author.email_token_hashes)  # by email link
        ):
            raise NotAuthenticated("the token is not valid")
        if author.erased:
            raise NotAuthenticated("this account has been erased")
        return author

    def display_name(self, author: Author) -> str | None:
        """The author's name in plaintext; None once erased (or its key lost)."""
        if self.opener is None:
            return author.name
        name = self.opener.open(author.name)
        return name if isinstance(name, str) else None

    def get_author(self, author_id: UUID) -> Author:
        author = self._get(author_id, Author)
        if author is None:
            raise AuthorNotFound(f"no author with id {author_id}")
        return author

    def actor(self, actor_id: UUID) -> Actor:
        cached = self._actors.get(actor_id)
        if cached is None:
            author = self._get(actor_id, Author)
            if author is None:
                raise NotAuthenticated(f"no author with id {actor_id}")
            cached = self._actors[actor_id] = Actor(author.id, author.role)
        return cached

    # ---- threads -----------------------------------------------------------------

    def open_thread(
        self,
        actor_id: UUID,
        title: str,
        *,
        body: str | None = None,
        key: str | None = None,
        at: datetime | None = None,
    ) -> Opened:
        self.actor(actor_id).check_moderator("open a thread")
        title = clean_line(title, "title", TITLE_MAX_LENGTH)
        body = clean_text(body, self.limits, "body") if body and body.strip() else None
        key = clean_line(key, "key", 2000) if key is not None else None
        thread = Thread.open(title=title, body=body, key=key, actor_id=actor_id, at=at)
        try:
            position = self._save(thread)
        except IntegrityError:
            raise ThreadKeyTaken(f"a thread with key {key!r} exists already") from None
        return Opened(thread.id, position)

    def get_thread(self, thread_id: UUID) -> Thread:
        thread = self._get(thread_id, Thread)
        if thread is None:
            raise ThreadNotFound(f"no thread with id {thread_id}")
        return thread

    def thread_id_for_key(self, key: str) -> UUID:
        thread_id = Thread.id_for_key(key)
        self.get_thread(thread_id)
        return thread_id

    def retitle_thread(self, actor_id: UUID, thread_id: UUID, title: str) -> Changed:
        self.actor(actor_id).check_moderator("retitle a thread")
        thread = self.get_thread(thread_id)
        thread.retitle(clean_line(title, "title", TITLE_MAX_LENGTH), actor_id)
        return self._changed(thread)

    def lock_thread(
        self,
        actor_id: UUID,
        thread_id: UUID,
        reason: str | None = None,
        at: datetime | None = None,
    ) -> Changed:
        self.actor(actor_id).check_moderator("lock a thread")
        thread = self.get_thread(thread_id)
        thread.lock(clean_reason(reason, required=False), actor_id, at=at)
        return self._changed(thread)

    def unlock_thread(self, actor_id: UUID, thread_id: UUID, reason: str | None = None) -> Changed:
        self.actor(actor_id).check_moderator("unlock a thread")
        thread = self.get_thread(thread_id)
        thread.unlock(clean_reason(reason, required=False), actor_id)
        return self._changed(thread)

    # ---- comments ----------------------------------------------------------------

    def post_comment(
        self,
        actor_id: UUID,
        thread_id: UUID,
        text: str,
        *,
        parent_id: UUID | None = None,
        client_key: str | None = None,
        comment_id: UUID | None = None,
        at: datetime | None = None,
        author_id: UUID | None = None,
        held_by: list[str] | None = None,
    ) -> Posted:
        """Post a comment or a reply. `author_id` differs from the actor only for the
        operator (imports); `comment_id` and `at` are for imports too. `held_by`: the
        moderation rules that fired (web/moderation_gate.py), or e.g. "imported-pending":
        the comment is saved held for review, in the same write."""
        actor = self.actor(actor_id)
        if author_id is not None and author_id != actor_id:
            actor.check_moderator("post in another author's name")
            self.actor(author_id)  # the author must exist
        author_id = author_id or actor_id
        if client_key is not None:
            client_key = clean_line(client_key, "client_key", 200)
            retried = self._retried_post(thread_id, author_id, client_key, comment_id)
            if retried is not None:
                return retried
        text = clean_text(text, self.limits)
        thread = self.get_thread(thread_id)
        thread.check_open()
        if parent_id is not None:
            parent = self._get(parent_id, Comment)
            if parent is None or parent.thread_id != thread_id:
                raise ParentNotFound(
                    f"no comment with id {parent_id} in this thread to reply to",
                    field="parent_id",
                )
            parent.check_repliable()
        if comment_id is None:
            comment_id = (
                Comment.id_for_client_key(thread_id, author_id, client_key)
                if client_key
                else uuid4()
            )
        key = self.data_key(author_id, comment_id, 1)
        comment = Comment.post(
            thread_id=thread_id,
            parent_id=parent_id,
            author_id=author_id,
            text=key.seal(text),
            client_key=client_key,
            comment_id=comment_id,
            at=at,
            actor_id=actor_id,
        )
        if held_by:
            comment.hold(held_by, actor, at=at)
        try:
            position = self._save(comment, keys=[key])
        except IntegrityError:
            # A concurrent retry with the same client key won the race.
            retried = client_key and self._retried_post(
                thread_id, author_id, client_key, comment_id
            )
            if retried:
                return retried
            raise VersionConflict(f"a comment with id {comment.id} exists already") from None
        return Posted(comment.id, thread_id, comment.version, position, created=True)

    def _retried_post(
        self, thread_id: UUID, author_id: UUID, client_key: str, comment_id: UUID | None
    ) -> Posted | None:
        original_id = comment_id or Comment.id_for_client_key(thread_id, author_id, client_key)
        original = self._get(original_id, Comment)
        if original is None:
            return None
        return Posted(
            original.id,
            original.thread_id,
            original.version,
            self.recorder.max_notification_id() or 0,
            created=False,
        )

    def get_comment(self, comment_id: UUID) -> Comment:
        comment = self._get(comment_id, Comment)
        if comment is None:
            raise CommentNotFound(f"no comment with id {comment_id}")
        return comment

    def edit_comment(
        self,
        actor_id: UUID,
        comment_id: UUID,
        text: str,
        *,
        expected_version: int | None = None,
        reason: str | None = None,
        at: datetime | None = None,
        held_by: list[str] | None = None,
    ) -> Changed:
        """`held_by`: as for `post_comment`; an edit of a comment awaiting review is
        held too (the new revision replaces the one under review)."""
        actor = self.actor(actor_id)
        comment = self.get_comment(comment_id)
        if expected_version is not None and expected_version != comment.version:
            raise VersionConflict(
                f"the comment is at version {comment.version}, not {expected_version}:"
                " reload it and edit again",
                current_version=comment.version,
            )
        comment.check_may_change(actor)
        text = clean_text(text, self.limits)
        reason = clean_reason(reason, required=False)
        self.get_thread(comment.thread_id).check_open()
        key = self._next_key(comment)
        was_pending = comment.awaiting_review
        comment.edit(key.seal(text), actor, key.seal(reason), at=at)
        if held_by or was_pending:
            comment.hold(list(held_by or [STILL_PENDING]), actor, at=at)
        return self._changed(comment, key)

    # ---- review (issue 13) ---------------------------------------------------------

    def approve_comment(
        self,
        actor_id: UUID,
        comment_id: UUID,
        reason: str | None = None,
        at: datetime | None = None,
    ) -> Changed:
        """Approve the revision awaiting review (and any before it). NotPending (409)
        if nothing awaits review."""
        actor = self.actor(actor_id)
        actor.check_moderator("approve a comment")
        comment = self.get_comment(comment_id)
        reason = clean_reason(reason, required=False)
        key = self._next_key(comment, reason)
        comment.approve(actor, key.seal(reason), at=at)
        return self._changed(comment, key)

    def reject_comment(
        self,
        actor_id: UUID,
        comment_id: UUID,
        reason: str | None = None,
        at: datetime | None = None,
    ) -> Changed:
        """Reject the revision awaiting review: readers keep the last approved one."""
        actor = self.actor(actor_id)
        actor.check_moderator("reject a comment")
        comment = self.get_comment(comment_id)
        reason = clean_reason(reason, required=False)
        key = self._next_key(comment, reason)
        comment.reject(actor, key.seal(reason), at=at)
        return self._changed(comment, key)

    def switch_premoderation(self, actor_id: UUID, thread_id: UUID, on: bool) -> Changed:
        """Hold every new comment and edit in the thread for review (or stop)."""
        actor = self.actor(actor_id)
        thread = self.get_thread(thread_id)
        thread.switch_premoderation(on, actor)
        return self._changed(thread)

    def retract_comment(
        self,
        actor_id: UUID,
        comment_id: UUID,
        reason: str | None = None,
        at: datetime | None = None,
    ) -> Changed:
        comment = self.get_comment(comment_id)
        reason = clean_reason(reason, required=False)
        key = self._next_key(comment, reason)
        comment.retract(self.actor(actor_id), key.seal(reason), at=at)
        return self._changed(comment, key)

    def hide_comment(
        self, actor_id: UUID, comment_id: UUID, reason: str, at: datetime | None = None
    ) -> Changed:
        actor = self.actor(actor_id)
        actor.check_moderator("hide a comment")
        comment = self.get_comment(comment_id)
        reason = clean_reason(reason, required=True)
        key = self._next_key(comment, reason)
        comment.hide(actor, key.seal(reason), at=at)
        return self._changed(comment, key)

    def restore_comment(
        self, actor_id: UUID, comment_id: UUID, reason: str | None = None
    ) -> Changed:
        actor = self.actor(actor_id)
        actor.check_moderator("restore a comment")
        comment = self.get_comment(comment_id)
        reason = clean_reason(reason, required=False)
        key = self._next_key(comment, reason)
        comment.restore(actor, key.seal(reason))
        return self._changed(comment, key)

    def suppress_revision(
        self,
        actor_id: UUID,
        comment_id: UUID,
        revision: int,
        *,
        text: bool = True,
        edit_reason: bool = False,
        reason: str | None = None,
    ) -> Changed:
        """Withhold one revision's text and/or edit reason from all but moderators."""
        actor = self.actor(actor_id)
        actor.check_moderator("suppress a revision")
        comment = self.get_comment(comment_id)
        reason = clean_reason(reason, required=False)
        key = self._next_key(comment, reason)
        comment.suppress_revision(
            actor, revision, text=text, edit_reason=edit_reason, reason=key.seal(reason)
        )
        return self._changed(comment, key)

    def unsuppress_revision(
        self, actor_id: UUID, comment_id: UUID, revision: int, reason: str | None = None
    ) -> Changed:
        actor = self.actor(actor_id)
        actor.check_moderator("restore a suppressed revision")
        comment = self.get_comment(comment_id)
        reason = clean_reason(reason, required=False)
        key = self._next_key(comment, reason)
        comment.unsuppress_revision(actor, revision, key.seal(reason))
        return self._changed(comment, key)

    # ---- erasure (crypto-shredding: domain/sealing.py) -----------------------------

    @staticmethod
    def check_basis(basis: str) -> str:
        if basis not in ERASURE_BASES:
            raise InvalidInput(
                f"basis must be one of {', '.join(ERASURE_BASES)}, not {basis!r}", field="basis"
            )
        return basis

    def erase_comment(
        self, actor_id: UUID, comment_id: UUID, basis: str, at: datetime | None = None
    ) -> Changed:
        """A moderator's takedown: every revision's content destroyed. Idempotent."""
        actor = self.actor(actor_id)
        actor.check_moderator("erase a comment")
        self.check_basis(basis)
        comment = self.get_comment(comment_id)
        erased = comment.erase(actor, ERASED_COMMENT, basis, at=at)
        changed = self._changed(comment) if erased else self._unchanged(comment)
        self._destroy(comment_id=comment.id)
        return changed

    def erase_revision(
        self, actor_id: UUID, comment_id: UUID, revision: int, basis: str
    ) -> Changed:
        """One revision's text and edit reason destroyed. Idempotent."""
        actor = self.actor(actor_id)
        actor.check_moderator("erase a revision")
        self.check_basis(basis)
        comment = self.get_comment(comment_id)
        erased = comment.erase_revision(actor, revision, basis)
        changed = self._changed(comment) if erased else self._unchanged(comment)
        self._destroy(comment_id=comment.id, version=revision)
        return changed

    def erase_author(
        self, actor_id: UUID, author_id: UUID, basis: str, at: datetime | None = None
    ) -> Changed:
        """An account and everything its author wrote: the author themself or the
        operator. Every comment gets an Erased event (so each thread's views change,
        and the audit says so), then the account; then the keys are destroyed.
        Idempotent: erasing again finishes what an interrupted erasure left."""
        if actor_id not in (author_id, OPERATOR_ID):
            raise PermissionDenied("only the author themself or the operator may erase an account")
        self.check_basis(basis)
        actor = self.actor(actor_id) if actor_id == OPERATOR_ID else Actor(author_id, MEMBER)
        author = self.get_author(author_id)
        comment_ids = self.vault.comments_of(str(author_id)) if self.vault is not None else []
        for start in range(0, len(comment_ids), ERASE_CHUNK):
            comments = [
                self._get(UUID(c), Comment) for c in comment_ids[start : start + ERASE_CHUNK]
            ]
            changed = [
                c for c in comments if c is not None and c.erase(actor, ERASED_AUTHOR, basis, at=at)
            ]
            if changed:
                self._save(*changed)
        erased = author.erase(basis, actor_id, at=at)
        result = self._changed(author) if erased else self._unchanged(author)
        self._actors.pop(author_id, None)
        self._destroy(owner_id=author_id)
        return result

    # ---- plumbing ----------------------------------------------------------------

    def head_position(self) -> int:
        return self.recorder.max_notification_id() or 0

    def _get(self, aggregate_id: UUID, cls: type):
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, cls) else None

    def data_key(self, owner_id: UUID, comment_id: UUID | None, version: int) -> Any:
        """A fresh data key for the content of one event (domain/sealing.py): `.seal()`
        its values, then save with `save_sealed`. Without sealing, values stay as they are."""
        if self.sealer is None:
            return _Plain
        return self.sealer.new_key(owner_id, comment_id, version)

    def save_sealed(self, *aggregates, keys: Any = ()) -> list:
        """`save` with the data keys of the saved events' sealed content, in its transaction."""
        data_keys = [k.stored for k in keys if k.stored is not None]
        return self.save(*aggregates, data_keys=data_keys) if data_keys else self.save(*aggregates)

    def _next_key(self, comment: Comment, *content: str | None) -> Any:
        """The data key of the comment's next event (its content belongs to the
        comment's author); none needed when the event carries no content."""
        if content and all(c is None for c in content):
            return _Plain
        return self.data_key(comment.author_id, comment.id, comment.version + 1)

    def _destroy(self, **where: Any) -> None:
        if self.vault is not None:
            self.vault.destroy(
                **{k: (str(v) if isinstance(v, UUID) else v) for k, v in where.items()}
            )

    def _save(self, *aggregates, keys: Any = ()) -> int:
        recordings = self.save_sealed(*aggregates, keys=keys)
        return max(r.notification.id for r in recordings)

    def _unchanged(self, aggregate) -> Changed:
        return Changed(aggregate.id, aggregate.version, self.head_position())

    def _changed(self, aggregate, key: Any = None) -> Changed:
        try:
            position = self._save(aggregate, keys=[key] if key is not None else ())
        except IntegrityError:
            raise VersionConflict(
                "another change to this item was saved first: reload it and try again"
            ) from None
        return Changed(aggregate.id, aggregate.version, position)


__all__ = ["MEMBER", "MODERATOR", "OPERATOR_ID", "Discussions", "PermissionDenied"]
