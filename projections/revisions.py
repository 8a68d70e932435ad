"""Comment revisions: every version of every comment, and every change of state.

History, diff and audit pages read this. Version N is the comment aggregate's
version N, so a revision is addressed the same way as an optimistic edit.
"""

from __future__ import annotations

from domain.model import Comment
from projections.db import Sql
from projections.engine import Projection, Tables, handles, iso


class Revisions(Projection):
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

    def _insert(
        self, sql: Sql, t: Tables, e, pos: int, kind: str, text: str | None, reason: str | None
    ) -> None:
        sql.execute(
            f"INSERT INTO {t.revisions} (comment_id, version, thread_id, kind, text, actor_id,"
            " at, reason, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            ),
        )

    @handles(Comment.Posted)
    def posted(self, sql: Sql, t: Tables, e: Comment.Posted, pos: int) -> None:
        self._insert(sql, t, e, pos, "posted", e.text, None)

    @handles(Comment.Edited)
    def edited(self, sql: Sql, t: Tables, e: Comment.Edited, pos: int) -> None:
        self._insert(sql, t, e, pos, "edited", e.text, e.reason)

    @handles(Comment.Retracted)
    def retracted(self, sql: Sql, t: Tables, e: Comment.Retracted, pos: int) -> None:
        self._insert(sql, t, e, pos, "retracted", None, e.reason)

    @handles(Comment.Hidden)
    def hidden(self, sql: Sql, t: Tables, e: Comment.Hidden, pos: int) -> None:
        self._insert(sql, t, e, pos, "hidden", None, e.reason)

    @handles(Comment.Restored)
    def restored(self, sql: Sql, t: Tables, e: Comment.Restored, pos: int) -> None:
        self._insert(sql, t, e, pos, "restored", None, e.reason)
