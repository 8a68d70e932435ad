"""The thread view's rows, built from events: ONE builder for the live projection
(projections/thread_view.py, rows buffered a page at a time over SQL) and for time
travel (projections/time_travel.py, a thread rebuilt in memory from its checkpoint).

- `record_of` turns a domain event into the compact record time travel stores: the one
  translation from events to what the rows need.
- `apply` applies one record to any `Rows` (the live page's buffer, or a ThreadState):
  the rows' columns and every rule of how they change live here, once.

The property test (tests/property/test_as_of_property.py) checks that both sides give
the same pages at every position.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from domain.model import HIDDEN, RETRACTED, VISIBLE, Comment, Thread
from projections.tracking import iso

SEQ_WIDTH = 12


def seq_key(position: int) -> str:
    return f"{position:0{SEQ_WIDTH}d}"


# ---- records: what replay needs of each event ----------------------------------------------


def record_of(
    event: Any, name_of: Callable[[str], str | None]
) -> tuple[str, dict[str, Any]] | None:
    """(thread id, record) of a thread's or comment's event; None for other events.
    `name_of(author_id)` gives an author's display name (for posts)."""
    at = iso(event.timestamp)
    if isinstance(event, Thread.Event):
        thread_id = str(event.originator_id)
        if isinstance(event, Thread.Opened):
            record = {
                "kind": "opened",
                "key": event.key,
                "title": event.title,
                "body": event.body,
                "by": str(event.actor_id),
            }
        elif isinstance(event, Thread.Retitled):
            record = {"kind": "retitled", "title": event.title}
        elif isinstance(event, Thread.Locked):
            record = {"kind": "locked", "reason": event.reason}
        elif isinstance(event, Thread.Unlocked):
            record = {"kind": "unlocked"}
        else:
            return None
    elif isinstance(event, Comment.Event):
        thread_id = str(event.thread_id)
        cid = str(event.originator_id)
        version = event.originator_version
        if isinstance(event, Comment.Posted):
            record = {
                "kind": "posted",
                "comment_id": cid,
                "parent_id": str(event.parent_id) if event.parent_id else None,
                "author_id": str(event.author_id),
                "author_name": name_of(str(event.author_id)),
                "text": event.text,
                "version": version,
            }
        elif isinstance(event, Comment.Edited):
            record = {"kind": "edited", "comment_id": cid, "text": event.text, "version": version}
        elif isinstance(event, Comment.Retracted):
            record = {"kind": "retracted", "comment_id": cid, "reason": event.reason}
            record["version"] = version
        elif isinstance(event, Comment.Hidden):
            record = {"kind": "hidden", "comment_id": cid, "reason": event.reason}
            record["version"] = version
        elif isinstance(event, Comment.Restored):
            record = {"kind": "restored", "comment_id": cid, "version": version}
        # Decisions that withhold content: the live view moves the comment's version and
        # the thread's position for them (and drops erased texts), so replay does too.
        # The records carry no content; today's decisions come from the decisions view.
        elif isinstance(event, Comment.Erased):
            record = {"kind": "erased", "comment_id": cid, "version": version}
        elif isinstance(event, Comment.RevisionErased):
            record = {"kind": "revision_erased", "comment_id": cid, "version": version}
            record["revision"] = event.revision
        elif isinstance(event, (Comment.RevisionSuppressed, Comment.RevisionUnsuppressed)):
            record = {"kind": "revision_decided", "comment_id": cid, "version": version}
        # Review (issue 13): a comment held before it was ever approved leaves the rows
        # (readers see nothing, counts leave it out) until approved; a held edit keeps
        # its row (the page shows readers the approved revision, projections/queries.py).
        elif isinstance(event, Comment.Held):
            record = {"kind": "held", "comment_id": cid, "version": version}
            record["unpublished"] = event.shown_revision is None
        elif isinstance(event, Comment.Approved):
            record = {"kind": "approved", "comment_id": cid, "version": version}
        elif isinstance(event, Comment.Rejected):
            record = {"kind": "rejected", "comment_id": cid, "version": version}
        else:
            return None
    else:
        return None
    record["at"] = at
    return thread_id, record


# ---- the rows --------------------------------------------------------------------------------


class Rows(Protocol):
    """Where rows are kept while records are applied."""

    def open_thread(self, row: dict[str, Any]) -> None: ...

    def comment(self, comment_id: str) -> dict[str, Any] | None: ...

    def add_comment(self, row: dict[str, Any], ancestors: list[int]) -> None:
        """A new comment row; its ancestors' (by seq, root first) counts grow by one
        descendant, the last one's by one reply."""

    def change(self, row: dict[str, Any], position: int, version: int, **values: Any) -> None:
        """Set values on a comment's row, with its version and last position."""

    def kept(self, comment_id: str) -> dict[str, Any] | None:
        """The copy of a hidden comment kept for moderators (author_id, author_name,
        text), or None."""

    def keep(self, comment_id: str, copy: dict[str, Any] | None) -> None:
        """Set (or, with None, drop) that copy."""

    def touch(self, thread_id: str, change: Touch) -> None:
        """An event in a thread (see `touch_row`)."""

    def remove_comment(self, row: dict[str, Any], ancestors: list[int]) -> None:
        """Take a comment's row out (the reverse of `add_comment`)."""

    def stashed(self, comment_id: str) -> tuple[dict[str, Any], bool] | None:
        """The row of a comment kept out of the rows while it awaits review, and
        whether it is held itself (False: a reply waiting for its held parent)."""

    def stash(self, comment_id: str, row: dict[str, Any] | None, held: bool = True) -> None:
        """Keep (or, with None, drop) that row."""

    def stashed_replies(self, parent_id: str) -> list[str]:
        """Ids of stashed rows whose parent is `parent_id`."""


@dataclass
class Touch:
    """What an event does to its thread's row: activity time and position, count deltas,
    title, lock (with `locked`, the lock's reason: None when unlocked)."""

    position: int
    at: str
    comments: int = 0
    visible: int = 0
    top_level: int = 0
    title: str | None = None
    locked: int | None = None
    lock_reason: str | None = None


def touch_row(row: dict[str, Any], change: Touch) -> None:
    """Apply a Touch to a thread row (or to a row of deltas: counts start at 0, the
    activity time at "", title and lock at None meaning unchanged)."""
    row["last_position"] = change.position
    if row["last_activity_at"] < change.at:
        row["last_activity_at"] = change.at
    row["comment_count"] += change.comments
    row["visible_count"] += change.visible
    row["top_level_count"] += change.top_level
    if change.title is not None:
        row["title"] = change.title
    if change.locked is not None:
        row["locked"] = change.locked
        row["lock_reason"] = change.lock_reason if change.locked else None


WITHDRAWN = {"text": None, "author_id": None, "author_name": None}


def thread_row(thread_id: str, record: dict[str, Any], position: int) -> dict[str, Any]:
    at = record["at"]
    return {
        "thread_id": thread_id,
        "thread_key": record["key"],
        "title": record["title"],
        "body": record["body"],
        "locked": 0,
        "lock_reason": None,
        "opened_by": record["by"],
        "opened_at": at,
        "comment_count": 0,
        "visible_count": 0,
        "top_level_count": 0,
        "last_activity_at": at,
        "last_position": position,
        "created_position": position,
    }


def apply(rows: Rows, thread_id: str, record: dict[str, Any], position: int) -> None:
    """Apply one record of a thread to its rows."""
    kind, at = record["kind"], record["at"]
    if kind == "opened":
        rows.open_thread(thread_row(thread_id, record, position))
        return
    if kind in _THREAD_CHANGES:
        rows.touch(thread_id, Touch(position, at, **_THREAD_CHANGES[kind](record)))
        return
    if kind == "posted":
        _posted(rows, thread_id, record, position)
        return
    if kind in _REVIEW_CHANGES:
        rows.touch(thread_id, Touch(position, at, **_REVIEW_CHANGES[kind](rows, record, position)))
        return
    row = rows.comment(record["comment_id"])
    visible = 0
    if row is not None:
        visible = _COMMENT_CHANGES[kind](rows, row, record, position)
    else:
        _change_stashed(rows, kind, record, position)
    rows.touch(thread_id, Touch(position, at, visible=visible))


_THREAD_CHANGES: dict[str, Callable[[dict], dict]] = {
    "retitled": lambda r: {"title": r["title"]},
    # A lock's reason is the moderators' public word on the thread (not sealed).
    "locked": lambda r: {"locked": 1, "lock_reason": r.get("reason")},
    "unlocked": lambda r: {"locked": 0},
}


def _posted(rows: Rows, thread_id: str, record: dict[str, Any], position: int) -> None:
    comment_id, parent_id = record["comment_id"], record["parent_id"]
    if rows.comment(comment_id) is not None:
        raise ValueError(f"comment {comment_id} posted twice")
    waiting = False  # a reply to a comment awaiting review waits with it (imports)
    if parent_id is None:
        root_seq, depth, path, ancestors = position, 0, seq_key(position), []
    else:
        parent = rows.comment(parent_id)
        if parent is None:
            stashed = rows.stashed(parent_id)
            parent, waiting = (stashed[0], True) if stashed is not None else (None, False)
        if parent is None:
            raise LookupError(f"parent {parent_id} of comment {comment_id} unknown")
        root_seq, depth = parent["root_seq"], parent["depth"] + 1
        path = f"{parent['path']}/{seq_key(position)}"
        ancestors = [int(part) for part in parent["path"].split("/")]
    at = record["at"]
    row = {
        "comment_id": comment_id,
        "thread_id": thread_id,
        "parent_id": parent_id,
        "root_seq": root_seq,
        "seq": position,
        "depth": depth,
        "path": path,
        "author_id": record["author_id"],
        "author_name": record["author_name"],
        "text": record["text"],
        "state": VISIBLE,
        "state_reason": None,
        "posted_at": at,
        "edited_at": None,
        "edit_count": 0,
        "version": record["version"],
        "text_version": record["version"],
        "reply_count": 0,
        "descendant_count": 0,
        "last_position": position,
    }
    if waiting:
        rows.stash(comment_id, row, held=False)
        rows.touch(thread_id, Touch(position, at))
        return
    rows.add_comment(row, ancestors)
    rows.touch(thread_id, Touch(position, at, comments=1, visible=1, top_level=int(depth == 0)))


# Each returns the change of the thread's visible count.


def _edited(rows: Rows, row: dict, record: dict, position: int) -> int:
    values = {
        "edited_at": record["at"],
        "edit_count": row["edit_count"] + 1,
        "text_version": record["version"],
    }
    if row["state"] == HIDDEN:
        kept = rows.kept(row["comment_id"])
        if kept is not None:
            rows.keep(row["comment_id"], {**kept, "text": record["text"]})
    else:
        values["text"] = record["text"]
    rows.change(row, position, record["version"], **values)
    return 0


def _retracted(rows: Rows, row: dict, record: dict, position: int) -> int:
    # The row stays as a placeholder so its replies keep their place; the revisions
    # projection keeps the history.
    was = row["state"]
    rows.keep(row["comment_id"], None)
    rows.change(
        row,
        position,
        record["version"],
        **WITHDRAWN,
        state=RETRACTED,
        state_reason=record["reason"],
    )
    return -1 if was == VISIBLE else 0


def _hidden(rows: Rows, row: dict, record: dict, position: int) -> int:
    copy = {"author_id": row["author_id"], "author_name": row["author_name"], "text": row["text"]}
    rows.keep(row["comment_id"], copy)
    rows.change(
        row, position, record["version"], **WITHDRAWN, state=HIDDEN, state_reason=record["reason"]
    )
    return -1


def _restored(rows: Rows, row: dict, record: dict, position: int) -> int:
    kept = rows.kept(row["comment_id"])
    if kept is None:
        raise LookupError(f"comment {row['comment_id']} has no hidden text to restore")
    rows.keep(row["comment_id"], None)
    rows.change(
        row,
        position,
        record["version"],
        state=VISIBLE,
        state_reason=None,
        author_id=kept["author_id"],
        author_name=kept["author_name"],
        text=kept["text"],
    )
    return 1


# Decisions that withhold content (projections/visibility.py decides who sees what): the
# comment's version and the thread's position move, so every cached view is built
# again; erased texts are dropped from the rows as well.


def _erased(rows: Rows, row: dict, record: dict, position: int) -> int:
    rows.keep(row["comment_id"], None)
    rows.change(row, position, record["version"], text=None)
    return 0


def _revision_erased(rows: Rows, row: dict, record: dict, position: int) -> int:
    current = row["text_version"] == record["revision"]
    rows.change(row, position, record["version"], **({"text": None} if current else {}))
    return 0


def _revision_decided(rows: Rows, row: dict, record: dict, position: int) -> int:
    rows.change(row, position, record["version"])
    return 0


_COMMENT_CHANGES: dict[str, Callable[[Rows, dict, dict, int], int]] = {
    "edited": _edited,
    "retracted": _retracted,
    "hidden": _hidden,
    "restored": _restored,
    "erased": _erased,
    "revision_erased": _revision_erased,
    "revision_decided": _revision_decided,
}

# ---- review (issue 13) ---------------------------------------------------------------


def _change_stashed(rows: Rows, kind: str, record: dict, position: int) -> None:
    """A change to a comment kept out of the rows (awaiting review) changes its copy."""
    stashed = rows.stashed(record["comment_id"])
    if stashed is None:
        return
    row, held = dict(stashed[0]), stashed[1]
    _COMMENT_CHANGES[kind](_Detached(rows), row, record, position)
    rows.stash(record["comment_id"], row, held)


class _Detached:
    """The Rows seen by a change to a stashed row: its values change in the copy only."""

    def __init__(self, rows: Rows):
        self.rows = rows

    def change(self, row: dict, position: int, version: int, **values: Any) -> None:
        row.update(values, version=version, last_position=position)

    def kept(self, comment_id: str) -> dict[str, Any] | None:
        return self.rows.kept(comment_id)

    def keep(self, comment_id: str, copy: dict[str, Any] | None) -> None:
        self.rows.keep(comment_id, copy)


def _ancestors(row: dict) -> list[int]:
    return [int(part) for part in row["path"].split("/")[:-1]]


def _counted(row: dict, sign: int) -> dict[str, int]:
    return {
        "comments": sign,
        "visible": sign * int(row["state"] == VISIBLE),
        "top_level": sign * int(row["depth"] == 0),
    }


def _held(rows: Rows, record: dict, position: int) -> dict[str, int]:
    cid = record["comment_id"]
    row = rows.comment(cid)
    if row is None:  # held again while out of the rows: its copy moves on
        _change_stashed(rows, "revision_decided", record, position)
        return {}
    rows.change(row, position, record["version"])
    if not record["unpublished"]:
        return {}
    rows.remove_comment(row, _ancestors(row))
    rows.stash(cid, dict(row), held=True)
    return _counted(row, -1)


def _approved(rows: Rows, record: dict, position: int) -> dict[str, int]:
    cid = record["comment_id"]
    row = rows.comment(cid)
    if row is not None:  # an edit approved: the row has its text already
        rows.change(row, position, record["version"])
        return {}
    stashed = rows.stashed(cid)
    if stashed is None:
        return {}
    row = {**stashed[0], "version": record["version"], "last_position": position}
    totals = {"comments": 0, "visible": 0, "top_level": 0}
    # The comment and the replies that waited for it go back in posting order.
    todo = [(cid, row)]
    while todo:
        comment_id, row = todo.pop()
        rows.stash(comment_id, None)
        rows.add_comment(row, _ancestors(row))
        for key, value in _counted(row, 1).items():
            totals[key] += value
        for reply_id in rows.stashed_replies(comment_id):
            reply = rows.stashed(reply_id)
            if reply is not None and not reply[1]:
                todo.append((reply_id, dict(reply[0])))
    return totals


def _rejected(rows: Rows, record: dict, position: int) -> dict[str, int]:
    cid = record["comment_id"]
    row = rows.comment(cid)
    if row is not None:  # an edit rejected: readers keep the approved revision
        rows.change(row, position, record["version"])
    else:
        _change_stashed(rows, "revision_decided", record, position)
    return {}


_REVIEW_CHANGES: dict[str, Callable[[Rows, dict, int], dict[str, int]]] = {
    "held": _held,
    "approved": _approved,
    "rejected": _rejected,
}

# The events the rows are built from.
EVENT_TYPES = (
    Thread.Opened,
    Thread.Retitled,
    Thread.Locked,
    Thread.Unlocked,
    Comment.Posted,
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
