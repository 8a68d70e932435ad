"""Time travel: any thread as it was at any position of the log (or any moment).

Three parts:

- `ThreadState`, a pure in-memory reducer of one thread's events. It keeps rows with
  exactly the columns and values of the live thread view's rows (`tv_threads`,
  `tv_comments`, `tv_hidden`; projections/thread_view.py), so the web's nesting and
  paging code (projections/queries.py) reads it like the live tables.
- `TimeTravel`, a projection that stores, per thread, the compact records needed to
  replay it, and every `checkpoint_every` events of a thread (K, default 100) a
  checkpoint: the serialised ThreadState at that event.
- Reads: `thread_page_as_of` loads the nearest checkpoint at or before the position
  and replays at most K - 1 records from there; `position_for_time` maps a moment to
  the position of the thread's last event by then, using the thread's own events'
  timestamps (imported threads carry their original, past dates).
"""

from __future__ import annotations

import threading
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from domain.model import Author
from domain.settings import DEFAULT_CHECKPOINT_EVERY
from projections import queries, thread_rows
from projections.db import Sql
from projections.engine import Engine, HandlerError, Projection, Tables, iso
from projections.queries import NotInView, PageRequest
from projections.thread_rows import record_of

SNAPSHOT_FORMAT = 6
# Threads whose latest state a projection keeps in memory between pages.
STATE_CACHE_SIZE = 16


class NotYetOpened(NotInView):
    """The thread exists, but not yet at the position (or moment) asked for."""


# ---- the reducer ---------------------------------------------------------------------------


class ThreadState:
    """One thread rebuilt in memory: rows shaped like the live thread view's."""

    def __init__(self, thread_id: str):
        self.thread_id = str(thread_id)
        self.thread: dict[str, Any] | None = None  # a tv_threads row
        self.comments: dict[str, dict[str, Any]] = {}  # tv_comments rows, in seq order
        self.hidden: dict[str, dict[str, Any]] = {}  # tv_hidden rows
        # tv_held: rows out of the view while awaiting review, and whether held themselves
        self.held: dict[str, tuple[dict[str, Any], bool]] = {}
        self.names: dict[str, str] = {}  # author names, from Author.Registered
        self.position = 0  # position of the last event of the thread applied
        self.max_at: str | None = None  # latest timestamp of the thread's events so far
        self.events = 0  # events of the thread applied
        self.replayed = 0  # records applied since this state was loaded or created
        self._by_seq: dict[int, dict[str, Any]] = {}
        # Direct replies of each comment (None: the top level), in posting order.
        self.children: dict[str | None, list[dict[str, Any]]] = {}

    # -- applying

    def apply(self, event: Any, position: int) -> None:
        """Apply any domain event of the log; events of other threads are ignored."""
        if isinstance(event, Author.Registered):
            self.names[str(event.originator_id)] = event.name
            return
        found = record_of(event, self.names.get)
        if found is not None and found[0] == self.thread_id:
            self.apply_record(found[1], position)

    def apply_record(self, record: dict[str, Any], position: int) -> None:
        at = record["at"]
        self.replayed += 1
        self.events += 1
        self.position = position
        self.max_at = at if self.max_at is None or self.max_at < at else self.max_at
        thread_rows.apply(self, self.thread_id, record, position)

    # -- the rows (projections/thread_rows.py builds them)

    def open_thread(self, row: dict[str, Any]) -> None:
        self.thread = row

    def comment(self, comment_id: str) -> dict[str, Any] | None:
        return self.comments.get(comment_id)

    def add_comment(self, row: dict[str, Any], ancestors: list[int]) -> None:
        # Put back after review (an older seq than the last): rows stay in posting order.
        late = bool(self.comments) and next(reversed(self.comments.values()))["seq"] > row["seq"]
        self.comments[row["comment_id"]] = self._by_seq[row["seq"]] = row
        siblings = self.children.setdefault(row["parent_id"], [])
        siblings.append(row)
        if late:
            siblings.sort(key=lambda r: r["seq"])
            self.comments = dict(sorted(self.comments.items(), key=lambda kv: kv[1]["seq"]))
        for seq in ancestors:
            ancestor = self._by_seq[seq]
            ancestor["descendant_count"] += 1
            if seq == ancestors[-1]:
                ancestor["reply_count"] += 1

    def change(self, row: dict[str, Any], position: int, version: int, **values: Any) -> None:
        row.update(values, version=version, last_position=position)

    def kept(self, comment_id: str) -> dict[str, Any] | None:
        return self.hidden.get(comment_id)

    def keep(self, comment_id: str, copy: dict[str, Any] | None) -> None:
        if copy is None:
            self.hidden.pop(comment_id, None)
        else:
            self.hidden[comment_id] = {"comment_id": comment_id, **copy}

    def touch(self, thread_id: str, change: thread_rows.Touch) -> None:
        if self.thread is not None:
            thread_rows.touch_row(self.thread, change)

    def remove_comment(self, row: dict[str, Any], ancestors: list[int]) -> None:
        self.comments.pop(row["comment_id"], None)
        self._by_seq.pop(row["seq"], None)
        siblings = self.children.get(row["parent_id"], [])
        siblings[:] = [r for r in siblings if r["comment_id"] != row["comment_id"]]
        for seq in ancestors:
            ancestor = self._by_seq[seq]
            ancestor["descendant_count"] -= 1
            if seq == ancestors[-1]:
                ancestor["reply_count"] -= 1

    def stashed(self, comment_id: str) -> tuple[dict[str, Any], bool] | None:
        return self.held.get(comment_id)

    def stash(self, comment_id: str, row: dict[str, Any] | None, held: bool = True) -> None:
        if row is None:
            self.held.pop(comment_id, None)
        else:
            self.held[comment_id] = (row, held)

    def stashed_replies(self, parent_id: str) -> list[str]:
        return sorted(c for c, (row, _) in self.held.items() if row["parent_id"] == parent_id)

    # -- reading

    def comment_rows(self) -> list[dict[str, Any]]:
        """Comment rows in posting (seq) order."""
        return list(self.comments.values())

    def hidden_rows(self) -> list[dict[str, Any]]:
        return list(self.hidden.values())

    # -- snapshots

    def to_bytes(self) -> bytes:
        """The state as a checkpoint: JSON (rows without the thread id, which is stored
        once), zlib-compressed."""
        data = {
            "format": SNAPSHOT_FORMAT,
            "thread_id": self.thread_id,
            "thread": self.thread,
            "comments": [
                {k: v for k, v in row.items() if k != "thread_id"} for row in self.comments.values()
            ],
            "hidden": self.hidden_rows(),
            "held": [[row, held] for row, held in self.held.values()],
            "position": self.position,
            "max_at": self.max_at,
            "events": self.events,
        }
        return zlib.compress(orjson.dumps(data), 1)

    @classmethod
    def from_bytes(cls, blob: bytes) -> ThreadState:
        data = orjson.loads(zlib.decompress(bytes(blob)))
        if data.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"unknown checkpoint format {data.get('format')!r}")
        state = cls(data["thread_id"])
        thread_id = state.thread_id
        state.thread = data["thread"]
        comments, by_seq, children = state.comments, state._by_seq, state.children
        for row in data["comments"]:  # in posting order
            row["thread_id"] = thread_id
            comments[row["comment_id"]] = by_seq[row["seq"]] = row
            parent_id = row["parent_id"]
            if parent_id in children:
                children[parent_id].append(row)
            else:
                children[parent_id] = [row]
        state.hidden = {row["comment_id"]: row for row in data["hidden"]}
        state.held = {row["comment_id"]: (row, held) for row, held in data["held"]}
        state.position, state.max_at = data["position"], data["max_at"]
        state.events = data["events"]
        return state


class MemoryRows:
    """A ThreadState as a row source for projections.queries' nesting and paging; today's
    decisions and the keys are read through `engine`."""

    def __init__(self, state: ThreadState, engine: Engine):
        self.state = state
        self.engine = engine

    def thread(self, thread_id: str) -> dict[str, Any]:
        if self.state.thread is None or thread_id != self.state.thread_id:
            raise NotInView(f"no thread with id {thread_id}")
        return self.state.thread

    def comment(self, comment_id: str) -> dict[str, Any] | None:
        return self.state.comments.get(comment_id)

    def hidden(self, ids: list[str]) -> dict[str, dict]:
        return {i: self.state.hidden[i] for i in ids if i in self.state.hidden}

    def page(
        self, thread_id: str, parent_id: str | None, req: PageRequest
    ) -> tuple[list[dict], bool]:
        rows = self.state.children.get(parent_id, [])
        if req.sort == "newest":
            rows = rows[::-1]
            if req.cursor is not None:
                rows = [r for r in rows if r["seq"] < req.cursor]
        elif req.cursor is not None:
            rows = [r for r in rows if r["seq"] > req.cursor]
        return rows[: req.limit], len(rows) > req.limit

    def subtree(self, thread_id: str, top: dict, max_depth: int) -> list[dict]:
        """The descendants of `top` down to `max_depth`, in path order: a depth-first
        walk with each comment's replies in posting order (paths are fixed-width seqs)."""
        children = self.state.children
        found: list[dict] = []
        stack = children.get(top["comment_id"], [])[::-1]
        while stack:
            row = stack.pop()
            if row["depth"] > max_depth:
                continue  # and everything below it is deeper still
            found.append(row)
            replies = children.get(row["comment_id"])
            if replies:
                stack.extend(replies[::-1])
        return found

    def remaining(
        self, thread_id: str, parent_id: str | None, last_seq: int, req: PageRequest
    ) -> int:
        rows = self.state.children.get(parent_id, [])
        if req.sort == "newest":
            return sum(1 for r in rows if r["seq"] < last_seq)
        return sum(1 for r in rows if r["seq"] > last_seq)


def page_from_state(state: ThreadState, req: PageRequest, engine: Engine) -> dict[str, Any]:
    """queries.thread_page's result for a thread rebuilt in memory, with today's
    decisions (read through `engine`) applied."""
    return queries.page_of_thread(MemoryRows(state, engine), state.thread_id, req)


# ---- the projection ------------------------------------------------------------------------


class TimeTravel(Projection):
    name = "time_travel"
    prefix = "tt"
    ddl = {
        # The records of each thread's events, for replay.
        "events": """CREATE TABLE IF NOT EXISTS {events} (
            thread_id TEXT NOT NULL,
            position BIGINT NOT NULL,
            n INTEGER NOT NULL,
            at TEXT NOT NULL,
            max_at TEXT NOT NULL,
            kind TEXT NOT NULL,
            comment_id TEXT,
            record TEXT NOT NULL,
            PRIMARY KEY (thread_id, position))""",
        # Per thread: events so far, the latest time, the last checkpoint.
        "threads": """CREATE TABLE IF NOT EXISTS {threads} (
            thread_id TEXT PRIMARY KEY,
            events INTEGER NOT NULL,
            opened_position BIGINT,
            opened_at TEXT,
            last_position BIGINT NOT NULL,
            max_at TEXT NOT NULL,
            checkpoint_events INTEGER NOT NULL DEFAULT 0)""",
        "checkpoints": """CREATE TABLE IF NOT EXISTS {checkpoints} (
            thread_id TEXT NOT NULL,
            position BIGINT NOT NULL,
            events INTEGER NOT NULL,
            state BYTEA NOT NULL,
            PRIMARY KEY (thread_id, position))""",
        "authors": """CREATE TABLE IF NOT EXISTS {authors} (
            author_id TEXT PRIMARY KEY,
            name TEXT NOT NULL)""",
    }
    indexes = [
        # max_at grows with the position within a thread: time -> position is one seek.
        "CREATE INDEX IF NOT EXISTS {events}_time ON {events} (thread_id, max_at, position)",
        "CREATE INDEX IF NOT EXISTS {events}_comment ON {events} (comment_id)",
    ]

    def __init__(self, checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY):
        # settings.checkpoint_every (DISCUSS_CHECKPOINT_EVERY), given by registry.py
        self.checkpoint_every = max(1, checkpoint_every)
        # (events table, thread id) -> the thread's state after its last recorded event,
        # kept between pages so that a checkpoint costs one serialisation. Used only when
        # the stored head agrees (same last position and count): a rolled-back page or
        # another writer makes it stale, and it is then simply not used.
        self._states: OrderedDict[tuple[str, str], ThreadState] = OrderedDict()
        self._lock = threading.Lock()

    def apply_page(self, sql: Sql, t: Tables, events: Sequence[tuple[int, Any]]) -> None:
        page = _TimeTravelPage(self, sql, t)
        for position, event in events:
            try:
                page.apply(event, position)
            except Exception as error:
                raise HandlerError(position, error) from error
        page.flush()

    def cached_state(self, t: Tables, thread_id: str, head: dict | None) -> ThreadState | None:
        with self._lock:
            state = self._states.pop((t.events, thread_id), None)
        if state is None or head is None:
            return None
        if state.position != head["last_position"] or state.events != head["events"]:
            return None
        return state

    def keep_states(self, t: Tables, states: dict[str, ThreadState]) -> None:
        with self._lock:
            for thread_id, state in states.items():
                self._states[(t.events, thread_id)] = state
                self._states.move_to_end((t.events, thread_id))
            while len(self._states) > STATE_CACHE_SIZE:
                self._states.popitem(last=False)


class _TimeTravelPage:
    """One page of events for the time travel tables, written in batches."""

    def __init__(self, projection: TimeTravel, sql: Sql, t: Tables):
        self.projection, self.sql, self.t = projection, sql, t
        self.names: dict[str, str | None] = {}
        self.new_authors: list[tuple] = []
        self.heads: dict[str, dict[str, Any]] = {}
        self.stored_heads: set[str] = set()
        self.rows: list[tuple] = []
        self.states: dict[str, ThreadState] = {}

    def name_of(self, author_id: str) -> str | None:
        if author_id not in self.names:
            self.names[author_id] = self.sql.execute(
                f"SELECT name FROM {self.t.authors} WHERE author_id = ?", (author_id,)
            ).scalar()
        return self.names[author_id]

    def head(self, thread_id: str) -> dict[str, Any]:
        head = self.heads.get(thread_id)
        if head is None:
            head = self.sql.execute(
                f"SELECT * FROM {self.t.threads} WHERE thread_id = ?", (thread_id,)
            ).one()
            if head is not None:
                self.stored_heads.add(thread_id)
                head = dict(head)
            state = self.projection.cached_state(self.t, thread_id, head)
            if state is not None:
                self.states[thread_id] = state
            if head is None:
                head = {
                    "thread_id": thread_id,
                    "events": 0,
                    "opened_position": None,
                    "opened_at": None,
                    "last_position": 0,
                    "max_at": "",
                    "checkpoint_events": 0,
                }
            self.heads[thread_id] = head
        return head

    def apply(self, event: Any, position: int) -> None:
        if isinstance(event, Author.Registered):
            author_id = str(event.originator_id)
            self.names[author_id] = event.name
            self.new_authors.append((author_id, event.name))
            return
        found = record_of(event, self.name_of)
        if found is None:
            return
        thread_id, record = found
        at = record["at"]
        head = self.head(thread_id)
        n = head["events"] + 1
        max_at = max(head["max_at"], at)
        self.rows.append(
            (
                thread_id,
                position,
                n,
                at,
                max_at,
                record["kind"],
                record.get("comment_id"),
                orjson.dumps(record).decode(),
            )
        )
        if record["kind"] == "opened" and head["opened_position"] is None:
            head.update(opened_position=position, opened_at=at)
        head.update(events=n, last_position=position, max_at=max_at)
        state = self.states.get(thread_id)
        if state is not None:
            state.apply_record(record, position)
        if n - head["checkpoint_events"] >= self.projection.checkpoint_every:
            if state is None:
                self.flush_rows()
                state = self.states[thread_id] = load_state(self.sql, self.t, thread_id, position)
            self.sql.execute(
                f"INSERT INTO {self.t.checkpoints} (thread_id, position, events, state)"
                " VALUES (?, ?, ?, ?)",
                (thread_id, position, n, state.to_bytes()),
            )
            head["checkpoint_events"] = n

    def flush_rows(self) -> None:
        if self.new_authors:
            self.sql.executemany(
                f"INSERT INTO {self.t.authors} (author_id, name) VALUES (?, ?)", self.new_authors
            )
            self.new_authors = []
        if self.rows:
            self.sql.executemany(
                f"INSERT INTO {self.t.events} (thread_id, position, n, at, max_at, kind,"
                " comment_id, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                self.rows,
            )
            self.rows = []

    def flush(self) -> None:
        self.flush_rows()
        columns = (
            "events",
            "opened_position",
            "opened_at",
            "last_position",
            "max_at",
            "checkpoint_events",
        )
        inserts, updates = [], []
        for thread_id, head in self.heads.items():
            values = tuple(head[c] for c in columns)
            if thread_id in self.stored_heads:
                updates.append((*values, thread_id))
            else:
                inserts.append((thread_id, *values))
        if inserts:
            self.sql.executemany(
                f"INSERT INTO {self.t.threads} (thread_id, {', '.join(columns)})"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                inserts,
            )
        if updates:
            self.sql.executemany(
                f"UPDATE {self.t.threads} SET {', '.join(f'{c} = ?' for c in columns)}"
                " WHERE thread_id = ?",
                updates,
            )
        self.projection.keep_states(self.t, self.states)


def load_state(sql: Sql, t: Tables, thread_id: str, position: int) -> ThreadState:
    """The thread at `position`: the nearest checkpoint at or before it, plus the records
    after the checkpoint (fewer than K). `replayed` counts those records."""
    checkpoint = sql.execute(
        f"SELECT position, state FROM {t.checkpoints} WHERE thread_id = ? AND position <= ?"
        " ORDER BY position DESC LIMIT 1",
        (thread_id, position),
    ).one()
    state, start = ThreadState(thread_id), 0
    if checkpoint is not None:
        try:
            state = ThreadState.from_bytes(checkpoint["state"])
            start = int(checkpoint["position"])
        except (ValueError, zlib.error):
            pass  # a checkpoint of another format (an older version): replay it all
    state.replayed = 0
    rows = sql.execute(
        f"SELECT position, record FROM {t.events} WHERE thread_id = ? AND position > ?"
        " AND position <= ? ORDER BY position",
        (thread_id, start, position),
    ).all()
    for row in rows:
        state.apply_record(orjson.loads(row["record"]), int(row["position"]))
    return state


# ---- reads ---------------------------------------------------------------------------------


def _tables(engine: Engine) -> Tables:
    return engine.tables("time_travel")


def thread_span(engine: Engine, thread_id: str) -> dict[str, Any] | None:
    """What time travel knows of a thread: events, opening, last position and time."""
    t = _tables(engine)
    return (
        engine.store.reader()
        .execute(f"SELECT * FROM {t.threads} WHERE thread_id = ?", (thread_id,))
        .one()
    )


def state_at(
    engine: Engine, thread_id: str, position: int, span: dict[str, Any] | None = None
) -> ThreadState:
    """The thread as it was at `position`; NotInView if unknown, NotYetOpened if it was
    opened later. `span`: the thread's thread_span, when the caller has read it."""
    span = span or thread_span(engine, thread_id)
    if span is None or span["opened_position"] is None:
        raise NotInView(f"no thread with id {thread_id}")
    if position < span["opened_position"]:
        raise NotYetOpened(
            f"thread {thread_id} did not exist yet at position {position}: it was opened at"
            f" position {span['opened_position']} ({span['opened_at']})"
        )
    return load_state(engine.store.reader(), _tables(engine), thread_id, position)


def _as_of(state: ThreadState) -> dict[str, Any]:
    return {"position": state.position, "at": state.max_at}


def thread_page_as_of(
    engine: Engine,
    thread_id: str,
    req: PageRequest,
    position: int,
    span: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """queries.thread_page's result as the thread was at `position`, plus
    "as_of": {"position": the thread's last event at or before it, "at": its time}."""
    state = state_at(engine, thread_id, position, span)
    page = page_from_state(state, req, engine)
    page["as_of"] = _as_of(state)
    return page


def comment_subtree_as_of(
    engine: Engine, comment_id: str, req: PageRequest, position: int
) -> dict[str, Any]:
    """queries.comment_subtree's result as the comment was at `position`, plus "as_of"."""
    t = _tables(engine)
    thread_id = (
        engine.store.reader()
        .execute(f"SELECT thread_id FROM {t.events} WHERE comment_id = ? LIMIT 1", (comment_id,))
        .scalar()
    )
    if thread_id is None:
        raise NotInView(f"no comment with id {comment_id}")
    state = state_at(engine, thread_id, position)
    if comment_id not in state.comments:
        raise NotYetOpened(f"comment {comment_id} did not exist yet at position {position}")
    page = queries.subtree_of_comment(MemoryRows(state, engine), comment_id, req)
    page["as_of"] = _as_of(state)
    return page


def effective_position(engine: Engine, thread_id: str, position: int) -> int:
    """The position of the thread's last event at or before `position` (what a past view
    at `position` shows, and its cache key: positions without a change share it)."""
    t = _tables(engine)
    found = (
        engine.store.reader()
        .execute(
            f"SELECT MAX(position) AS p FROM {t.events} WHERE thread_id = ? AND position <= ?",
            (thread_id, position),
        )
        .scalar()
    )
    return int(found)


def time_key(when: datetime) -> str:
    """A moment as the stored timestamps are written (UTC ISO; naive means UTC)."""
    return iso(when if when.tzinfo else when.replace(tzinfo=UTC))


def position_for_time(engine: Engine, thread_id: str, when: datetime) -> int | None:
    """The position of the thread's last event at `when` (its events up to the first one
    dated later); None if the thread did not exist yet then."""
    t = _tables(engine)
    found = (
        engine.store.reader()
        .execute(
            f"SELECT position FROM {t.events} WHERE thread_id = ? AND max_at <= ?"
            " ORDER BY max_at DESC, position DESC LIMIT 1",
            (thread_id, time_key(when)),
        )
        .scalar()
    )
    return int(found) if found is not None else None
