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


class ImportFormatError(Exception):
    """The file or one of its records cannot be read: names the file and where."""

    def __init__(self, path: str | Path, line: int | None, message: str):
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}, line {line}" if line else self.path
        super().__init__(f"{where}: {message}")


@dataclass(slots=True)
class CommentSpec:
    source_id: str
    parent_source_id: str | None
    author_name: str
    text: str  # plain text, already converted from the source's HTML
    at: datetime | None  # UTC; None if the source has no date for it
    line: int | None = None  # where the record starts in the file, for messages
    state: str = VISIBLE
    reason: str | None = None  # why hidden or retracted
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
    present: int = 0  # comments already in the store (an earlier import)
    authors: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason -> comments not imported
    notes: Counter = field(default_factory=Counter)  # imported, but worth knowing
    orphans: list[str] = field(default_factory=list)  # ids of comments whose thread is missing
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
        flat.update({f"skipped.{k}": v for k, v in sorted(self.skipped.items())})
        flat.update({f"notes.{k}": v for k, v in sorted(self.notes.items())})
        return flat

    def lines(self) -> list[str]:
        """The summary printed at the end of a run."""
        threads = self.threads_created + self.threads_extended + self.threads_unchanged
        out = [
            f"threads: {threads} ({self.threads_created} new, {self.threads_extended} extended,"
            f" {self.threads_unchanged} unchanged)",
            f"comments imported: {self.comments} (hidden {self.hidden},"
            f" retracted {self.retracted}); already there: {self.present}",
            f"authors registered: {self.authors}",
            "skipped: " + _join(self.skipped),
        ]
        if self.notes:
            out.append("notes: " + _join(self.notes))
        shown = ", ".join(self.orphans[:SHOWN_ORPHANS]) or "none"
        if len(self.orphans) > SHOWN_ORPHANS:
            shown += f" and {len(self.orphans) - SHOWN_ORPHANS} more"
        out.append(f"orphans (thread missing): {len(self.orphans)}: {shown}")
        return out


def _join(counter: Counter) -> str:
    if not counter:
        return "none"
    return ", ".join(f"{reason} {n}" for reason, n in sorted(counter.items()))
