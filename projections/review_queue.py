"""What a moderator reviews, and what an author sees of their comments awaiting review
(issue 13): the queue's rows (projections/moderation.py) with their texts, the diff
of a held edit against the revision readers see, thread titles and author names.

Every text goes through the one visibility policy (projections/visibility.py, the
RECORD surface): a pending revision is for its author and moderators; one erased
meanwhile is shown to nobody.
"""

from __future__ import annotations

from typing import Any

from projections import diffs, visibility
from projections.engine import Engine
from projections.moderation import pending_in_thread, queue_rows, queue_size
from projections.visibility import RECORD, Opening, Viewer


def _texts(engine: Engine, wanted: set[tuple[str, int]]) -> dict[tuple[str, int], str | None]:
    if not wanted:
        return {}
    rv = engine.tables("revisions").revisions
    sql = engine.store.reader()
    ids = sorted({c for c, _ in wanted})
    marks = ", ".join("?" * len(ids))
    found = {}
    for r in sql.execute(
        f"SELECT comment_id, version, text FROM {rv} WHERE comment_id IN ({marks})"
        " AND kind IN ('posted', 'edited')",
        ids,
    ).all():
        if (r["comment_id"], r["version"]) in wanted:
            found[(r["comment_id"], r["version"])] = r["text"]
    return found


def _titles(engine: Engine, thread_ids: set[str]) -> dict[str, str]:
    if not thread_ids:
        return {}
    t = engine.tables("threads")
    ids = sorted(thread_ids)
    marks = ", ".join("?" * len(ids))
    rows = (
        engine.store.reader()
        .execute(f"SELECT thread_id, title FROM {t.threads} WHERE thread_id IN ({marks})", ids)
        .all()
    )
    return {r["thread_id"]: r["title"] for r in rows}


def present(engine: Engine, rows: list[dict[str, Any]], viewer: Viewer) -> list[dict[str, Any]]:
    """Queue rows as items: text, diff for edits, names; what the viewer may read."""
    decided = visibility.decisions_for(engine, [r["comment_id"] for r in rows])
    wanted = {(r["comment_id"], r["revision"]) for r in rows}
    wanted |= {(r["comment_id"], r["shown_revision"]) for r in rows if r["shown_revision"]}
    sealed = _texts(engine, wanted)
    opening = Opening(engine)
    for value in sealed.values():
        opening.want(value)
    opening.run()
    names = visibility.author_names(engine, {r["author_id"] for r in rows})
    titles = _titles(engine, {r["thread_id"] for r in rows})
    items = []
    for r in rows:
        d, author_id = decided.get(r["comment_id"]), r["author_id"]

        text, withheld = _read(opening, sealed, d, viewer, r, r["revision"])
        before, _ = _read(opening, sealed, d, viewer, r, r["shown_revision"])
        edit = r["shown_revision"] is not None
        items.append(
            {
                "comment_id": r["comment_id"],
                "thread_id": r["thread_id"],
                "thread_title": titles.get(r["thread_id"]),
                "author": {"id": author_id, "name": names.get(author_id)},
                "author_history": {
                    "posted": r.get("posted", 0),
                    "approved": r.get("approved", 0),
                    "rejected": r.get("rejected", 0),
                },
                "kind": "edit" if edit else "comment",
                "revision": r["revision"],
                "shown_revision": r["shown_revision"],
                "rules": [x for x in r["rules"].split(",") if x],
                "held_at": r["held_at"],
                "position": r["position"],
                "text": text,
                "withheld": withheld,
                "diff": (
                    diffs.word_spans(before, text)
                    if edit and before is not None and text is not None
                    else None
                ),
            }
        )
    return items


def _read(
    opening: Opening, sealed: dict, d: Any, viewer: Viewer, r: dict, revision: int | None
) -> tuple[str | None, str | None]:
    """A revision's text if the policy lets the viewer read it, else why not."""
    if revision is None:
        return None, None
    verdict = visibility.text_verdict(d, viewer, r["author_id"], revision, RECORD)
    if not verdict.shown:
        return None, verdict.note
    text, lost = opening.text(sealed.get((r["comment_id"], revision)))
    return text, (visibility.UNAVAILABLE_NOTE if lost else None)


def queue_page(engine: Engine, viewer: Viewer, limit: int = 50, after: int | None = None) -> dict:
    rows = queue_rows(engine, limit + 1, after)
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": present(engine, rows, viewer),
        "total": queue_size(engine),
        "next_cursor": rows[-1]["position"] if more and rows else None,
    }


def awaiting_review(engine: Engine, thread_id: str, viewer: Viewer) -> list[dict[str, Any]]:
    """The viewer's own comments and edits awaiting review in a thread (all of them
    for a moderator): the thread page marks them "awaiting review"."""
    if viewer.author_id is None:
        return []
    rows = [
        r
        for r in pending_in_thread(engine, thread_id)
        if viewer.moderator or r["author_id"] == viewer.author_id
    ]
    return present(engine, rows, viewer)
