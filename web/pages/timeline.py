"""The time slider of a thread page: the thread's change points, and the thread as it
was at one of them. Both come from projections built for it (projections.audit_log's
timeline and projections.time_travel), imported where used."""

from __future__ import annotations

from typing import Any

from projections import queries
from projections.engine import Engine
from web.pages.locate import numbers

MAX_POINTS = 2000  # the slider covers a thread's latest changes, up to this many

WORDS = {
    "Thread.Opened": "the thread was opened",
    "Thread.Retitled": "the thread was retitled",
    "Thread.Locked": "the thread was locked",
    "Thread.Unlocked": "the thread was unlocked",
    "Comment.Posted": "{who} posted comment {number}",
    "Comment.Edited": "{who} edited comment {number}",
    "Comment.Retracted": "{who} retracted comment {number}",
    "Comment.Hidden": "{who} removed comment {number}",
    "Comment.Restored": "{who} restored comment {number}",
}
MODERATION = ("Comment.Hidden", "Comment.Restored")


def change_points(engine: Engine, thread_id: str, moderator: bool = False) -> list[dict[str, Any]]:
    """[{position, at, label}] oldest first; the last one is the live thread."""
    from projections.audit_log import timeline

    numbered = numbers(engine, thread_id)
    points: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = timeline(engine, thread_id, cursor=cursor, limit=1000, moderator=moderator)
        for entry in page["entries"]:
            kind = entry["kind"]
            actor = (entry.get("actor") or {}).get("name") or "someone"
            if kind in MODERATION and not moderator:
                actor = "a moderator"
            template = WORDS.get(kind, kind)
            label = template.format(who=actor, number=numbered.get(entry["comment_id"], "?"))
            label = label[:1].upper() + label[1:]
            points.append({"position": entry["position"], "at": entry["at"], "label": label})
        cursor = page["next_cursor"]
        if cursor is None:
            break
    return points[-MAX_POINTS:]


def thread_as_of(engine: Engine, thread_id: str, req: queries.PageRequest, position: int):
    """The thread page as it was at a log position, with "as_of": {position, at}."""
    from projections.time_travel import thread_page_as_of

    return thread_page_as_of(engine, thread_id, req, position)
