"""Imports from other systems: a whole thread at a time, atomically, and a record of each run.

The parsers and the file handling live in `workers/importing`; this module is the
domain's half: it takes a thread that is already source-neutral (stable ids, plain
text, UTC dates, who wrote what, what state each comment ends in), builds the
aggregates with the model's factory methods and explicit timestamps, and saves
them in ONE `app.save(...)`. A thread is therefore either imported completely or
not at all. (Small threads may share a save -- see `ThreadImporter.queue` -- but a
thread is never split across saves.)

Idempotency comes from the ids: the caller derives thread, comment and author ids
from the source, so importing the same thread again finds everything present and
saves nothing. A thread that exists already (opened natively for the same page,
or imported before from an older export) receives only the comments it lacks;
its title, and whether it is locked, are left as they are (the operator imports
into a locked thread too), and so are comments already there, whatever their
state now (a moderator may have restored one that came in hidden).

Imported authors are registered with an empty token hash: no token matches it,
so nobody can act as an imported author (the importer itself acts as the
operator). Each author's registration is dated at their first comment in the
first imported thread that names them, and saved with that thread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from domain.application import Discussions
from domain.errors import DomainError, InvalidInput, VersionConflict
from domain.model import MEMBER, OPERATOR, Actor, Author, Comment, Thread
from domain.rules import (
    TITLE_MAX_LENGTH,
    clean_line,
    clean_name,
    clean_reason,
    clean_text,
    clean_thread_key,
)

NO_TOKEN = ""  # an imported author's token hash: matches no token


class ImportRejected(InvalidInput):
    """A thread to import breaks a rule; `comment_id` names the comment if one is at fault."""

    def __init__(self, message: str, comment_id: UUID | None = None):
        super().__init__(message)
        self.comment_id = comment_id


class ImportRun(Aggregate):
    """One run of an import that changed something: who, what, from which file, counts."""

    class Recorded(Aggregate.Created):
        source_format: str
        file_name: str
        file_sha256: str
        counts: dict[str, int]
        orphans: list[str]
        error: str | None
        operator: str | None
        actor_id: UUID

    def __init__(
        self,
        source_format: str,
        file_name: str,
        file_sha256: str,
        counts: dict[str, int],
        orphans: list[str],
        error: str | None,
        operator: str | None,
        actor_id: UUID,
    ):
        self.source_format = source_format
        self.file_name = file_name
        self.file_sha256 = file_sha256
        self.counts = dict(counts)
        self.orphans = list(orphans)
        self.error = error
        self.operator = operator
        self.actor_id = actor_id

    @classmethod
    def record(
        cls,
        *,
        source_format: str,
        file_name: str,
        file_sha256: str,
        counts: Mapping[str, int],
        orphans: Sequence[str] = (),
        error: str | None = None,
        operator: str | None = None,
        actor_id: UUID = OPERATOR.id,
        at: datetime | None = None,
    ) -> ImportRun:
        return cls._create(
            cls.Recorded,
            id=uuid4(),
            source_format=source_format,
            file_name=file_name,
            file_sha256=file_sha256,
            counts={str(k): int(v) for k, v in counts.items()},
            orphans=[str(o) for o in orphans],
            error=error,
            operator=operator,
            actor_id=actor_id,
            timestamp=at,
        )


def record_import(app: Discussions, **fields) -> int:
    """Save an ImportRun (see `ImportRun.record` for the fields); returns its position."""
    run = ImportRun.record(**fields)
    recordings = app.save(run)
    return max(r.notification.id for r in recordings)


@dataclass(frozen=True)
class ImportedComment:
    """A comment as it ends up here. `at` is when it was written (timezone-aware).

    A hidden comment is posted, then hidden by the operator at the same instant
    (it was never visible here); likewise a retracted one, whose `text` should be
    a placeholder: the source deleted it, so its words are not brought in. A
    comment `held_by` review rules (pending in the source, on a password-protected
    post...) is posted, then held at the same instant: it waits in the moderation
    queue, unseen by readers, until a moderator approves it.
    """

    comment_id: UUID
    parent_id: UUID | None
    author_id: UUID
    author_name: str
    text: str
    at: datetime
    hidden_reason: str | None = None
    retracted: bool = False
    retracted_reason: str | None = None
    held_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImportedThread:
    """A thread and its comments, parents before their replies."""

    key: str
    title: str
    at: datetime
    comments: Sequence[ImportedComment]


@dataclass(frozen=True)
class ThreadImported:
    thread_id: UUID
    thread_created: bool
    comments_created: int
    comments_present: int  # already in the store: left as they are
    authors_created: int
    hidden: int
    retracted: int
    held: dict[str, int]  # review rule -> comments held under it
    position: int | None  # of the last event recorded; None if nothing was

    @property
    def changed(self) -> bool:
        return self.position is not None


@dataclass
class _Built:
    """A thread's aggregates, built and validated, not saved yet."""

    thread: ImportedThread
    key: str
    title: str
    aggregates: list[Aggregate]
    outcome: ThreadImported  # its position is set once saved
    keys: list  # the data keys of the sealed content (domain/sealing.py)

    @property
    def events(self) -> int:
        return sum(len(a.pending_events) for a in self.aggregates)


class ThreadImporter:
    """Imports whole threads into a Discussions application, atomically.

    A thread's aggregates (the thread, its new authors, its comments with their
    hide/retract events) always go into ONE `app.save(...)`: never split. With
    `batch_events`, `queue()` lets several small threads share a save -- whole
    threads only, until about that many events are queued -- which saves commits
    when posts have few comments; `import_thread()` saves at once.

    Keeps the ids of authors known to exist, so that a run checks each author once.
    """

    def __init__(
        self,
        app: Discussions,
        actor: Actor = OPERATOR,
        *,
        batch_events: int = 0,
        dry_run: bool = False,
    ):
        actor.check_moderator("import discussions")
        self.app = app
        self.actor = actor
        self.batch_events = batch_events
        self.dry_run = dry_run  # build and validate everything, save nothing
        self._known_authors: set[UUID] = set()
        self._queue: list[_Built] = []
        self._queued_events = 0
        self._queued_authors: set[UUID] = set()  # registered by a queued thread

    def import_thread(self, thread: ImportedThread) -> ThreadImported:
        """Import one thread now (with anything queued before it, in the same save)."""
        return self.queue(thread, save_now=True)[-1]

    def queue(self, thread: ImportedThread, *, save_now: bool = False) -> list[ThreadImported]:
        """Validate and build a thread, then queue it; save the queue once it holds
        `batch_events` events (or `save_now`). Returns the outcomes of the threads
        saved by this call, in order (none if it only queued).

        Raises ImportRejected if a value breaks a rule, a reply's parent is neither
        earlier in the list nor already in this thread, or an id repeats: that
        thread is not queued (what was queued before stays queued: `flush()` it).
        A concurrent writer of the same thread makes the save fail as a whole; each
        thread is then read again and saved on its own.
        """
        key, title = self._validate(thread)
        saved: list[ThreadImported] = []
        if any(b.key == key for b in self._queue):
            saved = self.flush()  # the same page twice: read what the first one saved
        built = self._build(thread, key, title)
        self._queue.append(built)
        self._queued_events += built.events
        self._queued_authors.update(a.id for a in built.aggregates if isinstance(a, Author))
        if save_now or self._queued_events >= self.batch_events:
            saved += self.flush()
        return saved

    def flush(self) -> list[ThreadImported]:
        """Save what is queued, in one write; returns the outcomes, in order."""
        queue, self._queue, self._queued_events = self._queue, [], 0
        self._queued_authors = set()
        aggregates = [a for built in queue for a in built.aggregates]
        keys = [k for built in queue for k in built.keys]
        if self.dry_run:
            return self._saved(queue, [])
        try:
            saved = self.app.save_sealed(*aggregates, keys=keys) if aggregates else []
            return self._saved(queue, saved)
        except IntegrityError:
            pass  # nothing was saved: read again, one thread at a time
        outcomes = []
        for built in queue:
            again = self._build(built.thread, built.key, built.title, assume_new=False)
            try:
                recordings = (
                    self.app.save_sealed(*again.aggregates, keys=again.keys)
                    if again.aggregates
                    else []
                )
            except IntegrityError:
                raise VersionConflict(
                    f"thread {built.key!r} was changed by someone else during its import"
                ) from None
            outcomes += self._saved([again], recordings)
        return outcomes

    # ---- steps -----------------------------------------------------------------

    def _saved(self, queue: list[_Built], recordings) -> list[ThreadImported]:
        positions: dict[UUID, int] = {}
        for recording in recordings:
            originator = recording.domain_event.originator_id
            positions[originator] = max(positions.get(originator, 0), recording.notification.id)
        outcomes = []
        for built in queue:
            position = max(
                (positions[a.id] for a in built.aggregates if a.id in positions), default=None
            )
            outcomes.append(replace(built.outcome, position=position))
            self._known_authors.update(c.author_id for c in built.thread.comments)
        return outcomes

    def _validate(self, thread: ImportedThread) -> tuple[str, str]:
        try:
            key = clean_thread_key(thread.key)
            title = clean_line(thread.title, "title", TITLE_MAX_LENGTH)
        except DomainError as error:
            raise ImportRejected(f"thread {thread.key!r}: {error.message}") from None
        _check_aware(thread.at, f"thread {key!r}")
        seen: set[UUID] = set()
        names: set[str] = set()
        for comment in thread.comments:
            if comment.comment_id in seen:
                raise ImportRejected(
                    f"comment {comment.comment_id} appears twice", comment.comment_id
                )
            seen.add(comment.comment_id)
            _check_aware(comment.at, f"comment {comment.comment_id}", comment.comment_id)
            try:
                # a known author's name was checked when it was registered
                if comment.author_id not in self._known_authors and (
                    comment.author_name not in names
                ):
                    clean_name(comment.author_name)
                    names.add(comment.author_name)
                clean_reason(comment.hidden_reason, required=False)
                clean_reason(comment.retracted_reason, required=False)
                for rule in comment.held_by:
                    clean_line(rule, "review rule", TITLE_MAX_LENGTH)
            except DomainError as error:
                raise ImportRejected(
                    f"comment {comment.comment_id}: {error.message}", comment.comment_id
                ) from None
        return key, title

    def _build(
        self, thread: ImportedThread, key: str, title: str, *, assume_new: bool = True
    ) -> _Built:
        thread_id = Thread.id_for_key(key)
        existing = self._get(thread_id)
        if existing is not None and not isinstance(existing, Thread):
            raise ImportRejected(f"id {thread_id} of thread {key!r} belongs to something else")
        # Comment ids are derived from the thread's key by the caller, so a thread
        # that does not exist has none of them (a save proves it: a clash aborts it).
        thread_is_new = existing is None and assume_new
        present = (
            set()
            if thread_is_new
            else {c.comment_id for c in thread.comments if self._exists(c.comment_id)}
        )
        new_comments = [c for c in thread.comments if c.comment_id not in present]
        self._check_parents(thread_id, new_comments, present)

        aggregates: list[Aggregate] = []
        keys: list = []
        authors = self._new_authors(new_comments, keys)
        aggregates.extend(authors)
        if existing is None:
            aggregates.append(
                Thread.open(title=title, body=None, key=key, actor_id=self.actor.id, at=thread.at)
            )
        hidden = retracted = 0
        held: dict[str, int] = {}
        for item in new_comments:
            try:
                text = clean_text(item.text, self.app.limits)
            except DomainError as error:
                raise ImportRejected(
                    f"comment {item.comment_id}: {error.message}", item.comment_id
                ) from None
            # Sealed like every command's content: one data key per event with content.
            sealing = self.app.data_key(item.author_id, item.comment_id, 1)
            keys.append(sealing)
            comment = Comment.post(
                thread_id=thread_id,
                parent_id=item.parent_id,
                author_id=item.author_id,
                text=sealing.seal(text),
                comment_id=item.comment_id,
                at=item.at,
            )
            if item.retracted:
                reason = clean_reason(item.retracted_reason, required=False)
                if reason is not None:
                    sealing = self.app.data_key(item.author_id, item.comment_id, 2)
                    keys.append(sealing)
                    reason = sealing.seal(reason)
                comment.retract(self.actor, reason, at=item.at)
                retracted += 1
            elif item.hidden_reason is not None:
                reason = clean_reason(item.hidden_reason, required=True)
                sealing = self.app.data_key(item.author_id, item.comment_id, 2)
                keys.append(sealing)
                comment.hide(self.actor, sealing.seal(reason), at=item.at)
                hidden += 1
            if item.held_by and not item.retracted:
                comment.hold(list(item.held_by), self.actor, at=item.at)
                for rule in item.held_by:
                    held[rule] = held.get(rule, 0) + 1
            aggregates.append(comment)
        outcome = ThreadImported(
            thread_id=thread_id,
            thread_created=existing is None,
            comments_created=len(new_comments),
            comments_present=len(present),
            authors_created=len(authors),
            hidden=hidden,
            retracted=retracted,
            held=held,
            position=None,
        )
        return _Built(thread, key, title, aggregates, outcome, keys)

    def _check_parents(
        self, thread_id: UUID, comments: Sequence[ImportedComment], present: set[UUID]
    ) -> None:
        earlier: set[UUID] = set()
        for comment in comments:
            parent_id = comment.parent_id
            if parent_id is not None and parent_id not in earlier and parent_id not in present:
                parent = self._get(parent_id)
                if not isinstance(parent, Comment) or parent.thread_id != thread_id:
                    raise ImportRejected(
                        f"comment {comment.comment_id} replies to {parent_id}, which is neither"
                        " earlier in the import nor in this thread",
                        comment.comment_id,
                    )
            earlier.add(comment.comment_id)

    def _new_authors(self, comments: Sequence[ImportedComment], keys: list) -> list[Author]:
        first: dict[UUID, ImportedComment] = {}
        for comment in comments:
            if (
                comment.author_id in self._known_authors
                or comment.author_id in self._queued_authors
            ):
                continue
            seen = first.get(comment.author_id)
            if seen is None or comment.at < seen.at:
                first[comment.author_id] = comment
        authors = []
        for author_id, comment in first.items():
            if self._exists(author_id):
                self._known_authors.add(author_id)
                continue
            sealing = self.app.data_key(author_id, None, 1)
            keys.append(sealing)
            authors.append(
                Author.register(
                    name=sealing.seal(clean_name(comment.author_name)),
                    role=MEMBER,
                    token_hash=NO_TOKEN,
                    actor_id=self.actor.id,
                    author_id=author_id,
                    at=comment.at,
                )
            )
        return authors

    def _get(self, aggregate_id: UUID):
        try:
            return self.app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def _exists(self, aggregate_id: UUID) -> bool:
        return bool(self.app.recorder.select_events(aggregate_id, limit=1))


def _check_aware(at: datetime, what: str, comment_id: UUID | None = None) -> None:
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
        raise ImportRejected(f"{what}: the date {at!r} has no time zone", comment_id)
