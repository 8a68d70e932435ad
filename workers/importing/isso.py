"""Isso's SQLite database (`comments.db`), read directly: a thread per row of `threads`.

Isso (https://isso-comments.de) keeps everything in one SQLite file: `threads`
(id, uri, title) and `comments` (tid, id, parent, created, modified, mode, text,
author, email, website, likes, dislikes, ...; times are Unix seconds, UTC). The
file is opened read-only and its comments read in one pass in thread order, so
memory holds one thread whatever the database's size; Isso may keep running,
but a database locked by a write in progress stops the import with a clear error.

Decisions:

- Key: the thread's `uri` (a path such as "/2016/07/post/"), prefixed with
  `base_url` if given (Isso's `host` setting is not in the database); title:
  `title`, else the key.
- `mode` 1 (accepted): visible; 2 (waiting in Isso's moderation queue): held for
  review (rule "imported-pending"), unseen by readers; 4 (deleted, kept by Isso
  because it has replies; its text and author are already emptied): retracted,
  with the placeholder text, so that its replies keep their place. Any other mode
  is a malformed record.
- `text` is what the commenter typed (Isso renders Markdown on output): kept as
  typed. `author` empty: "Anonymous".
- `parent`: the comment replied to (Isso itself keeps one level of nesting, so a
  reply to a reply names the top comment). A parent missing from the thread is an
  orphan (reported, or an error with --strict).
- `created`: the comment's date. `modified` (an edit within Isso's edit window):
  there is no earlier text to show as a revision, so it is counted ("edited in
  source") and the comment is imported with its final text at its creation date.
- Not kept, and counted: `website` and `email` (authors here have a name only),
  `likes`/`dislikes` (no votes here: the numbers are reported as skipped),
  `remote_addr`, `voters`, `notification`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path

from workers.importing.sniff import unreadable_database
from workers.importing.specs import (
    HELD,
    PENDING_IN_SOURCE,
    RETRACTED,
    CommentSpec,
    ImportFormatError,
    ImportSummary,
    NotThisFormat,
    Orphan,
    SourceUnreadable,
    ThreadSpec,
)
from workers.importing.xmlstream import Progress

COLUMNS = ("tid", "id", "parent", "created", "modified", "mode", "text", "author")
OPTIONAL = ("website", "email", "likes", "dislikes")
ACCEPTED, PENDING, DELETED = 1, 2, 4
BUSY_TIMEOUT = 2.0  # seconds to wait for Isso's write to finish before giving up


def read_isso(
    path: str | Path,
    summary: ImportSummary,
    *,
    base_url: str | None = None,
    progress: Progress | None = None,
) -> Iterator[ThreadSpec]:
    connection = _open(path)
    try:
        yield from _threads(connection, path, summary, (base_url or "").rstrip("/"), progress)
    except sqlite3.Error as error:
        raise SourceUnreadable(path, None, unreadable_database(error)) from None
    finally:
        connection.close()


def _open(path: str | Path) -> sqlite3.Connection:
    try:
        connection = sqlite3.connect(
            f"file:{Path(path).resolve()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT
        )
        columns = {row[1] for row in connection.execute("PRAGMA table_info(comments)")}
        threads = {row[1] for row in connection.execute("PRAGMA table_info(threads)")}
    except sqlite3.Error as error:
        raise SourceUnreadable(path, None, unreadable_database(error)) from None
    missing = [c for c in COLUMNS if c not in columns] + [
        f"threads.{c}" for c in ("id", "uri", "title") if c not in threads
    ]
    if missing:
        connection.close()
        raise NotThisFormat(
            path, None, f"not an Isso database: missing columns {', '.join(missing)}"
        )
    connection.row_factory = sqlite3.Row
    return connection


def _threads(
    connection: sqlite3.Connection,
    path: str | Path,
    summary: ImportSummary,
    base_url: str,
    progress: Progress | None,
) -> Iterator[ThreadSpec]:
    """One pass over the comments in thread order (Isso has no index on `tid`: a query
    per thread would scan the whole table each time); SQLite's sorter spills to disk,
    so memory holds one thread."""
    size = Path(path).stat().st_size
    total = connection.execute("SELECT count(*) FROM comments").fetchone()[0] or 1
    reported = 0
    columns = {row[1] for row in connection.execute("PRAGMA table_info(comments)")}
    extra = "".join(f", c.{c}" for c in OPTIONAL if c in columns)
    rows = connection.execute(
        f"SELECT {', '.join('c.' + c for c in COLUMNS)}{extra},"
        " t.id AS thread, t.uri AS uri, t.title AS title"
        " FROM comments c LEFT JOIN threads t ON t.id = c.tid ORDER BY c.tid, c.id"
    )
    seen = 0
    for tid, group in groupby(rows, key=lambda row: row["tid"]):
        first = None
        comments = []
        for row in group:
            first = first or row
            comments.append(_comment(path, row, summary))
        seen += len(comments)
        summary.found["threads"] += 1
        summary.found["comments"] += len(comments)
        if progress is not None:
            done = size * seen // total
            progress(done - reported)
            reported = done
        if first["thread"] is None:  # a comment whose thread row is gone
            summary.orphans.extend(
                Orphan(c.source_id, None, f"thread {tid} missing") for c in comments
            )
            continue
        uri = str(first["uri"] or "").strip()
        if not uri:
            raise ImportFormatError(path, None, f"thread {tid} has no uri")
        yield ThreadSpec(
            key=base_url + uri if base_url and uri.startswith("/") else uri,
            title=str(first["title"] or ""),
            at=None,
            comments=comments,
            source_id=f"thread {tid}",
        )


def _comment(path: str | Path, row: sqlite3.Row, summary: ImportSummary) -> CommentSpec:
    source_id = str(row["id"])
    keys = row.keys()
    try:
        at = datetime.fromtimestamp(float(row["created"]), UTC)
    except (TypeError, ValueError, OverflowError):
        raise ImportFormatError(
            path, None, f"comment {source_id}: unreadable created time {row['created']!r}"
        ) from None
    spec = CommentSpec(
        source_id=source_id,
        parent_source_id=None if row["parent"] is None else str(row["parent"]),
        author_name=str(row["author"] or ""),
        text=str(row["text"] or ""),
        at=at,
    )
    mode = row["mode"]
    if mode == PENDING:
        spec.state, spec.reason = HELD, PENDING_IN_SOURCE
    elif mode == DELETED:
        spec.state, spec.reason = RETRACTED, "deleted in source"
    elif mode != ACCEPTED:
        raise ImportFormatError(path, None, f"comment {source_id}: unknown mode {mode!r}")
    if row["modified"] is not None:
        summary.notes["edited in source (imported with its final text)"] += 1
    if "website" in keys and row["website"]:
        summary.notes["website not kept"] += 1
    if "email" in keys and row["email"]:
        summary.notes["email not kept"] += 1
    for vote in ("likes", "dislikes"):
        if vote in keys and row[vote]:
            summary.skipped[f"{vote} (no votes here)"] += int(row[vote])
    return spec
