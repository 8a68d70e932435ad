"""The time slider of a thread page: the range of the thread's change points, the
latest few of them, and the thread as it was at one of them. Both come from
projections built for it (projections.audit_log's timeline and
projections.time_travel), imported where used.

A page never reads every change point: it renders the slider's range (how many
points, the first and last positions), the labels of the latest LATEST_POINTS (and
of the point shown), and the script reads the others on demand from the JSON API
(`GET /api/v1/threads/{id}/timeline`). Without JavaScript the form sends the index
of a change (`?step=`), which `position_at` turns into a log position.
"""

from __future__ import annotations

from typing import Any

from projections import slider as points
from projections.engine import Engine
from projections.locate import numbers_for
from projections.queries import PageRequest
from projections.slider import position_at

__all__ = ["position_at", "slider", "thread_as_of"]

LATEST_POINTS = 50  # change points rendered in the page (the script reads the others)

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
    "Comment.Held": "a comment was held for review",
    "Comment.Approved": "{who} approved comment {number}",
    "Comment.Rejected": "{who} rejected a comment held for review",
    "Thread.PremoderationSwitched": "pre-moderation was switched",
}
MODERATION = ("Comment.Hidden", "Comment.Restored", "Comment.Approved", "Comment.Rejected")


def _labelled(
    engine: Engine, thread_id: str, entries: list[dict], moderator: bool
) -> list[dict[str, Any]]:
    numbered = numbers_for(engine, thread_id, [e["comment_id"] for e in entries])
    points = []
    for entry in entries:
        kind = entry["type"]
        actor = (entry.get("actor") or {}).get("name") or "someone"
        if kind in MODERATION and not moderator:
            actor = "a moderator"
        template = WORDS.get(kind, kind)
        label = template.format(who=actor, number=numbered.get(entry["comment_id"], "?"))
        label = label[:1].upper() + label[1:]
        points.append({"position": entry["position"], "at": entry["at"], "label": label})
    return points


def slider(
    engine: Engine, thread_id: str, moderator: bool = False, at: int | None = None
) -> dict[str, Any]:
    """{count, first, last, current (index), point (the current one), points (the
    latest few, each with its index)}: a handful of indexed reads."""
    from projections.audit_log import audit_page

    result: dict[str, Any] = {**points.span(engine, thread_id, moderator), "current": 0}
    result.update(point=None, points=[])
    count = result["count"]
    if count == 0:
        return result
    result["current"] = count - 1
    latest = audit_page(
        engine, thread_id=thread_id, limit=LATEST_POINTS, newest_first=True, moderator=moderator
    )["entries"][::-1]
    entries = list(latest)
    current_entry = latest[-1]
    if at is not None:
        result["current"] = max(0, points.points_up_to(engine, thread_id, at, moderator) - 1)
        older = audit_page(
            engine,
            thread_id=thread_id,
            cursor=at + 1,
            limit=1,
            newest_first=True,
            moderator=moderator,
        )["entries"]
        if older:
            current_entry = older[0]
            if all(e["position"] != current_entry["position"] for e in entries):
                entries.append(current_entry)
        else:
            current_entry = entries[0]
    labelled = {p["position"]: p for p in _labelled(engine, thread_id, entries, moderator)}
    start = count - len(latest)
    result["points"] = [
        {**labelled[e["position"]], "index": start + i} for i, e in enumerate(latest)
    ]
    result["point"] = labelled[current_entry["position"]]
    return result


def thread_as_of(engine: Engine, thread_id: str, req: PageRequest, position: int):
    """The thread page as it was at a log position, with "as_of": {position, at}."""
    from projections.time_travel import thread_page_as_of

    return thread_page_as_of(engine, thread_id, req, position)
