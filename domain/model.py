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
    CommentHidden,
    CommentRetracted,
    InvalidTransition,
    PermissionDenied,
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


class Author(Aggregate):
    class Registered(Aggregate.Created):
        name: str
        role: str
        token_hash: str
        actor_id: UUID

    def __init__(self, name: str, role: str, token_hash: str, actor_id: UUID):
        self.name = name
        self.role = role
        self.token_hash = token_hash

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

    def __init__(self, title: str, body: str | None, key: str | None, actor_id: UUID):
        self.title = title
        self.body = body
        self.key = key
        self.opened_by = actor_id
        self.locked = False

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
        self.text = text
        self.client_key = client_key
        self.state = VISIBLE

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
        if self.state == RETRACTED:
            raise CommentRetracted("the comment has been retracted")

    def edit(
        self, text: str, actor: Actor, reason: str | None = None, at: datetime | None = None
    ) -> None:
        self.check_may_change(actor)
        self.check_live()
        if self.state == HIDDEN and not actor.is_moderator:
            raise CommentHidden("the comment is hidden by a moderator and cannot be edited")
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
