"""Replies by the author they answer: one row per reply, keyed by the author of the
comment it replies to, for the "replies to one author" Atom feed (projections/feeds.py).

Ids and positions only (no content, nothing sealed): whether a reply and the comment it
answers may be shown is decided at read by the visibility policy, like every view.
A page is applied in memory: the parents it names are read first in one query.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.model import Comment
from projections.db import Sql, insert_rows
from projections.engine import BatchProjection, Tables, handles

REPLY_COLUMNS = ("position", "comment_id", "thread_id", "parent_id", "parent_author_id")


class _RepliesPage:
    def __init__(self, sql: Sql, t: Tables):
        self.sql, self.t = sql, t
        self.authors: dict[str, str] = {}  # comment id -> author id (known or new)
        self.new_authors: list[tuple[str, str]] = []
        self.replies: list[tuple] = []


class Replies(BatchProjection):
    name = "replies"
    prefix = "rp"
    ddl = {
        "authors": """CREATE TABLE IF NOT EXISTS {authors} (
            comment_id TEXT PRIMARY KEY,
            author_id TEXT NOT NULL)""",
        "replies": """CREATE TABLE IF NOT EXISTS {replies} (
            position BIGINT PRIMARY KEY,
            comment_id TEXT NOT NULL,
            thread_id TEXT NOT NULL,
            parent_id TEXT NOT NULL,
            parent_author_id TEXT NOT NULL)""",
    }
    read_indexes = [
        "CREATE INDEX IF NOT EXISTS {replies}_to ON {replies} (parent_author_id, position)",
    ]

    def begin_page(self, sql: Sql, t: Tables, events: Sequence[tuple[int, Any]]) -> _RepliesPage:
        page = _RepliesPage(sql, t)
        parents = sorted({str(e.parent_id) for _, e in events if e.parent_id is not None})
        for start in range(0, len(parents), 500):
            part = parents[start : start + 500]
            marks = ", ".join("?" * len(part))
            for row in sql.execute(
                f"SELECT comment_id, author_id FROM {t.authors} WHERE comment_id IN ({marks})",
                part,
            ).all():
                page.authors[row["comment_id"]] = row["author_id"]
        return page

    def flush(self, page: _RepliesPage) -> None:
        if page.new_authors:
            insert_rows(page.sql, page.t.authors, ("comment_id", "author_id"), page.new_authors)
        if page.replies:
            insert_rows(page.sql, page.t.replies, REPLY_COLUMNS, page.replies)

    @handles(Comment.Posted)
    def posted(self, page: _RepliesPage, e: Comment.Posted, pos: int) -> None:
        comment_id, author_id = str(e.originator_id), str(e.author_id)
        page.authors[comment_id] = author_id
        page.new_authors.append((comment_id, author_id))
        if e.parent_id is None:
            return
        parent_author = page.authors.get(str(e.parent_id))
        if parent_author is None:
            raise LookupError(f"reply {comment_id} names unknown parent {e.parent_id}")
        page.replies.append((pos, comment_id, str(e.thread_id), str(e.parent_id), parent_author))
