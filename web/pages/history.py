"""A comment's history: every revision with its time, editor and reason, word-level
diffs between consecutive versions, and a form to compare any two versions.

The page reads the same named queries as the JSON API (projections/history.py:
comment_history and comment_diff), so the same visibility policy applies: what the
reader may not see today (an erased comment, revision or author; a hidden comment's
texts; a retracted comment's texts but for its author and moderators; a suppressed
revision's text or edit reason; reasons of moderation) is replaced by a note that says
why and since when. With DISCUSS_HISTORY_POLICY=restricted the whole page is for the
comment's author and moderators only."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import current_app, render_template, url_for

from projections import diffs, queries, visibility
from projections import history as record
from projections.visibility import Viewer
from web.pages import bp
from web.pages.args import page_args
from web.pages.common import engine, is_moderator, thread_url, viewer
from web.pages.errors import error_page
from web.pages.locate import place, url_of
from web.schemas_pages import CompareQuery, CursorQuery

_compare_query = CompareQuery()
_cursor_query = CursorQuery()

KIND_TITLES = {
    "posted": "Posted",
    "edited": "Edited",
    "retracted": "Retracted by its author",
    "hidden": "Removed by a moderator",
    "restored": "Restored by a moderator",
    "erased": "Erased",
    "revision_erased": "A version erased",
    "revision_suppressed": "A version suppressed",
    "revision_unsuppressed": "A version unsuppressed",
}
# After "This comment was <note>": what the reader may not do.
WHY_WITHHELD = {
    "hidden": ": its texts are for moderators only.",
    "retracted": ": its texts are for its author and moderators only.",
    "erased": ": nobody can read its texts any more.",
}
SUPPRESSED_WORDS = {"text": "its text", "edit_reason": "its edit reason"}
AUTHOR_WITHHELD = "the author"


def _sentence(subject: str, note: str | None, label: str | None = None) -> str | None:
    """'Version 2 was erased on 6 December 2026 (it exposed personal data)'."""
    if note is None:
        return None
    if note == visibility.UNAVAILABLE_NOTE:
        return f"{subject}: content unavailable"
    return f"{subject} was {note}" + (f" ({label})" if label else "")


def _reason_note(note: str | None, comment_note: str | None) -> str | None:
    if note is None or note == comment_note:
        return None
    return f"Reason not shown: {note}"


def _decision(entry: dict[str, Any]) -> str | None:
    """What an erasure or a suppression did, in words, without any content."""
    kind, revision = entry["kind"], entry["revision"]
    if kind == "erased":
        return f"Every version of this comment was erased ({entry['basis_label']})."
    if kind == "revision_erased":
        return f"Version {revision} was erased ({entry['basis_label']})."
    if kind == "revision_suppressed":
        parts = " and ".join(SUPPRESSED_WORDS.get(p, p) for p in entry["suppressed"] or [])
        return f"Version {revision}: {parts or 'its content'} withheld by a moderator."
    if kind == "revision_unsuppressed":
        return f"Version {revision} is readable again."
    return None


def _items(body: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """(the page's items, version -> readable text). Spans are drawn only between two
    readable consecutive versions: a diff against a withheld text would show it."""
    erasure_labels: dict[int | None, str] = {}
    for entry in body["entries"]:
        if entry["kind"] == "revision_erased":
            erasure_labels[entry["revision"]] = entry["basis_label"]
        elif entry["kind"] == "erased":
            erasure_labels[None] = entry["basis_label"]
    items, texts = [], {}
    previous: str | None = None
    for entry in body["entries"]:
        version, kind = entry["version"], entry["kind"]
        actor = entry["actor"]
        item = {
            "version": version,
            "kind": kind,
            "title": KIND_TITLES.get(kind, kind),
            "at": entry["at"],
            "actor": actor["name"] if actor else AUTHOR_WITHHELD,
            "reason": entry["reason"],
            "reason_withheld": _reason_note(entry["reason_withheld"], body["withheld"]),
            "position": entry["position"],
            "text": None,
            "spans": None,
            "withheld": None,
            "decision": _decision(entry),
        }
        if kind in record.TEXT_KINDS:
            text = entry["text"]
            if text is None and entry["withheld"] == body["withheld"]:
                pass  # the comment's own note (at the top of the page) says it all
            elif text is None:
                label = None
                if (entry["withheld"] or "").startswith("erased"):
                    label = erasure_labels.get(version) or erasure_labels.get(None)
                item["withheld"] = _sentence(f"Version {version}", entry["withheld"], label)
            else:
                texts[version] = text
                item["text"] = text
                if previous is not None:
                    item["spans"] = diffs.word_spans(previous, text)
            previous = text
        items.append(item)
    return items, texts


def _compare(
    comment_id: str, who: Viewer, versions: list[int], restricted: bool
) -> dict[str, Any] | None:
    """The compare form's diff (comment_diff, the API's query), between readable
    versions only."""
    if len(versions) < 2:
        return None
    asked = page_args(_compare_query)
    old, new = asked["from_"], asked["to"]
    old = old if old in versions else versions[0]
    new = new if new in versions else versions[-1]
    try:
        diff = record.comment_diff(engine(), comment_id, who, old, new, restricted=restricted)
    except record.HistoryError:
        return None
    spans = diff["spans"]
    return {
        "from": old,
        "to": new,
        "spans": spans,
        "same": all(s["op"] == "equal" for s in spans),
    }


@bp.get("/c/<uuid:comment_id>/history")
def history(comment_id: UUID):
    cid = str(comment_id)
    eng = engine()
    who = Viewer.of(viewer())
    restricted = current_app.extensions["discuss_settings"].history_policy == "restricted"
    try:
        body = record.comment_history(eng, cid, who, restricted=restricted)
    except record.UnknownComment as error:
        raise queries.NotInView(error.message) from None
    except record.HistoryRefused:
        return error_page(403, "The history of a comment is for its author and moderators.")
    items, texts = _items(body)
    versions = sorted(texts)
    withheld = None
    if body["text_withheld"]:
        cause = body["withheld_cause"]
        label = next((e["basis_label"] for e in body["entries"] if e["kind"] == "erased"), None)
        sentence = _sentence("This comment", body["withheld"], label if cause == "erased" else None)
        withheld = (sentence or "") + WHY_WITHHELD.get(cause or "", ".")

    thread = queries.thread_meta(queries.thread_row(eng, body["thread_id"]))
    where = place(eng, cid)
    author = body["author"]
    return render_template(
        "history.html",
        comment_id=cid,
        number=where.number if where else "",
        comment_url=url_of(eng, where, thread) if where else thread_url(thread),
        thread=thread,
        thread_link=thread_url(thread),
        author=author["name"] if author else None,
        items=items,
        versions=versions,
        compare=_compare(cid, who, versions, restricted),
        withheld=withheld,
        state=body["state"],
        moderator=is_moderator(),
    )


# ---- the public ledger of erasures ------------------------------------------------------

LEDGER_PAGE = 50
LEDGER_KINDS = {
    "comment": "A comment",
    "revision": "A version of a comment",
    "author": "An account and everything its author wrote",
}


@bp.get("/audit/erasures")
def erasures():
    """Public: what was erased, when, by whom and on which basis, never what it said
    (projections/history.py's erasures, the API's query)."""
    eng = engine()
    cursor = page_args(_cursor_query)["cursor"]
    ledger = record.erasures(eng, cursor=cursor, limit=LEDGER_PAGE)
    threads: dict[str, dict[str, Any] | None] = {}
    for entry in ledger["entries"]:
        thread_id = entry["thread_id"]
        if thread_id and thread_id not in threads:
            try:
                threads[thread_id] = queries.thread_meta(queries.thread_row(eng, thread_id))
            except queries.NotInView:
                threads[thread_id] = None
    entries = []
    for entry in ledger["entries"]:
        thread = threads.get(entry["thread_id"] or "")
        entries.append(
            {
                **entry,
                "what": LEDGER_KINDS[entry["kind"]],
                "thread": thread,
                "thread_link": thread_url(thread) if thread else None,
            }
        )
    next_url = (
        url_for("pages.erasures", cursor=ledger["next_cursor"])
        if ledger["next_cursor"] is not None
        else None
    )
    return render_template(
        "erasures.html",
        entries=entries,
        next_url=next_url,
        first_url=url_for("pages.erasures") if cursor is not None else None,
    )
