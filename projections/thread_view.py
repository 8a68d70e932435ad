"""Thread view and thread list: one row per thread, one row per comment.

Rows are laid out for the web's reads: `seq` is the position of the post, `path`
the zero-padded seqs from the root, so a subtree is one index range and
`ORDER BY path` is posting order depth-first. Counts are kept on the rows so a
page never counts a tree.
"""

from __future__ import annotations

from domain.model import HIDDEN, RETRACTED, VISIBLE, Author, Comment, Thread
from projections.db import Sql
from projections.engine import Projection, Tables, handles, iso

SEQ_WIDTH = 12


def seq_key(position: int) -> str:
    return f"{position:0{SEQ_WIDTH}d}"


class ThreadView(Projection):
    name = "threads"
    prefix = "tv"
    ddl = {
        "threads": """CREATE TABLE IF NOT EXISTS {threads} (
            thread_id TEXT PRIMARY KEY,
            thread_key TEXT UNIQUE,
            title TEXT NOT NULL,
            body TEXT,
            locked INTEGER NOT NULL DEFAULT 0,
            opened_by TEXT NOT NULL,
            opened_at TEXT NOT NULL,
            comment_count INTEGER NOT NULL DEFAULT 0,
            visible_count INTEGER NOT NULL DEFAULT 0,
            top_level_count INTEGER NOT NULL DEFAULT 0,
            last_activity_at TEXT NOT NULL,
            last_position BIGINT NOT NULL,
            created_position BIGINT NOT NULL)""",
        "comments": """CREATE TABLE IF NOT EXISTS {comments} (
            comment_id TEXT PRIMARY KEY,
            thread_id TEXT NOT NULL,
            parent_id TEXT,
            root_seq BIGINT NOT NULL,
            seq BIGINT NOT NULL,
            depth INTEGER NOT NULL,
            path TEXT NOT NULL,
            author_id TEXT,
            author_name TEXT,
            text TEXT,
            state TEXT NOT NULL,
            state_reason TEXT,
            posted_at TEXT NOT NULL,
            edited_at TEXT,
            edit_count INTEGER NOT NULL DEFAULT 0,
            version INTEGER NOT NULL,
            reply_count INTEGER NOT NULL DEFAULT 0,
            descendant_count INTEGER NOT NULL DEFAULT 0,
            last_position BIGINT NOT NULL)""",
        # Hidden comments keep their text and author for moderators, out of the public row.
        "hidden": """CREATE TABLE IF NOT EXISTS {hidden} (
            comment_id TEXT PRIMARY KEY,
            author_id TEXT,
            author_name TEXT,
            text TEXT)""",
        "authors": """CREATE TABLE IF NOT EXISTS {authors} (
            author_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL)""",
    }
    indexes = [
        "CREATE INDEX IF NOT EXISTS {comments}_top ON {comments} (thread_id, depth, seq)",
        "CREATE INDEX IF NOT EXISTS {comments}_tree ON {comments} (thread_id, root_seq, path)",
        "CREATE UNIQUE INDEX IF NOT EXISTS {comments}_seq ON {comments} (thread_id, seq)",
        "CREATE INDEX IF NOT EXISTS {threads}_activity ON {threads} (last_activity_at, thread_id)",
    ]

    # ---- authors (names for the comment rows) ------------------------------------

    @handles(Author.Registered)
    def author_registered(self, sql: Sql, t: Tables, e: Author.Registered, pos: int) -> None:
        sql.execute(
            f"INSERT INTO {t.authors} (author_id, name, role) VALUES (?, ?, ?)",
            (str(e.originator_id), e.name, e.role),
        )

    # ---- threads -----------------------------------------------------------------

    @handles(Thread.Opened)
    def thread_opened(self, sql: Sql, t: Tables, e: Thread.Opened, pos: int) -> None:
        at = iso(e.timestamp)
        sql.execute(
            f"INSERT INTO {t.threads} (thread_id, thread_key, title, body, locked, opened_by,"
            " opened_at, last_activity_at, last_position, created_position)"
            " VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?, ?)",
            (str(e.originator_id), e.key, e.title, e.body, str(e.actor_id), at, at, pos, pos),
        )

    def _touch_thread(
        self, sql: Sql, t: Tables, thread_id, e, pos: int, changes: str = "", params: tuple = ()
    ) -> None:
        sql.execute(
            f"UPDATE {t.threads} SET last_position = ?,"
            " last_activity_at = CASE WHEN last_activity_at < ? THEN ? ELSE last_activity_at END"
            f"{changes} WHERE thread_id = ?",
            (pos, iso(e.timestamp), iso(e.timestamp), *params, str(thread_id)),
        )

    @handles(Thread.Retitled)
    def thread_retitled(self, sql: Sql, t: Tables, e: Thread.Retitled, pos: int) -> None:
        self._touch_thread(sql, t, e.originator_id, e, pos, ", title = ?", (e.title,))

    @handles(Thread.Locked)
    def thread_locked(self, sql: Sql, t: Tables, e: Thread.Locked, pos: int) -> None:
        self._touch_thread(sql, t, e.originator_id, e, pos, ", locked = 1")

    @handles(Thread.Unlocked)
    def thread_unlocked(self, sql: Sql, t: Tables, e: Thread.Unlocked, pos: int) -> None:
        self._touch_thread(sql, t, e.originator_id, e, pos, ", locked = 0")

    # ---- comments ----------------------------------------------------------------

    @handles(Comment.Posted)
    def comment_posted(self, sql: Sql, t: Tables, e: Comment.Posted, pos: int) -> None:
        thread_id = str(e.thread_id)
        if e.parent_id is None:
            root_seq, depth, path, ancestors = pos, 0, seq_key(pos), []
        else:
            parent = sql.execute(
                f"SELECT root_seq, depth, path FROM {t.comments} WHERE comment_id = ?",
                (str(e.parent_id),),
            ).one()
            if parent is None:
                raise LookupError(f"parent {e.parent_id} of comment {e.originator_id} unknown")
            root_seq, depth = parent["root_seq"], parent["depth"] + 1
            path = f"{parent['path']}/{seq_key(pos)}"
            ancestors = [int(part) for part in parent["path"].split("/")]
        name = sql.execute(
            f"SELECT name FROM {t.authors} WHERE author_id = ?", (str(e.author_id),)
        ).scalar()
        sql.execute(
            f"INSERT INTO {t.comments} (comment_id, thread_id, parent_id, root_seq, seq, depth,"
            " path, author_id, author_name, text, state, posted_at, version, last_position)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                str(e.originator_id),
                thread_id,
                e.parent_id and str(e.parent_id),
                root_seq,
                pos,
                depth,
                path,
                str(e.author_id),
                name,
                e.text,
                VISIBLE,
                iso(e.timestamp),
                e.originator_version,
                pos,
            ),
        )
        if ancestors:
            marks = ", ".join("?" * len(ancestors))
            sql.execute(
                f"UPDATE {t.comments} SET descendant_count = descendant_count + 1,"
                " reply_count = reply_count + CASE WHEN seq = ? THEN 1 ELSE 0 END"
                f" WHERE thread_id = ? AND seq IN ({marks})",
                (ancestors[-1], thread_id, *ancestors),
            )
        self._touch_thread(
            sql,
            t,
            thread_id,
            e,
            pos,
            ", comment_count = comment_count + 1, visible_count = visible_count + 1,"
            " top_level_count = top_level_count + ?",
            (1 if depth == 0 else 0,),
        )

    def _update_comment(
        self, sql: Sql, t: Tables, e, pos: int, changes: str, params: tuple = ()
    ) -> None:
        sql.execute(
            f"UPDATE {t.comments} SET version = ?, last_position = ?, {changes}"
            " WHERE comment_id = ?",
            (e.originator_version, pos, *params, str(e.originator_id)),
        )

    def _state(self, sql: Sql, t: Tables, comment_id) -> str:
        return sql.execute(
            f"SELECT state FROM {t.comments} WHERE comment_id = ?", (str(comment_id),)
        ).scalar()

    @handles(Comment.Edited)
    def comment_edited(self, sql: Sql, t: Tables, e: Comment.Edited, pos: int) -> None:
        at = iso(e.timestamp)
        if self._state(sql, t, e.originator_id) == HIDDEN:
            sql.execute(
                f"UPDATE {t.hidden} SET text = ? WHERE comment_id = ?",
                (e.text, str(e.originator_id)),
            )
            changes = "edited_at = ?, edit_count = edit_count + 1"
            self._update_comment(sql, t, e, pos, changes, (at,))
        else:
            changes = "text = ?, edited_at = ?, edit_count = edit_count + 1"
            self._update_comment(sql, t, e, pos, changes, (e.text, at))
        self._touch_thread(sql, t, e.thread_id, e, pos)

    @handles(Comment.Retracted)
    def comment_retracted(self, sql: Sql, t: Tables, e: Comment.Retracted, pos: int) -> None:
        # The row stays as a placeholder so its replies keep their place; the
        # revisions projection keeps the history.
        was = self._state(sql, t, e.originator_id)
        sql.execute(f"DELETE FROM {t.hidden} WHERE comment_id = ?", (str(e.originator_id),))
        self._update_comment(
            sql,
            t,
            e,
            pos,
            "state = ?, state_reason = ?, text = NULL, author_id = NULL, author_name = NULL",
            (RETRACTED, e.reason),
        )
        self._touch_thread(
            sql,
            t,
            e.thread_id,
            e,
            pos,
            ", visible_count = visible_count - ?",
            (1 if was == VISIBLE else 0,),
        )

    @handles(Comment.Hidden)
    def comment_hidden(self, sql: Sql, t: Tables, e: Comment.Hidden, pos: int) -> None:
        sql.execute(
            f"INSERT INTO {t.hidden} (comment_id, author_id, author_name, text)"
            f" SELECT comment_id, author_id, author_name, text FROM {t.comments}"
            " WHERE comment_id = ?",
            (str(e.originator_id),),
        )
        self._update_comment(
            sql,
            t,
            e,
            pos,
            "state = ?, state_reason = ?, text = NULL, author_id = NULL, author_name = NULL",
            (HIDDEN, e.reason),
        )
        self._touch_thread(sql, t, e.thread_id, e, pos, ", visible_count = visible_count - 1")

    @handles(Comment.Restored)
    def comment_restored(self, sql: Sql, t: Tables, e: Comment.Restored, pos: int) -> None:
        kept = sql.execute(
            f"SELECT author_id, author_name, text FROM {t.hidden} WHERE comment_id = ?",
            (str(e.originator_id),),
        ).one()
        sql.execute(f"DELETE FROM {t.hidden} WHERE comment_id = ?", (str(e.originator_id),))
        self._update_comment(
            sql,
            t,
            e,
            pos,
            "state = ?, state_reason = NULL, author_id = ?, author_name = ?, text = ?",
            (VISIBLE, kept["author_id"], kept["author_name"], kept["text"]),
        )
        self._touch_thread(sql, t, e.thread_id, e, pos, ", visible_count = visible_count + 1")
