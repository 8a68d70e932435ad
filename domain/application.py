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
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from domain import tokens
from domain.errors import (
    AuthorNotFound,
    CommentNotFound,
    NotAuthenticated,
    ParentNotFound,
    PermissionDenied,
    ThreadKeyTaken,
    ThreadNotFound,
    VersionConflict,
)
from domain.model import (
    MEMBER,
    MODERATOR,
    OPERATOR,
    OPERATOR_ID,
    ROLES,
    Actor,
    Author,
    Comment,
    Thread,
)
from domain.rules import TITLE_MAX_LENGTH, Limits, clean_line, clean_name, clean_reason, clean_text


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


class Discussions(Application[UUID]):
    name = "discussions"

    def __init__(self, env: Mapping[str, str] | None = None):
        super().__init__(env)
        self.limits = Limits(
            text_min_length=int(self.env.get("TEXT_MIN_LENGTH") or 1),
            text_max_length=int(self.env.get("TEXT_MAX_LENGTH") or 20_000),
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
        author = Author.register(
            name=clean_name(name),
            role=role,
            token_hash=tokens.hash_secret(secret),
            author_id=author_id,
            at=at,
        )
        position = self._save(author)
        return Registration(
            author.id, author.name, role, tokens.make_token(author.id, secret), position
        )

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
        if not isinstance(author, Author) or not tokens.secret_matches(secret, author.token_hash):
            raise NotAuthenticated("the token is not valid")
        return author

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
    ) -> Posted:
        """Post a comment or a reply. `author_id` differs from the actor only for the
        operator (imports); `comment_id` and `at` are for imports too."""
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
            parent.check_live()
        comment = Comment.post(
            thread_id=thread_id,
            parent_id=parent_id,
            author_id=author_id,
            text=text,
            client_key=client_key,
            comment_id=comment_id,
            at=at,
            actor_id=actor_id,
        )
        try:
            position = self._save(comment)
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
    ) -> Changed:
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
        comment.edit(text, actor, reason, at=at)
        return self._changed(comment)

    def retract_comment(
        self,
        actor_id: UUID,
        comment_id: UUID,
        reason: str | None = None,
        at: datetime | None = None,
    ) -> Changed:
        comment = self.get_comment(comment_id)
        comment.retract(self.actor(actor_id), clean_reason(reason, required=False), at=at)
        return self._changed(comment)

    def hide_comment(
        self, actor_id: UUID, comment_id: UUID, reason: str, at: datetime | None = None
    ) -> Changed:
        actor = self.actor(actor_id)
        actor.check_moderator("hide a comment")
        comment = self.get_comment(comment_id)
        comment.hide(actor, clean_reason(reason, required=True), at=at)
        return self._changed(comment)

    def restore_comment(
        self, actor_id: UUID, comment_id: UUID, reason: str | None = None
    ) -> Changed:
        actor = self.actor(actor_id)
        actor.check_moderator("restore a comment")
        comment = self.get_comment(comment_id)
        comment.restore(actor, clean_reason(reason, required=False))
        return self._changed(comment)

    # ---- plumbing ----------------------------------------------------------------

    def head_position(self) -> int:
        return self.recorder.max_notification_id() or 0

    def _get(self, aggregate_id: UUID, cls: type):
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, cls) else None

    def _save(self, *aggregates) -> int:
        recordings = self.save(*aggregates)
        return max(r.notification.id for r in recordings)

    def _changed(self, aggregate) -> Changed:
        try:
            position = self._save(aggregate)
        except IntegrityError:
            raise VersionConflict(
                "another change to this item was saved first: reload it and try again"
            ) from None
        return Changed(aggregate.id, aggregate.version, position)


__all__ = ["MEMBER", "MODERATOR", "OPERATOR_ID", "Discussions", "PermissionDenied"]
