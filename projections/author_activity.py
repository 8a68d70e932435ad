"""Author activity: per author, comments posted, edits made, last active.

A page of events is summed in memory, per author, and written at its end: one
INSERT per registration and one UPDATE per active author, whatever the page's size.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.model import Author, Comment
from projections.db import Sql, insert_rows
from projections.engine import BatchProjection, Tables, handles, iso

COUNTED = ("comments_posted", "edits_made", "retractions")


class _Activity:
    """What a page did for one author: counts to add, latest position and time."""

    __slots__ = ("at", "comments_posted", "edits_made", "position", "retractions")

    def __init__(self) -> None:
        self.comments_posted = self.edits_made = self.retractions = 0
        self.position = 0
        self.at = ""

    def count(self, column: str, e: Any, pos: int) -> None:
        setattr(self, column, getattr(self, column) + 1)
        self.position = pos
        at = iso(e.timestamp)
        if self.at < at:
            self.at = at


class _ActivityPage:
    def __init__(self, sql: Sql, t: Tables):
        self.sql, self.t = sql, t
        self.registered: dict[str, dict] = {}  # rows to insert, activity folded in
        self.activity: dict[str, _Activity] = {}  # authors registered before the page

    def count(self, actor_id: Any, column: str, e: Any, pos: int) -> None:
        author_id = str(actor_id)
        row = self.registered.get(author_id)
        if row is not None:
            row[column] += 1
            row["last_position"] = pos
            at = iso(e.timestamp)
            if row["last_active_at"] < at:
                row["last_active_at"] = at
            return
        activity = self.activity.get(author_id)
        if activity is None:
            activity = self.activity[author_id] = _Activity()
        activity.count(column, e, pos)


AUTHOR_COLUMNS = (
    "author_id", "name", "role", "registered_at", "comments_posted", "edits_made",
    "retractions", "last_active_at", "last_position",
)  # fmt: skip


class AuthorActivity(BatchProjection):
    name = "authors"
    prefix = "aa"
    ddl = {
        "authors": """CREATE TABLE IF NOT EXISTS {authors} (
            author_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL,
            registered_at TEXT NOT NULL,
            comments_posted INTEGER NOT NULL DEFAULT 0,
            edits_made INTEGER NOT NULL DEFAULT 0,
            retractions INTEGER NOT NULL DEFAULT 0,
            last_active_at TEXT NOT NULL,
            last_position BIGINT NOT NULL)""",
    }

    def begin_page(self, sql: Sql, t: Tables, events: Sequence[tuple[int, Any]]) -> _ActivityPage:
        return _ActivityPage(sql, t)  # counts change by deltas: nothing to read first

    def flush(self, page: _ActivityPage) -> None:
        sql, t = page.sql, page.t
        if page.registered:
            rows = [tuple(row[c] for c in AUTHOR_COLUMNS) for row in page.registered.values()]
            insert_rows(sql, t.authors, AUTHOR_COLUMNS, rows)
        if page.activity:
            sql.executemany(
                f"UPDATE {t.authors} SET"
                + "".join(f" {c} = {c} + ?," for c in COUNTED)
                + " last_position = ?,"
                " last_active_at = CASE WHEN last_active_at < ? THEN ? ELSE last_active_at END"
                " WHERE author_id = ?",
                [
                    (*(getattr(a, c) for c in COUNTED), a.position, a.at, a.at, author_id)
                    for author_id, a in page.activity.items()
                ],
            )

    @handles(Author.Registered)
    def registered(self, page: _ActivityPage, e: Author.Registered, pos: int) -> None:
        author_id = str(e.originator_id)
        if author_id in page.registered:
            raise ValueError(f"author {author_id} registered twice")
        at = iso(e.timestamp)
        page.registered[author_id] = {
            "author_id": author_id,
            "name": e.name,
            "role": e.role,
            "registered_at": at,
            "comments_posted": 0,
            "edits_made": 0,
            "retractions": 0,
            "last_active_at": at,
            "last_position": pos,
        }

    @handles(Comment.Posted)
    def posted(self, page: _ActivityPage, e: Comment.Posted, pos: int) -> None:
        page.count(e.author_id, "comments_posted", e, pos)

    @handles(Comment.Edited)
    def edited(self, page: _ActivityPage, e: Comment.Edited, pos: int) -> None:
        page.count(e.actor_id, "edits_made", e, pos)

    @handles(Comment.Retracted)
    def retracted(self, page: _ActivityPage, e: Comment.Retracted, pos: int) -> None:
        page.count(e.actor_id, "retractions", e, pos)
