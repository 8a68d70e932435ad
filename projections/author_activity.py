"""Author activity: per author, comments posted, edits made, last active."""

from __future__ import annotations

from domain.model import Author, Comment
from projections.db import Sql
from projections.engine import Projection, Tables, handles, iso


class AuthorActivity(Projection):
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

    @handles(Author.Registered)
    def registered(self, sql: Sql, t: Tables, e: Author.Registered, pos: int) -> None:
        at = iso(e.timestamp)
        sql.execute(
            f"INSERT INTO {t.authors} (author_id, name, role, registered_at, last_active_at,"
            " last_position) VALUES (?, ?, ?, ?, ?, ?)",
            (str(e.originator_id), e.name, e.role, at, at, pos),
        )

    def _count(self, sql: Sql, t: Tables, actor_id, e, pos: int, column: str) -> None:
        at = iso(e.timestamp)
        sql.execute(
            f"UPDATE {t.authors} SET {column} = {column} + 1, last_position = ?,"
            " last_active_at = CASE WHEN last_active_at < ? THEN ? ELSE last_active_at END"
            " WHERE author_id = ?",
            (pos, at, at, str(actor_id)),
        )

    @handles(Comment.Posted)
    def posted(self, sql: Sql, t: Tables, e: Comment.Posted, pos: int) -> None:
        self._count(sql, t, e.author_id, e, pos, "comments_posted")

    @handles(Comment.Edited)
    def edited(self, sql: Sql, t: Tables, e: Comment.Edited, pos: int) -> None:
        self._count(sql, t, e.actor_id, e, pos, "edits_made")

    @handles(Comment.Retracted)
    def retracted(self, sql: Sql, t: Tables, e: Comment.Retracted, pos: int) -> None:
        self._count(sql, t, e.actor_id, e, pos, "retractions")
