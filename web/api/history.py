"""Audit trail and time travel for readers: a comment's full history and diffs between
its versions, a thread as it was at any moment (`GET /threads/{id}?as_of=` or `?at=`,
delegated here by web/api/threads.py), a thread's timeline and its changes between
two points.

History policy (DISCUSS_HISTORY_POLICY): "public" lets anyone read a comment's history;
"restricted" only its author and moderators. Either way, the texts of a comment hidden
by a moderator (or retracted while hidden) are for moderators only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from flask import Blueprint, current_app

from projections import audit_log, diffs, queries, time_travel
from projections.engine import Engine
from web.api.caching import CACHE_CONTROL, cached_json
from web.api.common import json_response, load_query
from web.api.reads import engine, on_serving_tables, serving_thread, wait_for_position
from web.auth import current_author, is_moderator
from web.errors import ApiError
from web.openapi import operation
from web.schemas_history import (
    Changes,
    ChangesQuery,
    CommentDiff,
    CommentHistory,
    DiffQuery,
    ReadQuery,
    ThreadAsOfPage,
    ThreadAsOfQuery,
    Timeline,
    TimelineQuery,
)

bp = Blueprint("history", __name__)

PRIVATE = "private, max-age=0, must-revalidate"
TEXT_KINDS = ("posted", "edited")

_as_of_schema = ThreadAsOfPage()
_history_schema = CommentHistory()
_diff_schema = CommentDiff()
_timeline_schema = Timeline()
_changes_schema = Changes()


def _history_policy() -> str:
    config = current_app.extensions.get("discuss_config")
    return getattr(config, "history_policy", "public")


def _vary(response):
    response.headers["Vary"] = "Authorization, Cookie"
    return response


# ---- a thread as it was --------------------------------------------------------------


def _not_yet(thread_id: str, span: dict, when: str) -> ApiError:
    return ApiError(
        404,
        "not_found",
        f"thread {thread_id} did not exist yet at {when}: it was opened at position"
        f" {span['opened_position']} ({span['opened_at']})",
    )


def _effective_position(eng: Engine, thread_id: str, position: int) -> int:
    """The position of the thread's last event at or before `position`."""
    t = eng.tables("time_travel")
    found = (
        eng.store.reader()
        .execute(
            f"SELECT MAX(position) AS p FROM {t.events} WHERE thread_id = ? AND position <= ?",
            (thread_id, position),
        )
        .scalar()
    )
    return int(found)


def thread_as_of_response(thread_id: str):
    """GET /threads/{id}?as_of=<RFC 3339> or ?at=<position>: the live page's shape and
    pagination, plus `as_of` (the position and time it reflects). A point in the future
    (or beyond what the projection has seen) reads the latest state.

    A past view shows the structure as it was with today's decisions applied, so its
    body changes whenever something in the thread is decided (hidden, retracted,
    erased...): never `immutable`. Its ETag carries the thread's current position, which
    every decision advances, and clients revalidate."""
    args = load_query(ThreadAsOfQuery())
    wait_for_position(args["min_position"])
    eng = engine()
    span = time_travel.thread_span(eng, thread_id)
    if span is None or span["opened_position"] is None:
        raise ApiError(404, "not_found", f"no thread with id {thread_id}")
    tracked = eng.position("time_travel")
    if args["at"] is not None:
        requested = args["at"]
        if requested < span["opened_position"]:
            raise _not_yet(thread_id, span, f"position {requested}")
        position = min(requested, tracked)
    else:
        when: datetime = args["as_of"]
        now = datetime.now(UTC)
        key = time_travel.time_key(when)
        if when >= now:
            position = tracked
        else:
            found = time_travel.position_for_time(eng, thread_id, when)
            if found is None:
                raise _not_yet(thread_id, span, key)
            position = found
    effective = _effective_position(eng, thread_id, position)
    moderator = is_moderator()
    req = queries.PageRequest(
        limit=args["limit"],
        cursor=args["cursor"],
        depth=args["depth"],
        sort=args["sort"],
        moderator=moderator,
    )

    def build() -> bytes:
        page = time_travel.thread_page_as_of(eng, thread_id, req, effective)
        return orjson.dumps(_as_of_schema.dump(page))

    def respond():
        # The thread's position now: every decision about its comments advances it.
        tables, row = serving_thread(eng, thread_id)
        return cached_json(
            ("thread-as-of", thread_id, effective, row["last_position"], tables.generation, req),
            build,
            PRIVATE if moderator else CACHE_CONTROL,
            group=thread_id,
            version=row["last_position"],
        )

    return _vary(on_serving_tables(eng, respond))


# ---- a comment's history -------------------------------------------------------------


def _revisions(eng: Engine, comment_id: str) -> list[dict[str, Any]]:
    t = eng.tables("revisions")
    rows = (
        eng.store.reader()
        .execute(
            f"SELECT * FROM {t.revisions} WHERE comment_id = ? ORDER BY version", (comment_id,)
        )
        .all()
    )
    if not rows:
        raise ApiError(404, "not_found", f"no comment with id {comment_id}")
    return rows


def _state(rows: list[dict]) -> tuple[str, bool]:
    """(current state, texts withheld): hidden, or retracted while hidden."""
    state, withheld = "visible", False
    for row in rows:
        kind = row["kind"]
        if kind == "hidden":
            state, withheld = "hidden", True
        elif kind == "restored":
            state, withheld = "visible", False
        elif kind == "retracted":
            state = "retracted"  # retracted while hidden: the texts stay withheld
    return state, withheld


def _allowed(rows: list[dict]) -> bool:
    """Apply the history policy to the caller (403 if refused); True for a moderator."""
    author = current_author()
    moderator = bool(author and author.is_moderator)
    if _history_policy() == "restricted" and not moderator:
        posted_by = rows[0]["actor_id"]
        if author is None or str(author.id) != posted_by:
            raise ApiError(
                403,
                "permission_denied",
                "the history of a comment is for its author and moderators only"
                + ("" if author else ": sign in"),
            )
    return moderator


def _entry(row: dict, names: dict[str, str], moderator: bool, withheld: bool) -> dict:
    text = row["text"] if row["kind"] in TEXT_KINDS and (moderator or not withheld) else None
    moderation = row["kind"] in ("hidden", "restored")
    return {
        "version": row["version"],
        "kind": row["kind"],
        "text": text,
        "actor": {"id": row["actor_id"], "name": names.get(row["actor_id"])},
        "at": row["at"],
        "reason": None if moderation and not moderator else row["reason"],
        "position": row["position"],
    }


@bp.get("/comments/<uuid:comment_id>/history")
@operation(
    "Read every revision of a comment",
    tags=["history"],
    query=ReadQuery,
    auth="optional",
    cached=True,
    errors=(403,),
    responses={200: (CommentHistory, "Every version and change of state, oldest first")},
    description=(
        "Each text version (posted, edited) with its editor, time, reason and log position,"
        " and each retraction, hiding and restoration with who and why. With"
        " DISCUSS_HISTORY_POLICY=restricted only the comment's author and moderators may"
        " read it (403 otherwise). The texts of a hidden comment are for moderators only"
        " (null, with text_withheld true)."
    ),
)
def comment_history(comment_id):
    args = load_query(ReadQuery())
    wait_for_position(args["min_position"])
    eng = engine()
    comment_id = str(comment_id)
    rows = _revisions(eng, comment_id)
    moderator = _allowed(rows)
    state, withheld = _state(rows)

    def build() -> bytes:
        names = audit_log.author_names(eng, {r["actor_id"] for r in rows})
        author_id = rows[0]["actor_id"]
        body = {
            "comment_id": comment_id,
            "thread_id": rows[0]["thread_id"],
            "author": {"id": author_id, "name": names.get(author_id)},
            "state": state,
            "text_withheld": withheld and not moderator,
            "revisions": sum(1 for r in rows if r["kind"] in TEXT_KINDS),
            "entries": [_entry(r, names, moderator, withheld) for r in rows],
        }
        return orjson.dumps(_history_schema.dump(body))

    restricted = _history_policy() == "restricted"
    return _vary(
        cached_json(
            ("history", comment_id, rows[-1]["position"], moderator, restricted),
            build,
            PRIVATE if moderator or restricted else CACHE_CONTROL,
        )
    )


@bp.get("/comments/<uuid:comment_id>/diff")
@operation(
    "Compare two versions of a comment",
    tags=["history"],
    query=DiffQuery,
    auth="optional",
    cached=True,
    errors=(403,),
    responses={200: (CommentDiff, "A unified diff and word-level spans, from -> to")},
    description=(
        "`from` and `to` are comment versions that carry a text (posted or edited); by"
        " default `to` is the latest text and `from` the one before it. 404 names the"
        " field when a version does not exist; 422 when it is a change of state (no text)."
        " The same policy as the history applies."
    ),
)
def comment_diff(comment_id):
    args = load_query(DiffQuery())
    wait_for_position(args["min_position"])
    eng = engine()
    comment_id = str(comment_id)
    rows = _revisions(eng, comment_id)
    moderator = _allowed(rows)
    _, withheld = _state(rows)
    if withheld and not moderator:
        raise ApiError(
            403,
            "permission_denied",
            "this comment was hidden by a moderator: its texts are for moderators only",
        )
    by_version = {r["version"]: r for r in rows}
    texts = [r for r in rows if r["kind"] in TEXT_KINDS]

    def pick(field: str, version: int) -> dict:
        row = by_version.get(version)
        if row is None:
            raise ApiError(
                404,
                "not_found",
                f"comment {comment_id} has no version {version}",
                fields={field: [f"no version {version}; the latest is {rows[-1]['version']}"]},
            )
        if row["kind"] not in TEXT_KINDS:
            raise ApiError(
                422,
                "validation_failed",
                "some fields are not valid",
                fields={
                    field: [f"version {version} is a change of state ({row['kind']}), no text"]
                },
            )
        return row

    new = pick("to", args["to"]) if args["to"] is not None else texts[-1]
    if args["from_"] is not None:
        old = pick("from", args["from_"])
    else:
        before = [r for r in texts if r["version"] < new["version"]]
        old = before[-1] if before else new

    def build() -> bytes:
        names = audit_log.author_names(eng, {old["actor_id"], new["actor_id"]})

        def side(row: dict) -> dict:
            entry = _entry(row, names, moderator, withheld)
            entry.pop("text")
            return entry

        body = {
            "comment_id": comment_id,
            "from": side(old),
            "to": side(new),
            "unified": diffs.unified(
                old["text"], new["text"], f"version {old['version']}", f"version {new['version']}"
            ),
            "spans": diffs.word_spans(old["text"], new["text"]),
        }
        return orjson.dumps(_diff_schema.dump(body))

    restricted = _history_policy() == "restricted"
    # Versions never change once recorded: the diff of two versions is immutable.
    return _vary(
        cached_json(
            ("diff", comment_id, old["version"], new["version"], moderator),
            build,
            PRIVATE if moderator or restricted else CACHE_CONTROL,
        )
    )


# ---- a thread's timeline and changes -------------------------------------------------


def _known_thread(eng: Engine, thread_id: str) -> None:
    if not audit_log.thread_known(eng, thread_id):
        raise ApiError(404, "not_found", f"no thread with id {thread_id}")


@bp.get("/threads/<uuid:thread_id>/timeline")
@operation(
    "Read a thread's timeline: every change, oldest first",
    tags=["history"],
    query=TimelineQuery,
    auth="optional",
    responses={200: (Timeline, "A page of change points; next_cursor reads on")},
    description=(
        "Each change point has its log position (pass it as `at` to read the thread as it"
        " was then), time, kind, comment, actor and a one-line summary."
    ),
)
def thread_timeline(thread_id):
    args = load_query(TimelineQuery())
    wait_for_position(args["min_position"])
    eng = engine()
    thread_id = str(thread_id)
    _known_thread(eng, thread_id)
    moderator = is_moderator()
    page = audit_log.timeline(
        eng, thread_id, cursor=args["cursor"], limit=args["limit"], moderator=moderator
    )
    return _vary(
        json_response(Timeline(), page, cache_control=PRIVATE if moderator else CACHE_CONTROL)
    )


def _point(eng: Engine, thread_id: str, value: int | datetime | None, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, int):
        return value
    return time_travel.position_for_time(eng, thread_id, value) or 0


@bp.get("/threads/<uuid:thread_id>/changes")
@operation(
    "What changed in a thread between two points",
    tags=["history"],
    query=ChangesQuery,
    auth="optional",
    responses={200: (Changes, "Comments added, edited, retracted, hidden and restored")},
    description=(
        "`from` and `to` are log positions or RFC 3339 moments: the changes after `from`"
        " up to and including `to`. Edited comments come with the version range."
    ),
)
def thread_changes(thread_id):
    args = load_query(ChangesQuery())
    wait_for_position(args["min_position"])
    eng = engine()
    thread_id = str(thread_id)
    _known_thread(eng, thread_id)
    start = _point(eng, thread_id, args["from_"], 0)
    stop = _point(eng, thread_id, args["to"], eng.position("audit"))
    if stop < start:
        raise ApiError(
            422,
            "validation_failed",
            "some fields are not valid",
            fields={"to": [f"`to` (position {stop}) is before `from` (position {start})"]},
        )
    moderator = is_moderator()
    body = audit_log.changes(eng, thread_id, start, stop, moderator=moderator)
    return _vary(
        json_response(Changes(), body, cache_control=PRIVATE if moderator else CACHE_CONTROL)
    )
