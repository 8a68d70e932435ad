"""What the readers produce and the writer consumes: plain, source-neutral values.

A reader converts the source's HTML to plain text, its dates to UTC and its flags
to one state per comment; it keeps every comment of the thread, including those
to be skipped (with `skip` naming why), so that the writer can attach the replies
of a skipped comment to the nearest ancestor that is kept.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

SHOWN_ORPHANS = 20  # ids listed in the printed summary (the run's record keeps up to 1000)
VISIBLE = "visible"
HIDDEN = "hidden"
RETRACTED = "retracted"
HELD = "held"  # brought in awaiting review: in the moderation queue, unseen by readers

# The review rules an import holds comments under (shown to moderators in the queue).
PENDING_IN_SOURCE = "imported-pending"
NO_STATUS_IN_SOURCE = "imported-no-status"
PASSWORD_PROTECTED = "imported-password-protected"
PRIVATE_POST = "imported-private"


class ImportFormatError(Exception):
    """The file or one of its records cannot be read: names the file and where.

    `exit_status`: 1 for a malformed record or a file that yields nothing; 2 when
    the file is not the named format at all (see `sniff`)."""

    exit_status = 1

    def __init__(self, path: str | Path, line: int | None, message: str):
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}, line {line}" if line else self.path
        super().__init__(f"{where}: {message}")


class NotThisFormat(ImportFormatError):
    """The file is not the format named on the command line: says what it looks like."""

    exit_status = 2


class SourceUnreadable(ImportFormatError):
    """A source database that cannot be opened or read (permissions, locked, damaged)."""


@dataclass(frozen=True, slots=True)
class Orphan:
    """A reply whose parent is nowhere in the file, or a comment whose thread is not."""

    source_id: str
    line: int | None
    why: str  # "parent 17 missing", "thread missing"

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        return f"{self.source_id}{where}: {self.why}"


@dataclass(slots=True)
class CommentSpec:
    source_id: str
    parent_source_id: str | None
    author_name: str
    text: str  # plain text, already converted from the source's HTML
    at: datetime | None  # UTC; None if the source has no date for it
    line: int | None = None  # where the record starts in the file, for messages
    state: str = VISIBLE
    reason: str | None = None  # why hidden or retracted; for HELD: the review rule
    skip: str | None = None  # why not imported (spam, trash, pingback...)


@dataclass
class ThreadSpec:
    key: str  # the page the discussion belongs to: its URL
    title: str
    at: datetime | None  # when the page was published, if known
    comments: list[CommentSpec]
    source_id: str = ""  # the source's name for the thread, for messages
    line: int | None = None


@dataclass
class ImportSummary:
    """What a run did. Readers add what they drop; the writer adds the rest."""

    source_format: str
    threads_created: int = 0
    threads_extended: int = 0  # existed already and received new comments
    threads_unchanged: int = 0  # everything in them was there already
    comments: int = 0  # comments created, hidden and retracted ones included
    hidden: int = 0
    retracted: int = 0
    held: Counter = field(default_factory=Counter)  # review rule -> comments held
    present: int = 0  # comments already in the store (an earlier import)
    authors: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason -> comments not imported
    notes: Counter = field(default_factory=Counter)  # imported, but worth knowing
    orphans: list[Orphan] = field(default_factory=list)  # no parent, or no thread, in the file
    found: Counter = field(default_factory=Counter)  # what a reader saw ("items", "comments")
    dry_run: bool = False
    position: int | None = None  # of the last event recorded

    @property
    def changed(self) -> bool:
        return bool(self.threads_created or self.threads_extended)

    def counts(self) -> dict[str, int]:
        """Flat counts for the ImportRun record."""
        flat = {
            "threads_created": self.threads_created,
            "threads_extended": self.threads_extended,
            "threads_unchanged": self.threads_unchanged,
            "comments": self.comments,
            "hidden": self.hidden,
            "retracted": self.retracted,
            "present": self.present,
            "authors": self.authors,
            "orphans": len(self.orphans),
        }
        flat.update({f"held.{k}": v for k, v in sorted(self.held.items())})
        flat.update({f"skipped.{k}": v for k, v in sorted(self.skipped.items())})
        flat.update({f"notes.{k}": v for k, v in sorted(self.notes.items())})
        return flat

    def lines(self) -> list[str]:
        """The summary printed at the end of a run."""
        threads = self.threads_created + self.threads_extended + self.threads_unchanged
        out = [
            f"threads: {threads} ({self.threads_created} new, {self.threads_extended} extended,"
            f" {self.threads_unchanged} unchanged)",
            f"comments {'to import' if self.dry_run else 'imported'}: {self.comments}"
            f" (hidden {self.hidden}, retracted {self.retracted},"
            f" held for review {sum(self.held.values())}); already there: {self.present}",
            "held for review: " + _join(self.held),
            f"authors {'to register' if self.dry_run else 'registered'}: {self.authors}",
            "skipped: " + _join(self.skipped),
        ]
        if self.notes:
            out.append("notes: " + _join(self.notes))
        # A dry run lists every orphan: it is the report to act on before importing.
        limit = None if self.dry_run else SHOWN_ORPHANS
        out.append(f"orphans: {len(self.orphans)}" + ("" if self.orphans else ": none"))
        out.extend(f"  {orphan}" for orphan in self.orphans[:limit])
        if limit is not None and len(self.orphans) > limit:
            out.append(f"  and {len(self.orphans) - limit} more (--dry-run lists them all)")
        return out


def _join(counter: Counter) -> str:
    if not counter:
        return "none"
    return ", ".join(f"{reason} {n}" for reason, n in sorted(counter.items()))
