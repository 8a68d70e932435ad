"""The application service: one method per use case.

Each command validates, loads what it needs, lets the aggregate decide, and
saves everything in one atomic write. It returns the position (notification id)
of the last event it recorded, for read-your-writes. A command that fails records
nothing: aggregates change only in memory until the single `save()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from domain import tokens
from domain.email_accounts import EmailAccounts
from domain.errors import (
    AuthorNotFound,
    CommentNotFound,
    IdempotencyKeyReused,
    InvalidInput,
    NameTaken,
    NotAuthenticated,
    ParentNotFound,
    PermissionDenied,
    ThreadKeyTaken,
    ThreadNotFound,
    VersionConflict,
)
from domain.group_commit import GroupCommit
from domain.model import (
    ERASED_AUTHOR,
    ERASED_COMMENT,
    ERASURE_BASES,
    KEY,
    MEMBER,
    MODERATOR,
    OPERATOR,
    OPERATOR_ID,
    ROLES,
    SESSION,
    STILL_PENDING,
    Actor,
    Author,
    Comment,
    NameClaim,
    Thread,
    Token,
)
from domain.names import check_name, name_key
from domain.rules import (
    TITLE_MAX_LENGTH,
    Limits,
    clean_line,
    clean_name,
    clean_reason,
    clean_text,
    clean_thread_key,
)
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
    session_token: str | None = None  # a browser's sign-in (register_author(session=))


@dataclass(frozen=True)
class Issued:
    token: str  # shown once; only its hash is stored
    token_id: str
    position: int


def token_expiry(author: Author, token: Token, ttl_days: float) -> datetime | None:
    """When the token stops signing in: `ttl_days` after its issue (the setting in
    force applies to every token); None when tokens do not expire (0)."""
    if not ttl_days:
        return None
    return (token.issued_at or author.created_on) + timedelta(days=ttl_days)


def _name_taken(name: str) -> NameTaken:
    return NameTaken(
        f"the name {name!r} is already taken (names that differ only in case, width or"
        " look-alike letters count as the same): pick another, or sign in with your"
        " token if it is yours",
        field="name",
    )


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
    held_by: tuple[str, ...] = ()  # the rules that hold it for review (issue 13)


@dataclass(frozen=True)
class Changed:
    """The outcome of any command on an existing aggregate."""

    id: UUID
    version: int
    position: int
    held_by: tuple[str, ...] = ()  # an edit held for review: the rules (issue 13)


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
        # The moderation rules' screen (projections/screening.py): called with
        # (author_id, thread, text, editing comment id or None) before a member's post
        # or edit is saved; returns the names of the rules that hold it, or raises.
        self.screen: Any = None
        self.limits = Limits(
            text_min_length=int(self.env.get("TEXT_MIN_LENGTH") or DEFAULT_TEXT_MIN_LENGTH),
            text_max_length=int(self.env.get("TEXT_MAX_LENGTH") or DEFAULT_TEXT_MAX_LENGTH),
        )
        # Authors never change name or role, so their actor records can be cached.
        self._actors: dict[UUID, Actor] = {OPERATOR_ID: OPERATOR}
        # Concurrent writes of this process share a transaction (domain/group_commit.py).
        self.group_commit = (
            GroupCommit(lambda *objs, **kw: self.save(*objs, **kw))
            if self.env.get("GROUP_COMMIT", "y") != "n"
            else None
        )

    # ---- authors -----------------------------------------------------------------

    def register_author(
        self,
        name: str,
        role: str = MEMBER,
        *,
        author_id: UUID | None = None,
        at: datetime | None = None,
        session: bool = False,
    ) -> Registration:
        """A new author holding `name`, which nobody else holds once normalised
        (domain/names.py): NameTaken otherwise, and nothing is stored. The name's claim
        (NameClaim) is saved with the author, so two registrations of one name racing
        in two processes cannot both succeed. `session`: also a browser session token."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        secret = tokens.new_secret()
        name = clean_name(name)
        check_name(name)
        name_of = name_key(name)
        author_id = author_id or uuid4()
        key = self.data_key(author_id, None, 1)
        author = Author.register(
            name=key.seal(name),
            role=role,
            token_hash=tokens.hash_secret(secret),
            author_id=author_id,
            at=at,
        )
        session_token = self._issue(author, SESSION) if session else None
        claim = self._get(NameClaim.id_for(name_of), NameClaim)
        if claim is None:
            claim = NameClaim.claim(name_of, author.id, at=at)  # an import's own time
        elif claim.author_id is None:
            claim.reclaim(author.id, at=at)
        else:
            raise _name_taken(name)
        try:
            position = self._save(author, claim, keys=[key])
        except IntegrityError:
            raise _name_taken(name) from None  # claimed by another process meanwhile
        return Registration(
            author.id, name, role, tokens.make_token(author.id, secret), position, session_token
        )

    def authenticate(
        self, token: str, *, ttl_days: float = 0, now: datetime | None = None
    ) -> Author:
        """The author a bearer token belongs to; NotAuthenticated if none: a token in
        another spelling, revoked, expired (`ttl_days` after its issue; 0: never) or
        of an erased account."""
        parts = tokens.split_token(token or "")
        if parts is None:
            raise NotAuthenticated("the token is malformed")
        author_id, secret = parts
        try:
            author: Author = self.repository.get(author_id)
        except AggregateNotFoundError:
            raise NotAuthenticated("the token is not valid") from None
        found = author.token_for(tokens.hash_secret(secret)) if isinstance(author, Author) else None
        if found is None:
            raise NotAuthenticated("the token is not valid")
        if author.erased:
            raise NotAuthenticated("this account has been erased")
        expires = token_expiry(author, found, ttl_days)
        if expires is not None and expires <= (now or datetime.now(UTC)):
            raise NotAuthenticated("this token has expired: sign in again")
        return author

    def is_current(self, author: Author) -> bool:
        """Whether no event of this author was recorded after the version in hand (a
        token issued or revoked, the account erased): one indexed read, no rebuild."""
        return not self.recorder.select_events(author.id, gt=author.version, limit=1)

    def issue_token(self, author_id: UUID, kind: str = KEY) -> Issued:
        """Another token for the author (a key to save, or a browser's session)."""
        author = self.get_author(author_id)
        token = self._issue(author, kind)
        changed = self._changed(author)
        return Issued(token, tokens.token_id(token), changed.position)

    def rotate_key(self, author_id: UUID) -> Issued:
        """A new key replaces every live key of the author, in one write."""
        author = self.get_author(author_id)
        old = [t.id for t in author.live_tokens() if t.kind == KEY]
        token = self._issue(author, KEY)
        for token_id in old:
            author.revoke_token(token_id, author_id)
        changed = self._changed(author)
        return Issued(token, tokens.token_id(token), changed.position)

    def revoke_token(self, author_id: UUID, token_id: str) -> Changed:
        author = self.get_author(author_id)
        author.revoke_token(token_id, author_id)
        return self._changed(author)

    def end_sessions(self, author_id: UUID, also: str | None = None) -> Changed:
        """Sign out everywhere: every browser session ends (and token `also`, when it
        is live); the saved keys stay, to come back with."""
        author = self.get_author(author_id)
        for token in author.live_tokens():
            if token.kind == SESSION or token.id == also:
                author.revoke_token(token.id, author_id)
        return self._changed(author) if author.pending_events else self._unchanged(author)

    def _issue(self, author: Author, kind: str) -> str:
        secret = tokens.new_secret()
        author.issue_token(tokens.hash_secret(secret), kind, author.id)
        return tokens.make_token(author.id, secret)

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
        key = clean_thread_key(key) if key is not None else None
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
        text = clean_text(text, self.limits)  # before any replay: a retry is validated too
        if client_key is not None:
            client_key = clean_line(client_key, "client_key", 200)
            retried = self._retried_post(
                thread_id, author_id, client_key, comment_id, text, parent_id
            )
            if retried is not None:
                return retried
        thread = self.get_thread(thread_id)
        thread.check_open()
        if self.screen is not None and not actor.is_moderator:
            held_by = [*(held_by or []), *self.screen(author_id, thread, text)]
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
                thread_id, author_id, client_key, comment_id, text, parent_id
            )
            if retried:
                return retried
            raise VersionConflict(f"a comment with id {comment.id} exists already") from None
        return Posted(
            comment.id,
            thread_id,
            comment.version,
            position,
            created=True,
            held_by=tuple(held_by or ()),
        )

    def _retried_post(
        self,
        thread_id: UUID,
        author_id: UUID,
        client_key: str,
        comment_id: UUID | None,
        text: str,
        parent_id: UUID | None,
    ) -> Posted | None:
        """The original post when this is a retry of it; IdempotencyKeyReused when the
        key names a post of another request. As Stripe compares a reused key's request
        with the one it first saw, the request here is compared with the comment's first
        event (its text, opened, and its parent): nothing else needs keeping."""
        original_id = comment_id or Comment.id_for_client_key(thread_id, author_id, client_key)
        original = self._get(original_id, Comment)
        if original is None:
            return None
        posted = next(iter(self.repository.event_store.get(original_id, lte=1)))
        first = posted.text if self.opener is None else self.opener.open(posted.text)
        if not isinstance(first, str):
            raise IdempotencyKeyReused(
                "the comment this Idempotency-Key posted has been erased: send a new key"
            )
        if first != text or posted.parent_id != parent_id:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used for another comment (another text or"
                " parent): send a new key for a new comment"
            )
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
        thread = self.get_thread(comment.thread_id)
        thread.check_open()
        if self.screen is not None and not actor.is_moderator:
            held_by = [*(held_by or []), *self.screen(comment.author_id, thread, text, comment.id)]
        key = self._next_key(comment)
        was_pending = comment.awaiting_review
        comment.edit(key.seal(text), actor, key.seal(reason), at=at)
        held_by = list(held_by or ([STILL_PENDING] if was_pending else []))
        if held_by:
            comment.hold(held_by, actor, at=at)
        changed = self._changed(comment, key)
        return Changed(changed.id, changed.version, changed.position, tuple(held_by))

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
        name = self.display_name(author)  # before its key goes
        erased = author.erase(basis, actor_id, at=at)
        claim = self._get(NameClaim.id_for(name_key(name)), NameClaim) if name else None
        if claim is not None and claim.author_id == author_id:
            claim.release()  # the name is free again (its old comments say "erased")
            # The claim first: the account's Erased event is the write's last, its position.
            result = Changed(author.id, author.version, self._save(claim, author))
        else:
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
        """`save` with the data keys of the saved events' sealed content, in its transaction
        (shared with concurrent writes of this process: domain/group_commit.py)."""
        data_keys = [k.stored for k in keys if k.stored is not None]
        if self.group_commit is not None:
            return self.group_commit.write(aggregates, data_keys)
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
