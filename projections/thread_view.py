"""Thread view and thread list: one row per thread, one row per comment.

Rows are laid out for the web's reads: `seq` is the position of the post, `path`
the zero-padded seqs from the root, so a subtree is one index range and
`ORDER BY path` is posting order depth-first. Counts are kept on the rows so a
page never counts a tree.

A page of events is applied in memory (the rows it touches are read first, in one
query) and written at its end with a few `executemany`: counts change by deltas, so
the result does not depend on where pages begin and end.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from domain.model import Author, Comment
from projections import thread_rows
from projections.db import Sql, insert_rows
from projections.engine import BatchProjection, Tables, handles
from projections.thread_rows import EVENT_TYPES, record_of


class ThreadView(BatchProjection):
    name = "threads"
    prefix = "tv"
    ddl = {
        "threads": """CREATE TABLE IF NOT EXISTS {threads} (
            thread_id TEXT PRIMARY KEY,
            thread_key TEXT UNIQUE,
            title TEXT NOT NULL,
            body TEXT,
            locked INTEGER NOT NULL DEFAULT 0,
            lock_reason TEXT,
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
            text_version INTEGER NOT NULL,
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
        # Comments awaiting review before they were ever approved (and replies waiting
        # for them): out of the rows, their rows kept here until approved (issue 13).
        "held": """CREATE TABLE IF NOT EXISTS {held} (
            comment_id TEXT PRIMARY KEY,
            parent_id TEXT,
            held INTEGER NOT NULL,
            row_json TEXT NOT NULL)""",
    }
    indexes = [
        # The handlers update ancestors' counts by (thread, seq).
        "CREATE UNIQUE INDEX IF NOT EXISTS {comments}_seq ON {comments} (thread_id, seq)",
    ]
    read_indexes = [
        "CREATE INDEX IF NOT EXISTS {comments}_top ON {comments} (thread_id, depth, seq)",
        "CREATE INDEX IF NOT EXISTS {comments}_tree ON {comments} (thread_id, root_seq, path)",
        "CREATE INDEX IF NOT EXISTS {threads}_activity ON {threads} (last_activity_at, thread_id)",
    ]

    # ---- a page of events, buffered ----------------------------------------------

    def begin_page(self, sql: Sql, t: Tables, events: Sequence[tuple[int, Any]]) -> _ThreadViewPage:
        """Read, in a query or two, the rows this page's events refer to."""
        page = _ThreadViewPage(sql, t)
        wanted_comments: set[str] = set()
        wanted_authors: set[str] = set()
        posted: set[str] = set()
        registered: set[str] = set()
        for _, e in events:
            kind = type(e)
            if kind is Comment.Posted:
                if e.parent_id is not None and str(e.parent_id) not in posted:
                    wanted_comments.add(str(e.parent_id))
                if str(e.author_id) not in registered:
                    wanted_authors.add(str(e.author_id))
                posted.add(str(e.originator_id))
            elif kind is Author.Registered:
                registered.add(str(e.originator_id))
            elif kind in _CHANGES and str(e.originator_id) not in posted:
                wanted_comments.add(str(e.originator_id))
        for row in _select_in(sql, f"SELECT * FROM {t.comments} WHERE comment_id", wanted_comments):
            page.comments[row["comment_id"]] = row
        query = f"SELECT author_id, name FROM {t.authors} WHERE author_id"
        for row in _select_in(sql, query, wanted_authors):
            page.authors[row["author_id"]] = row["name"]
        return page

    def flush(self, page: _ThreadViewPage) -> None:
        sql, t = page.sql, page.t
        if page.removed:  # before the inserts: a row removed and put back is inserted anew
            sql.executemany(
                f"DELETE FROM {t.comments} WHERE comment_id = ?", [(c,) for c in page.removed]
            )
        if page.stashes:
            sql.executemany(
                f"DELETE FROM {t.held} WHERE comment_id = ?", [(c,) for c in page.stashes]
            )
            kept = [
                (cid, entry[0]["parent_id"], int(entry[1]), orjson.dumps(entry[0]).decode())
                for cid, entry in page.stashes.items()
                if entry is not None
            ]
            if kept:
                sql.executemany(
                    f"INSERT INTO {t.held} (comment_id, parent_id, held, row_json)"
                    " VALUES (?, ?, ?, ?)",
                    kept,
                )
        if page.new_authors:
            sql.executemany(
                f"INSERT INTO {t.authors} (author_id, name, role) VALUES (?, ?, ?)",
                page.new_authors,
            )
        if page.new_threads:
            rows = [tuple(row[c] for c in THREAD_COLUMNS) for row in page.new_threads.values()]
            insert_rows(sql, t.threads, THREAD_COLUMNS, rows)
        if page.new_comments:
            insert_rows(
                sql,
                t.comments,
                COMMENT_COLUMNS,
                [tuple(row[c] for c in COMMENT_COLUMNS) for row in page.new_comments.values()],
            )
        if page.changed:
            sql.executemany(
                f"UPDATE {t.comments} SET {', '.join(c + ' = ?' for c in CHANGED_COLUMNS)}"
                " WHERE comment_id = ?",
                [(*(page.comments[cid][c] for c in CHANGED_COLUMNS), cid) for cid in page.changed],
            )
        if page.counts:
            sql.executemany(
                f"UPDATE {t.comments} SET reply_count = reply_count + ?,"
                " descendant_count = descendant_count + ? WHERE thread_id = ? AND seq = ?",
                [(r, d, thread_id, seq) for (thread_id, seq), (r, d) in page.counts.items()],
            )
        if page.threads:
            sql.executemany(
                f"UPDATE {t.threads} SET comment_count = comment_count + ?,"
                " visible_count = visible_count + ?, top_level_count = top_level_count + ?,"
                " last_position = ?,"
                " last_activity_at = CASE WHEN last_activity_at < ? THEN ? ELSE last_activity_at"
                " END, title = COALESCE(?, title), locked = COALESCE(?, locked),"
                " lock_reason = CASE WHEN CAST(? AS INTEGER) IS NULL THEN lock_reason"
                " ELSE ? END"
                " WHERE thread_id = ?",
                [
                    (
                        c["comment_count"],
                        c["visible_count"],
                        c["top_level_count"],
                        c["last_position"],
                        c["last_activity_at"],
                        c["last_activity_at"],
                        c["title"],
                        c["locked"],
                        c["locked"],
                        c["lock_reason"],
                        thread_id,
                    )
                    for thread_id, c in page.threads.items()
                ],
            )
        if page.hidden:
            sql.executemany(
                f"DELETE FROM {t.hidden} WHERE comment_id = ?", [(cid,) for cid in page.hidden]
            )
            kept = [
                (cid, row["author_id"], row["author_name"], row["text"])
                for cid, row in page.hidden.items()
                if row is not None
            ]
            if kept:
                sql.executemany(
                    f"INSERT INTO {t.hidden} (comment_id, author_id, author_name, text)"
                    " VALUES (?, ?, ?, ?)",
                    kept,
                )

    # ---- authors (names for the comment rows) ------------------------------------

    @handles(Author.Registered)
    def author_registered(self, page: _ThreadViewPage, e: Author.Registered, pos: int) -> None:
        author_id = str(e.originator_id)
        page.new_authors.append((author_id, e.name, e.role))
        page.authors[author_id] = e.name

    # ---- threads and comments: the rows are built by projections/thread_rows.py ------

    @handles(*EVENT_TYPES)
    def thread_event(self, page: _ThreadViewPage, e: Any, pos: int) -> None:
        found = record_of(e, page.authors.get)
        if found is not None:
            thread_rows.apply(page, found[0], found[1], pos)


_CHANGES = (
    Comment.Edited,
    Comment.Retracted,
    Comment.Hidden,
    Comment.Restored,
    Comment.Erased,
    Comment.RevisionErased,
    Comment.RevisionSuppressed,
    Comment.RevisionUnsuppressed,
    Comment.Held,
    Comment.Approved,
    Comment.Rejected,
)

COMMENT_COLUMNS = (
    "comment_id", "thread_id", "parent_id", "root_seq", "seq", "depth", "path", "author_id",
    "author_name", "text", "state", "state_reason", "posted_at", "edited_at", "edit_count",
    "version", "text_version", "reply_count", "descendant_count", "last_position",
)  # fmt: skip
# What events after the post change on a comment's row (its counts change by deltas).
CHANGED_COLUMNS = (
    "author_id", "author_name", "text", "state", "state_reason", "edited_at", "edit_count",
    "version", "text_version", "last_position",
)  # fmt: skip
THREAD_COLUMNS = (
    "thread_id", "thread_key", "title", "body", "locked", "lock_reason", "opened_by", "opened_at",
    "comment_count", "visible_count", "top_level_count", "last_activity_at", "last_position",
    "created_position",
)  # fmt: skip


def _select_in(sql: Sql, query: str, keys: set[str], chunk: int = 500) -> list[dict]:
    """`query IN (keys)`, in chunks."""
    found: list[dict] = []
    keys = sorted(keys)
    for start in range(0, len(keys), chunk):
        part = keys[start : start + chunk]
        found += sql.execute(f"{query} IN ({', '.join('?' * len(part))})", part).all()
    return found


def _thread_deltas() -> dict[str, Any]:
    """What a page does to a thread opened before it, for `thread_rows.touch_row`: count
    deltas, the latest activity and position, the title and lock if they changed."""
    return {
        "last_position": 0,
        "last_activity_at": "",
        "comment_count": 0,
        "visible_count": 0,
        "top_level_count": 0,
        "title": None,
        "locked": None,
        "lock_reason": None,
    }


class _ThreadViewPage:
    """The buffer of one page: rows read or created by it, and what changed."""

    def __init__(self, sql: Sql, t: Tables):
        self.sql, self.t = sql, t
        self.authors: dict[str, str] = {}  # author id -> name
        self.new_authors: list[tuple] = []
        self.comments: dict[str, dict] = {}  # rows read for this page, or created by it
        self.new_comments: dict[str, dict] = {}
        self.new_by_seq: dict[tuple[str, int], dict] = {}
        self.changed: dict[str, None] = {}  # ids of read rows that changed (ordered set)
        self.counts: dict[tuple[str, int], list[int]] = {}  # (thread, seq) -> [replies, desc.]
        self.new_threads: dict[str, dict] = {}
        self.threads: dict[str, dict[str, Any]] = {}  # thread id -> deltas
        self.hidden: dict[str, dict | None] = {}  # comment id -> kept copy, None = deleted
        self.removed: set[str] = set()  # ids of stored rows taken out (awaiting review)
        self.stashes: dict[str, tuple[dict, bool] | None] = {}  # read or changed; None = gone

    # -- the rows, for projections/thread_rows.py

    def open_thread(self, row: dict[str, Any]) -> None:
        if row["thread_id"] in self.new_threads:
            raise ValueError(f"thread {row['thread_id']} opened twice")
        self.new_threads[row["thread_id"]] = row

    def comment(self, comment_id: str) -> dict[str, Any] | None:
        return self.comments.get(comment_id)

    def add_comment(self, row: dict[str, Any], ancestors: list[int]) -> None:
        thread_id = row["thread_id"]
        self.comments[row["comment_id"]] = self.new_comments[row["comment_id"]] = row
        self.new_by_seq[(thread_id, row["seq"])] = row
        for seq in ancestors:
            replies = 1 if seq == ancestors[-1] else 0
            ancestor = self.new_by_seq.get((thread_id, seq))
            if ancestor is not None:
                ancestor["reply_count"] += replies
                ancestor["descendant_count"] += 1
            else:  # a row before this page: its counts change by deltas
                counts = self.counts.setdefault((thread_id, seq), [0, 0])
                counts[0] += replies
                counts[1] += 1

    def change(self, row: dict, position: int, version: int, **values: Any) -> None:
        row.update(values, version=version, last_position=position)
        if row["comment_id"] not in self.new_comments:
            self.changed[row["comment_id"]] = None

    def kept(self, comment_id: str) -> dict[str, Any] | None:
        """The moderators' copy of a hidden comment: author_id, author_name, text."""
        if comment_id in self.hidden:
            return self.hidden[comment_id]
        row = self.sql.execute(
            f"SELECT author_id, author_name, text FROM {self.t.hidden} WHERE comment_id = ?",
            (comment_id,),
        ).one()
        kept = None if row is None else dict(row)
        self.hidden[comment_id] = kept
        return kept

    def keep(self, comment_id: str, copy: dict[str, Any] | None) -> None:
        self.hidden[comment_id] = copy

    def remove_comment(self, row: dict[str, Any], ancestors: list[int]) -> None:
        cid, thread_id = row["comment_id"], row["thread_id"]
        self.comments.pop(cid, None)
        self.changed.pop(cid, None)
        if self.new_comments.pop(cid, None) is not None:
            self.new_by_seq.pop((thread_id, row["seq"]), None)
        else:
            self.removed.add(cid)
        for seq in ancestors:
            replies = 1 if seq == ancestors[-1] else 0
            ancestor = self.new_by_seq.get((thread_id, seq))
            if ancestor is not None:
                ancestor["reply_count"] -= replies
                ancestor["descendant_count"] -= 1
            else:
                counts = self.counts.setdefault((thread_id, seq), [0, 0])
                counts[0] -= replies
                counts[1] -= 1

    def stashed(self, comment_id: str) -> tuple[dict[str, Any], bool] | None:
        if comment_id not in self.stashes:
            row = self.sql.execute(
                f"SELECT held, row_json FROM {self.t.held} WHERE comment_id = ?", (comment_id,)
            ).one()
            self.stashes[comment_id] = (
                None if row is None else (orjson.loads(row["row_json"]), bool(row["held"]))
            )
        return self.stashes[comment_id]

    def stash(self, comment_id: str, row: dict[str, Any] | None, held: bool = True) -> None:
        self.stashes[comment_id] = None if row is None else (row, held)

    def stashed_replies(self, parent_id: str) -> list[str]:
        stored = self.sql.execute(
            f"SELECT comment_id FROM {self.t.held} WHERE parent_id = ?", (parent_id,)
        ).all()
        ids = {r["comment_id"] for r in stored} | {
            cid
            for cid, e in self.stashes.items()
            if e is not None and e[0]["parent_id"] == parent_id
        }
        return sorted(cid for cid in ids if self.stashed(cid) is not None)

    def touch(self, thread_id: str, change: thread_rows.Touch) -> None:
        row = self.new_threads.get(thread_id)
        if row is None:
            row = self.threads.get(thread_id)
            if row is None:
                row = self.threads[thread_id] = _thread_deltas()
        thread_rows.touch_row(row, change)
