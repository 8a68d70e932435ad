"""The moderation queue and the facts the rules read (issue 13).

Tables:
- `queue`: one row per comment awaiting review (its pending revision, the rules that
  fired, what readers see meanwhile), gone once approved, rejected, retracted or erased;
- `comments`: each comment's author (holds and decisions name the comment only);
- `authors`: per author, comments posted and review decisions (approved, rejected):
  the queue shows them, `first-comments` and `trusted_after` read them;
- `rulesets`: every change of the rules in force (RuleBook.Adopted), for the page.

Named queries below (`queue_page`, `author_facts`, `adoptions`); texts stay sealed
here and are opened through the visibility policy for moderators only.
"""

from __future__ import annotations

from typing import Any

from domain.model import Comment
from domain.moderation_rules import RuleBook
from projections.db import Sql
from projections.engine import Engine, Projection, Tables, handles, iso


class Moderation(Projection):
    name = "moderation"
    prefix = "md"
    ddl = {
        "queue": """CREATE TABLE IF NOT EXISTS {queue} (
            comment_id TEXT PRIMARY KEY,
            thread_id TEXT NOT NULL,
            author_id TEXT NOT NULL,
            revision INTEGER NOT NULL,
            shown_revision INTEGER,
            rules TEXT NOT NULL,
            held_at TEXT NOT NULL,
            position BIGINT NOT NULL)""",
        "comments": """CREATE TABLE IF NOT EXISTS {comments} (
            comment_id TEXT PRIMARY KEY,
            author_id TEXT NOT NULL,
            position BIGINT NOT NULL)""",
        "authors": """CREATE TABLE IF NOT EXISTS {authors} (
            author_id TEXT PRIMARY KEY,
            posted INTEGER NOT NULL DEFAULT 0,
            approved INTEGER NOT NULL DEFAULT 0,
            rejected INTEGER NOT NULL DEFAULT 0)""",
        "rulesets": """CREATE TABLE IF NOT EXISTS {rulesets} (
            position BIGINT PRIMARY KEY,
            at TEXT NOT NULL,
            actor_id TEXT NOT NULL,
            names TEXT NOT NULL,
            digest TEXT NOT NULL,
            source TEXT NOT NULL)""",
    }
    indexes = [
        "CREATE INDEX IF NOT EXISTS {queue}_oldest ON {queue} (position)",
        "CREATE INDEX IF NOT EXISTS {comments}_author ON {comments} (author_id, position)",
    ]

    @staticmethod
    def _count(sql: Sql, t: Tables, author_id: str, column: str) -> None:
        sql.execute(
            f"INSERT INTO {t.authors} (author_id, {column}) VALUES (?, 1)"
            f" ON CONFLICT (author_id) DO UPDATE SET {column} = {t.authors}.{column} + 1",
            (author_id,),
        )

    @staticmethod
    def _author_of(sql: Sql, t: Tables, comment_id: str) -> str | None:
        return sql.execute(
            f"SELECT author_id FROM {t.comments} WHERE comment_id = ?", (comment_id,)
        ).scalar()

    @handles(Comment.Posted)
    def posted(self, sql: Sql, t: Tables, e: Comment.Posted, pos: int) -> None:
        sql.execute(
            f"INSERT INTO {t.comments} (comment_id, author_id, position) VALUES (?, ?, ?)",
            (str(e.originator_id), str(e.author_id), pos),
        )
        self._count(sql, t, str(e.author_id), "posted")

    @handles(Comment.Held)
    def held(self, sql: Sql, t: Tables, e: Comment.Held, pos: int) -> None:
        cid = str(e.originator_id)
        author_id = self._author_of(sql, t, cid) or ""
        sql.execute(f"DELETE FROM {t.queue} WHERE comment_id = ?", (cid,))
        sql.execute(
            f"INSERT INTO {t.queue} (comment_id, thread_id, author_id, revision,"
            " shown_revision, rules, held_at, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                cid,
                str(e.thread_id),
                author_id,
                e.revision,
                e.shown_revision,
                ",".join(e.rules),
                iso(e.timestamp),
                pos,
            ),
        )

    def _decided(self, sql: Sql, t: Tables, e: Any, column: str) -> None:
        cid = str(e.originator_id)
        sql.execute(f"DELETE FROM {t.queue} WHERE comment_id = ?", (cid,))
        author_id = self._author_of(sql, t, cid)
        if author_id is not None:
            self._count(sql, t, author_id, column)

    @handles(Comment.Approved)
    def approved(self, sql: Sql, t: Tables, e: Comment.Approved, pos: int) -> None:
        self._decided(sql, t, e, "approved")

    @handles(Comment.Rejected)
    def rejected(self, sql: Sql, t: Tables, e: Comment.Rejected, pos: int) -> None:
        self._decided(sql, t, e, "rejected")

    @handles(Comment.Retracted, Comment.Erased)
    def withdrawn(self, sql: Sql, t: Tables, e: Any, pos: int) -> None:
        sql.execute(f"DELETE FROM {t.queue} WHERE comment_id = ?", (str(e.originator_id),))

    @handles(RuleBook.Adopted)
    def adopted(self, sql: Sql, t: Tables, e: RuleBook.Adopted, pos: int) -> None:
        sql.execute(
            f"INSERT INTO {t.rulesets} (position, at, actor_id, names, digest, source)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (pos, iso(e.timestamp), str(e.actor_id), ",".join(e.names), e.digest, e.source),
        )


# ---- named queries -----------------------------------------------------------------------


def author_counts(engine: Engine, author_id: str) -> dict[str, int]:
    t = engine.tables("moderation")
    row = (
        engine.store.reader()
        .execute(
            f"SELECT posted, approved, rejected FROM {t.authors} WHERE author_id = ?",
            (author_id,),
        )
        .one()
    )
    return dict(row) if row else {"posted": 0, "approved": 0, "rejected": 0}


def recent_texts(
    engine: Engine, author_id: str, limit: int, exclude: str | None
) -> list[tuple[str, str]]:
    """(comment id, sealed latest text) of the author's last `limit` comments, newest
    first (`exclude`: a comment left out)."""
    if limit <= 0:
        return []
    t = engine.tables("moderation")
    rv = engine.tables("revisions").revisions
    sql = engine.store.reader()
    ids = [
        r["comment_id"]
        for r in sql.execute(
            f"SELECT comment_id FROM {t.comments} WHERE author_id = ?"
            " ORDER BY position DESC LIMIT ?",
            (author_id, limit + 1),
        ).all()
        if r["comment_id"] != exclude
    ][:limit]
    if not ids:
        return []
    marks = ", ".join("?" * len(ids))
    latest: dict[str, tuple[int, str | None]] = {}
    for r in sql.execute(
        f"SELECT comment_id, version, text FROM {rv} WHERE comment_id IN ({marks})"
        " AND kind IN ('posted', 'edited')",
        ids,
    ).all():
        if r["comment_id"] not in latest or latest[r["comment_id"]][0] < r["version"]:
            latest[r["comment_id"]] = (r["version"], r["text"])
    return [(c, latest[c][1]) for c in ids if c in latest and latest[c][1] is not None]


def queue_rows(engine: Engine, limit: int, after: int | None = None) -> list[dict[str, Any]]:
    """Comments awaiting review, oldest hold first, with their authors' counts."""
    t = engine.tables("moderation")
    where, params = ("WHERE q.position > ?", (after,)) if after is not None else ("", ())
    return (
        engine.store.reader()
        .execute(
            f"SELECT q.*, COALESCE(a.approved, 0) AS approved, COALESCE(a.rejected, 0) AS rejected,"
            f" COALESCE(a.posted, 0) AS posted FROM {t.queue} q"
            f" LEFT JOIN {t.authors} a ON a.author_id = q.author_id {where}"
            " ORDER BY q.position LIMIT ?",
            (*params, limit),
        )
        .all()
    )


def queue_size(engine: Engine) -> int:
    t = engine.tables("moderation")
    return int(engine.store.reader().execute(f"SELECT COUNT(*) FROM {t.queue}").scalar() or 0)


def pending_in_thread(engine: Engine, thread_id: str) -> list[dict[str, Any]]:
    t = engine.tables("moderation")
    return (
        engine.store.reader()
        .execute(f"SELECT * FROM {t.queue} WHERE thread_id = ? ORDER BY position", (thread_id,))
        .all()
    )


def adoptions(engine: Engine, limit: int = 20) -> list[dict[str, Any]]:
    t = engine.tables("moderation")
    return (
        engine.store.reader()
        .execute(f"SELECT * FROM {t.rulesets} ORDER BY position DESC LIMIT ?", (limit,))
        .all()
    )
