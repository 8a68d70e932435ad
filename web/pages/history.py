"""A comment's history: every revision with its time, editor and reason, word-level
diffs between consecutive versions, and a form to compare any two versions.

The same rules as the JSON API's history (web/api/history.py): the texts of a comment
removed by a moderator (or retracted while removed) are for moderators only, and so
are the reasons of removals and restorations. With DISCUSS_HISTORY_POLICY=restricted
the whole page is for the comment's author and moderators only."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import current_app, render_template, request

from domain.model import OPERATOR_ID
from projections import diffs, queries
from web.pages import bp
from web.pages.common import engine, is_moderator, thread_url, viewer_id
from web.pages.errors import error_page
from web.pages.locate import place, url_of

MODERATION = ("hidden", "restored")
KIND_TITLES = {
    "posted": "Posted",
    "edited": "Edited",
    "retracted": "Retracted by its author",
    "hidden": "Removed by a moderator",
    "restored": "Restored by a moderator",
}


def revisions(comment_id: str) -> list[dict[str, Any]]:
    eng = engine()
    table = eng.tables("revisions").revisions
    return (
        eng.store.reader()
        .execute(f"SELECT * FROM {table} WHERE comment_id = ? ORDER BY version", (comment_id,))
        .all()
    )


def current_state(rows: list[dict]) -> tuple[str, bool]:
    """(state, texts withheld from readers): removed, or retracted while removed."""
    state, withheld = "visible", False
    for row in rows:
        kind = row["kind"]
        if kind == "hidden":
            state, withheld = "hidden", True
        elif kind == "restored":
            state, withheld = "visible", False
        elif kind == "retracted":
            state = "retracted"
    return state, withheld


def author_names(ids: set[str]) -> dict[str, str]:
    eng = engine()
    names = {str(OPERATOR_ID): "the operator"}
    wanted = sorted(i for i in ids if i not in names)
    if wanted:
        table = eng.tables("threads").authors
        marks = ", ".join("?" * len(wanted))
        rows = (
            eng.store.reader()
            .execute(f"SELECT author_id, name FROM {table} WHERE author_id IN ({marks})", wanted)
            .all()
        )
        names.update({r["author_id"]: r["name"] for r in rows})
    return names


@bp.get("/c/<uuid:comment_id>/history")
def history(comment_id: UUID):
    cid = str(comment_id)
    rows = revisions(cid)
    if not rows:
        raise queries.NotInView(f"no comment with id {cid}")
    eng = engine()
    author_id = rows[0]["actor_id"]
    moderator = is_moderator()
    own = viewer_id() == author_id
    policy = current_app.extensions["discuss_config"].history_policy
    if policy == "restricted" and not (own or moderator):
        return error_page(403, "The history of a comment is for its author and moderators.")
    state, removed = current_state(rows)
    withheld = None
    if removed and not moderator:
        withheld = "This comment was removed by a moderator: its texts are for moderators only."
    names = author_names({r["actor_id"] for r in rows})

    items, texts = [], {}
    previous: str | None = None
    for row in rows:
        item = {
            "version": row["version"],
            "kind": row["kind"],
            "title": KIND_TITLES.get(row["kind"], row["kind"]),
            "at": row["at"],
            "actor": (
                "the author"
                if withheld and row["actor_id"] == author_id
                else names.get(row["actor_id"], "unknown author")
            ),
            "reason": None if row["kind"] in MODERATION and not moderator else row["reason"],
            "position": row["position"],
            "text": None,
            "spans": None,
        }
        if row["text"] is not None:
            texts[row["version"]] = row["text"]
            if withheld is None:
                item["text"] = row["text"]
                if previous is not None:
                    item["spans"] = diffs.word_spans(previous, row["text"])
            previous = row["text"]
        items.append(item)

    versions = sorted(texts)
    compare = None
    if withheld is None and len(versions) > 1:
        old = request.args.get("from", type=int)
        new = request.args.get("to", type=int)
        old = old if old in texts else versions[0]
        new = new if new in texts else versions[-1]
        compare = {
            "from": old,
            "to": new,
            "spans": diffs.word_spans(texts[old], texts[new]),
            "same": texts[old] == texts[new],
        }

    thread = queries.thread_meta(queries.thread_row(eng, rows[0]["thread_id"]))
    where = place(eng, cid)
    return render_template(
        "history.html",
        comment_id=cid,
        number=where.number if where else "",
        comment_url=url_of(eng, where, thread) if where else thread_url(thread),
        thread=thread,
        thread_link=thread_url(thread),
        author=names.get(author_id, "unknown author") if withheld is None else None,
        items=items,
        versions=versions,
        compare=compare,
        withheld=withheld,
        state=state,
    )
