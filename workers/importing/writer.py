"""The one writer: a ThreadSpec from any reader to the domain's atomic thread import.

Per thread, in this order:

1. Skips: a comment the reader marked (spam, trash, pingback...) is skipped and
   counted under that reason; so is one whose text is empty after conversion
   ("empty"), unless it is retracted (it gets a placeholder). Ids must be unique
   in a thread and parent links must not loop: otherwise the record is malformed.
2. Nesting: a reply to a skipped comment is attached to the nearest kept ancestor
   (top-level if none), counted as "reparented". A reply whose parent comes later
   in the file is placed under it all the same (a thread is resolved whole). A
   reply to a comment that is not in the thread at all is an orphan: imported
   top-level and listed in the report by its source id and line; with `strict`,
   it stops the import like a malformed record (the threads before it stay).
3. Dates: the thread starts at the page's date or its first comment, whichever is
   earlier (the import time if neither is known); an undated comment takes its
   parent's date, or the thread's start (counted as "undated").
4. Order: parents before replies, otherwise by date, then file order.
5. Ids, stable across runs: thread from its key (`Thread.id_for_key`), comment
   `uuid5(URL, "/import/<format>/<key>/<source id>")`, author
   `uuid5(URL, "/import/<format>/authors/<name>")` -- authors are known by name.
6. Values: names and titles as one plain line (names at most 80 characters,
   "Anonymous" if empty; titles 300, the key if empty); a text longer than the
   limit is cut, ending with "[…]" (counted as "truncated"); a retracted comment's
   text is a placeholder.

Then `ThreadImporter` saves the thread, its new authors and comments in one
write; small threads may share a write (whole threads, up to BATCH_EVENTS
events), so call `finish()` at the end, and before reporting an error, to save
the complete threads still queued.
"""

from __future__ import annotations

import heapq
from datetime import UTC, datetime
from pathlib import Path
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.application import Discussions
from domain.imports import ImportedComment, ImportedThread, ImportRejected, ThreadImporter
from domain.rules import NAME_MAX_LENGTH, TITLE_MAX_LENGTH
from workers.importing.html_text import plain_line
from workers.importing.specs import (
    HELD,
    HIDDEN,
    RETRACTED,
    CommentSpec,
    ImportFormatError,
    ImportSummary,
    Orphan,
    ThreadSpec,
)

ANONYMOUS = "Anonymous"
BATCH_EVENTS = 1000  # like the store's own batched writes
RETRACTED_TEXT = "[deleted in the source before the import]"
CUT_MARK = " […]"


def comment_id(source_format: str, key: str, source_id: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"/import/{source_format}/{key}/{source_id}")


def author_id(source_format: str, name: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"/import/{source_format}/authors/{name}")


class ThreadWriter:
    def __init__(
        self,
        app: Discussions,
        summary: ImportSummary,
        path: str | Path,
        *,
        now: datetime | None = None,
        batch_events: int = BATCH_EVENTS,
        strict: bool = False,
    ):
        self.importer = ThreadImporter(app, batch_events=batch_events, dry_run=summary.dry_run)
        self.strict = strict
        self.summary = summary
        self.path = path
        self.format = summary.source_format
        self.text_max_length = app.limits.text_max_length
        self.now = now or datetime.now(UTC)
        self._authors: dict[str, tuple[str, UUID]] = {}  # source name -> (name, id)

    def write(self, spec: ThreadSpec) -> None:
        """Resolve a thread and queue it (saved now or with the next ones)."""
        thread, lines = self.resolve(spec)
        if not thread.comments:
            self.summary.notes["threads with nothing to import"] += 1
            return
        try:
            self._tally(self.importer.queue(thread))
        except ImportRejected as error:
            line = lines.get(error.comment_id, spec.line) if error.comment_id else spec.line
            raise ImportFormatError(self.path, line, error.message) from None

    def finish(self) -> None:
        """Save the threads still queued."""
        self._tally(self.importer.flush())

    def _tally(self, outcomes) -> None:
        s = self.summary
        for result in outcomes:
            if result.thread_created:
                s.threads_created += 1
            elif result.comments_created:
                s.threads_extended += 1
            else:
                s.threads_unchanged += 1
            s.comments += result.comments_created
            s.present += result.comments_present
            s.hidden += result.hidden
            s.retracted += result.retracted
            s.held.update(result.held)
            s.authors += result.authors_created
            if result.position is not None:
                s.position = result.position

    # ---- spec -> domain values ---------------------------------------------------

    def resolve(self, spec: ThreadSpec) -> tuple[ImportedThread, dict[UUID, int | None]]:
        key = spec.key.strip()
        by_id: dict[str, CommentSpec] = {}
        for comment in spec.comments:
            if comment.source_id in by_id:
                raise ImportFormatError(
                    self.path,
                    comment.line,
                    f"comment {comment.source_id} appears twice in the thread {key!r}",
                )
            by_id[comment.source_id] = comment
        self._check_loops(by_id)

        skipped: set[str] = set()
        for comment in spec.comments:
            reason = comment.skip
            if reason is None and comment.state != RETRACTED and not comment.text.strip():
                reason = "empty"
            if reason is not None:
                skipped.add(comment.source_id)
                self.summary.skipped[reason] += 1

        kept = [c for c in spec.comments if c.source_id not in skipped]
        parents = {c.source_id: self._parent(c, by_id, skipped) for c in kept}
        self._count_under_held(kept, parents, by_id)
        dates = [c.at for c in kept if c.at is not None]
        if spec.at is not None:
            dates.append(spec.at)
        start = min(dates) if dates else self.now

        comments: list[ImportedComment] = []
        lines: dict[UUID, int | None] = {}
        ids: dict[str, UUID] = {}
        for comment, at in self._in_order(kept, parents, start):
            parent = parents[comment.source_id]
            imported = self._imported(key, comment, ids[parent] if parent is not None else None, at)
            ids[comment.source_id] = imported.comment_id
            comments.append(imported)
            lines[imported.comment_id] = comment.line
        title = plain_line(spec.title, TITLE_MAX_LENGTH) or plain_line(key, TITLE_MAX_LENGTH)
        return ImportedThread(key=key, title=title, at=start, comments=comments), lines

    def _check_loops(self, by_id: dict[str, CommentSpec]) -> None:
        safe: set[str] = set()
        for comment in by_id.values():
            path: list[str] = []
            current: str | None = comment.source_id
            while current is not None and current in by_id and current not in safe:
                if current in path:
                    raise ImportFormatError(
                        self.path,
                        by_id[current].line,
                        f"comment {current} is its own ancestor (replies loop: "
                        + " -> ".join([*path[path.index(current) :], current])
                        + ")",
                    )
                path.append(current)
                current = by_id[current].parent_source_id
            safe.update(path)

    def _parent(
        self, comment: CommentSpec, by_id: dict[str, CommentSpec], skipped: set[str]
    ) -> str | None:
        parent = comment.parent_source_id
        reparented = False
        while parent is not None:
            if parent not in by_id:
                orphan = Orphan(comment.source_id, comment.line, f"parent {parent} missing")
                if self.strict:
                    raise ImportFormatError(
                        self.path,
                        comment.line,
                        f"comment {comment.source_id} replies to {parent}, which is not"
                        " in the file (--strict: orphans are errors)",
                    )
                self.summary.orphans.append(orphan)
                return None
            if parent not in skipped:
                break
            parent = by_id[parent].parent_source_id
            reparented = True
        if reparented:
            self.summary.notes["reparented"] += 1
        return parent

    def _count_under_held(
        self, kept: list[CommentSpec], parents: dict[str, str | None], by_id: dict
    ) -> None:
        """Readers do not see a reply under a held comment until it is approved."""
        for comment in kept:
            if comment.state == HELD:
                continue
            parent = parents[comment.source_id]
            while parent is not None and by_id[parent].state != HELD:
                parent = parents.get(parent)
            if parent is not None:
                self.summary.notes["under a held comment (shown once it is approved)"] += 1

    def _in_order(self, kept: list[CommentSpec], parents: dict[str, str | None], start: datetime):
        """(comment, date) with parents first, then by date and file order."""
        index = {c.source_id: i for i, c in enumerate(kept)}
        children: dict[str | None, list[CommentSpec]] = {}
        for comment in kept:
            children.setdefault(parents[comment.source_id], []).append(comment)
        heap: list[tuple[datetime, int, CommentSpec]] = []

        def push(comment: CommentSpec, inherited: datetime) -> None:
            at = comment.at
            if at is None:
                at = inherited
                self.summary.notes["undated"] += 1
            heapq.heappush(heap, (at, index[comment.source_id], comment))

        for comment in children.get(None, []):
            push(comment, start)
        while heap:
            at, _, comment = heapq.heappop(heap)
            yield comment, at
            for child in children.get(comment.source_id, []):
                push(child, at)

    def _author(self, source_name: str) -> tuple[str, UUID]:
        known = self._authors.get(source_name)
        if known is None:
            name = plain_line(source_name, NAME_MAX_LENGTH) or ANONYMOUS
            known = self._authors[source_name] = (name, author_id(self.format, name))
        return known

    def _imported(
        self, key: str, comment: CommentSpec, parent_id: UUID | None, at: datetime
    ) -> ImportedComment:
        name, author = self._author(comment.author_name)
        retracted = comment.state == RETRACTED
        text = RETRACTED_TEXT if retracted else comment.text
        if len(text) > self.text_max_length:
            text = text[: self.text_max_length - len(CUT_MARK)].rstrip() + CUT_MARK
            self.summary.notes["truncated"] += 1
        return ImportedComment(
            comment_id=comment_id(self.format, key, comment.source_id),
            parent_id=parent_id,
            author_id=author,
            author_name=name,
            text=text,
            at=at,
            hidden_reason=comment.reason if comment.state == HIDDEN else None,
            retracted=retracted,
            retracted_reason=comment.reason if retracted else None,
            held_by=(comment.reason or "imported",) if comment.state == HELD else (),
        )
