"""Comment revisions: every version of every comment, and every change of state.

History, diff and audit pages read this. Version N is the comment aggregate's
version N, so a revision is addressed the same way as an optimistic edit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.model import Comment
from projections.db import Sql, insert_rows
from projections.engine import BatchProjection, Tables, handles, iso

REVISION_COLUMNS = (
    "comment_id", "version", "thread_id", "kind", "text", "actor_id", "at", "reason",
    "position",
)  # fmt: skip


class _Page:
    def __init__(self, sql: Sql, t: Tables):
        self.sql, self.t = sql, t
        self.rows: list[tuple] = []


class Revisions(BatchProjection):
    """A revision per event: the page's rows are inserted at its end, in one statement."""

    name = "revisions"
    prefix = "rv"
    ddl = {
        "revisions": """CREATE TABLE IF NOT EXISTS {revisions} (
            comment_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            thread_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            text TEXT,
            actor_id TEXT NOT NULL,
            at TEXT NOT NULL,
            reason TEXT,
            position BIGINT NOT NULL,
            PRIMARY KEY (comment_id, version))""",
    }
    indexes = [
        "CREATE INDEX IF NOT EXISTS {revisions}_thread ON {revisions} (thread_id, position)",
    ]

    def begin_page(self, sql: Sql, t: Tables, events: Sequence[tuple[int, Any]]) -> _Page:
        return _Page(sql, t)  # every event adds a row: nothing to read first

    def flush(self, page: _Page) -> None:
        insert_rows(page.sql, page.t.revisions, REVISION_COLUMNS, page.rows)

    @staticmethod
    def _add(page: _Page, e, pos: int, kind: str, text: str | None, reason: str | None) -> None:
        page.rows.append(
            (
                str(e.originator_id),
                e.originator_version,
                str(e.thread_id),
                kind,
                text,
                str(e.actor_id),
                iso(e.timestamp),
                reason,
                pos,
            )
        )

    @handles(Comment.Posted)
    def posted(self, page: _Page, e: Comment.Posted, pos: int) -> None:
        self._add(page, e, pos, "posted", e.text, None)

    @handles(Comment.Edited)
    def edited(self, page: _Page, e: Comment.Edited, pos: int) -> None:
        self._add(page, e, pos, "edited", e.text, e.reason)

    @handles(Comment.Retracted)
    def retracted(self, page: _Page, e: Comment.Retracted, pos: int) -> None:
        self._add(page, e, pos, "retracted", None, e.reason)

    @handles(Comment.Hidden)
    def hidden(self, page: _Page, e: Comment.Hidden, pos: int) -> None:
        self._add(page, e, pos, "hidden", None, e.reason)

    @handles(Comment.Restored)
    def restored(self, page: _Page, e: Comment.Restored, pos: int) -> None:
        self._add(page, e, pos, "restored", None, e.reason)
