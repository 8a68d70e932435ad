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

from domain.model import HIDDEN, RETRACTED, VISIBLE, Author, Comment, Thread
from projections.db import Sql, insert_rows
from projections.engine import BatchProjection, Tables, handles, iso

SEQ_WIDTH = 12


def seq_key(position: int) -> str:
    return f"{position:0{SEQ_WIDTH}d}"


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

    def begin_page(self, sql: Sql, t: Tables, events: Sequence[tuple[int, Any]]) -> _Page:
        """Read, in a query or two, the rows this page's events refer to."""
        page = _Page(sql, t)
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

    def flush(self, page: _Page) -> None:
        sql, t = page.sql, page.t
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
                " END, title = COALESCE(?, title), locked = COALESCE(?, locked)"
                " WHERE thread_id = ?",
                [
                    (
                        c.comments,
                        c.visible,
                        c.top_level,
                        c.last_position,
                        c.activity,
                        c.activity,
                        c.title,
                        c.locked,
                        thread_id,
                    )
                    for thread_id, c in page.threads.items()
                ],
            )
        if page.hidden:
            sql.executemany(
                f"DELETE FROM {t.hidden} WHERE comment_id = ?", [(cid,) for cid in page.hidden]
            )
            kept = [(cid, *row) for cid, row in page.hidden.items() if row is not None]
            if kept:
                sql.executemany(
                    f"INSERT INTO {t.hidden} (comment_id, author_id, author_name, text)"
                    " VALUES (?, ?, ?, ?)",
                    kept,
                )

    # ---- authors (names for the comment rows) ------------------------------------

    @handles(Author.Registered)
    def author_registered(self, page: _Page, e: Author.Registered, pos: int) -> None:
        author_id = str(e.originator_id)
        page.new_authors.append((author_id, e.name, e.role))
        page.authors[author_id] = e.name

    # ---- threads -----------------------------------------------------------------

    @handles(Thread.Opened)
    def thread_opened(self, page: _Page, e: Thread.Opened, pos: int) -> None:
        thread_id = str(e.originator_id)
        if thread_id in page.new_threads:
            raise ValueError(f"thread {thread_id} opened twice")
        at = iso(e.timestamp)
        page.new_threads[thread_id] = {
            "thread_id": thread_id,
            "thread_key": e.key,
            "title": e.title,
            "body": e.body,
            "locked": 0,
            "opened_by": str(e.actor_id),
            "opened_at": at,
            "comment_count": 0,
            "visible_count": 0,
            "top_level_count": 0,
            "last_activity_at": at,
            "last_position": pos,
            "created_position": pos,
        }

    @handles(Thread.Retitled)
    def thread_retitled(self, page: _Page, e: Thread.Retitled, pos: int) -> None:
        page.touch(e.originator_id, e, pos, title=e.title)

    @handles(Thread.Locked)
    def thread_locked(self, page: _Page, e: Thread.Locked, pos: int) -> None:
        page.touch(e.originator_id, e, pos, locked=1)

    @handles(Thread.Unlocked)
    def thread_unlocked(self, page: _Page, e: Thread.Unlocked, pos: int) -> None:
        page.touch(e.originator_id, e, pos, locked=0)

    # ---- comments ----------------------------------------------------------------

    @handles(Comment.Posted)
    def comment_posted(self, page: _Page, e: Comment.Posted, pos: int) -> None:
        comment_id, thread_id = str(e.originator_id), str(e.thread_id)
        if comment_id in page.comments:
            raise ValueError(f"comment {comment_id} posted twice")
        if e.parent_id is None:
            root_seq, depth, path, ancestors = pos, 0, seq_key(pos), []
        else:
            parent = page.comments.get(str(e.parent_id))
            if parent is None:
                raise LookupError(f"parent {e.parent_id} of comment {comment_id} unknown")
            root_seq, depth = parent["root_seq"], parent["depth"] + 1
            path = f"{parent['path']}/{seq_key(pos)}"
            ancestors = [int(part) for part in parent["path"].split("/")]
        author_id = str(e.author_id)
        at = iso(e.timestamp)
        row = {
            "comment_id": comment_id,
            "thread_id": thread_id,
            "parent_id": e.parent_id and str(e.parent_id),
            "root_seq": root_seq,
            "seq": pos,
            "depth": depth,
            "path": path,
            "author_id": author_id,
            "author_name": page.authors.get(author_id),
            "text": e.text,
            "state": VISIBLE,
            "state_reason": None,
            "posted_at": at,
            "edited_at": None,
            "edit_count": 0,
            "version": e.originator_version,
            "text_version": e.originator_version,
            "reply_count": 0,
            "descendant_count": 0,
            "last_position": pos,
        }
        page.comments[comment_id] = page.new_comments[comment_id] = row
        page.new_by_seq[(thread_id, pos)] = row
        if ancestors:
            parent_seq = ancestors[-1]
            for seq in ancestors:
                replies = 1 if seq == parent_seq else 0
                ancestor = page.new_by_seq.get((thread_id, seq))
                if ancestor is not None:
                    ancestor["reply_count"] += replies
                    ancestor["descendant_count"] += 1
                else:
                    counts = page.counts.setdefault((thread_id, seq), [0, 0])
                    counts[0] += replies
                    counts[1] += 1
        page.touch(
            thread_id, e, pos, comments=1, visible=1, top_level=1 if depth == 0 else 0, at=at
        )

    @handles(Comment.Edited)
    def comment_edited(self, page: _Page, e: Comment.Edited, pos: int) -> None:
        row = page.comments.get(str(e.originator_id))
        at = iso(e.timestamp)
        if row is not None:
            if row["state"] == HIDDEN:
                kept = page.hidden_row(row["comment_id"])
                if kept is not None:
                    page.hidden[row["comment_id"]] = (kept[0], kept[1], e.text)
                page.change(
                    row,
                    e,
                    pos,
                    edited_at=at,
                    edit_count=row["edit_count"] + 1,
                    text_version=e.originator_version,
                )
            else:
                page.change(
                    row,
                    e,
                    pos,
                    text=e.text,
                    edited_at=at,
                    edit_count=row["edit_count"] + 1,
                    text_version=e.originator_version,
                )
        page.touch(e.thread_id, e, pos, at=at)

    @handles(Comment.Retracted)
    def comment_retracted(self, page: _Page, e: Comment.Retracted, pos: int) -> None:
        # The row stays as a placeholder so its replies keep their place; the
        # revisions projection keeps the history.
        comment_id = str(e.originator_id)
        row = page.comments.get(comment_id)
        was = row["state"] if row is not None else None
        page.hidden[comment_id] = None
        if row is not None:
            page.change(row, e, pos, **_REMOVED, state=RETRACTED, state_reason=e.reason)
        page.touch(e.thread_id, e, pos, visible=-1 if was == VISIBLE else 0)

    @handles(Comment.Hidden)
    def comment_hidden(self, page: _Page, e: Comment.Hidden, pos: int) -> None:
        row = page.comments.get(str(e.originator_id))
        if row is not None:
            page.hidden[row["comment_id"]] = (row["author_id"], row["author_name"], row["text"])
            page.change(row, e, pos, **_REMOVED, state=HIDDEN, state_reason=e.reason)
        page.touch(e.thread_id, e, pos, visible=-1)

    @handles(Comment.Restored)
    def comment_restored(self, page: _Page, e: Comment.Restored, pos: int) -> None:
        comment_id = str(e.originator_id)
        kept = page.hidden_row(comment_id)
        if kept is None:
            raise LookupError(f"comment {comment_id} has no hidden text to restore")
        page.hidden[comment_id] = None
        row = page.comments.get(comment_id)
        if row is not None:
            author_id, author_name, text = kept
            page.change(
                row,
                e,
                pos,
                state=VISIBLE,
                state_reason=None,
                author_id=author_id,
                author_name=author_name,
                text=text,
            )
        page.touch(e.thread_id, e, pos, visible=1)

    # ---- decisions that withhold content (projections/visibility.py decides) --------
    # The row's version and the thread's position move, so every cached view of the
    # thread is built again; erased texts are dropped from the rows as well.

    @handles(Comment.Erased)
    def comment_erased(self, page: _Page, e: Comment.Erased, pos: int) -> None:
        comment_id = str(e.originator_id)
        row = page.comments.get(comment_id)
        if page.hidden_row(comment_id) is not None:
            page.hidden[comment_id] = None
        if row is not None:
            page.change(row, e, pos, text=None)
        page.touch(e.thread_id, e, pos)

    @handles(Comment.RevisionErased)
    def revision_erased(self, page: _Page, e: Comment.RevisionErased, pos: int) -> None:
        row = page.comments.get(str(e.originator_id))
        if row is not None:
            current = row["text_version"] == e.revision
            page.change(row, e, pos, **({"text": None} if current else {}))
        page.touch(e.thread_id, e, pos)

    @handles(Comment.RevisionSuppressed, Comment.RevisionUnsuppressed)
    def revision_decided(self, page: _Page, e: Any, pos: int) -> None:
        row = page.comments.get(str(e.originator_id))
        if row is not None:
            page.change(row, e, pos)
        page.touch(e.thread_id, e, pos)


_CHANGES = (
    Comment.Edited,
    Comment.Retracted,
    Comment.Hidden,
    Comment.Restored,
    Comment.Erased,
    Comment.RevisionErased,
    Comment.RevisionSuppressed,
    Comment.RevisionUnsuppressed,
)
_REMOVED = {"text": None, "author_id": None, "author_name": None}

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
    "thread_id", "thread_key", "title", "body", "locked", "opened_by", "opened_at",
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


class _ThreadChange:
    """What a page does to a thread opened before it: count deltas and latest values."""

    __slots__ = ("activity", "comments", "last_position", "locked", "title", "top_level", "visible")

    def __init__(self) -> None:
        self.comments = self.visible = self.top_level = 0
        self.last_position = 0
        self.activity = ""
        self.title: str | None = None
        self.locked: int | None = None


class _Page:
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
        self.threads: dict[str, _ThreadChange] = {}
        self.hidden: dict[str, tuple | None] = {}  # comment id -> kept copy, None = deleted

    def change(self, row: dict, e: Any, pos: int, **values: Any) -> None:
        row.update(values, version=e.originator_version, last_position=pos)
        if row["comment_id"] not in self.new_comments:
            self.changed[row["comment_id"]] = None

    def hidden_row(self, comment_id: str) -> tuple | None:
        """The moderators' copy of a hidden comment: (author_id, author_name, text)."""
        if comment_id in self.hidden:
            return self.hidden[comment_id]
        row = self.sql.execute(
            f"SELECT author_id, author_name, text FROM {self.t.hidden} WHERE comment_id = ?",
            (comment_id,),
        ).one()
        kept = None if row is None else (row["author_id"], row["author_name"], row["text"])
        self.hidden[comment_id] = kept
        return kept

    def touch(
        self,
        thread_id: Any,
        e: Any,
        pos: int,
        *,
        comments: int = 0,
        visible: int = 0,
        top_level: int = 0,
        title: str | None = None,
        locked: int | None = None,
        at: str | None = None,
    ) -> None:
        """An event in a thread: activity time and position, counts, title, lock."""
        thread_id = str(thread_id)
        at = at or iso(e.timestamp)
        row = self.new_threads.get(thread_id)
        if row is not None:
            row["last_position"] = pos
            if row["last_activity_at"] < at:
                row["last_activity_at"] = at
            row["comment_count"] += comments
            row["visible_count"] += visible
            row["top_level_count"] += top_level
            if title is not None:
                row["title"] = title
            if locked is not None:
                row["locked"] = locked
            return
        change = self.threads.get(thread_id)
        if change is None:
            change = self.threads[thread_id] = _ThreadChange()
        change.last_position = pos
        if change.activity < at:
            change.activity = at
        change.comments += comments
        change.visible += visible
        change.top_level += top_level
        if title is not None:
            change.title = title
        if locked is not None:
            change.locked = locked
