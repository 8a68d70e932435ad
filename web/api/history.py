"""Audit trail and time travel for readers: a comment's full history and diffs between
its versions, a thread as it was at any moment (`GET /threads/{id}?as_of=` or `?at=`,
delegated here by web/api/threads.py), a thread's timeline and its changes between
two points.

The record (history, diffs, timeline, changes) is read through the named queries of
projections/history.py and projections/audit_log.py, which apply the one visibility
policy (projections/visibility.py): what is withheld from the caller today is withheld
here too, with a note saying why and since when. History policy
(DISCUSS_HISTORY_POLICY): "public" lets anyone read a comment's history; "restricted"
only its author and moderators.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from flask import Blueprint, current_app

from projections import audit_log, history, time_travel
from projections.engine import Engine
from projections.visibility import Viewer
from web.api.caching import CACHE_CONTROL, PRIVATE, cached_json
from web.api.common import json_response, load_query
from web.api.reads import engine, on_serving_tables, page_request, serving_thread, wait_for_position
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
    ThreadAsOfQuery,
    Timeline,
    TimelineQuery,
)

bp = Blueprint("history", __name__)

TEXT_KINDS = ("posted", "edited")

_history_schema = CommentHistory()
_diff_schema = CommentDiff()
_timeline_schema = Timeline()
_changes_schema = Changes()


def _history_policy() -> str:
    settings = current_app.extensions.get("discuss_settings")
    return getattr(settings, "history_policy", "public")


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


def thread_as_of_response(thread_id: str):
    """GET /threads/{id}?as_of=<RFC 3339> or ?at=<position>: the live page's shape and
    pagination, plus `as_of` (the position and time it reflects). A point in the future
    (or beyond what the projection has seen) reads the latest state.

    A past view shows the structure as it was with today's decisions applied, so its
    body changes whenever something in the thread is decided (hidden, retracted,
    erased...): never `immutable`. Its ETag carries the thread's current position, which
    every decision advances, and clients revalidate."""
    args = load_query(ThreadAsOfQuery())
    moderator = is_moderator()  # a bad token is a 401 first, as on the live path
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
    effective = time_travel.effective_position(eng, thread_id, position)
    req = page_request(args, moderator)

    def build() -> bytes:
        # ThreadAsOfPage's shape exactly (tests/api/test_dump_shape.py), as on the live
        # path: dumped as it is, without marshmallow.
        page = time_travel.thread_page_as_of(eng, thread_id, req, effective, span)
        return orjson.dumps(page)

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
# The named queries of projections/history.py read the record through the visibility
# policy; here: the viewer, the cache key, and the errors in the one error shape.


def _viewer() -> Viewer:
    return Viewer.of(current_author())


def _record_error(error: history.HistoryError) -> ApiError:
    return ApiError(error.status, error.code, error.message, fields=error.fields)


def _record_head(eng: Engine, comment_id: str, viewer: Viewer) -> history.CommentHead:
    """The comment's head (404), with the history policy applied (403)."""
    try:
        head = history.comment_head(eng, comment_id)
        history.check_policy(head, viewer, restricted=_restricted())
    except history.HistoryError as error:
        raise _record_error(error) from None
    return head


def _restricted() -> bool:
    return _history_policy() == "restricted"


def _record_cache_control(head: history.CommentHead, viewer: Viewer) -> str:
    """A body a moderator or the comment's author reads may hold what others may not
    (a hidden text, their own retracted text): private."""
    if _restricted() or head.viewer_class(viewer) in ("moderator", "author"):
        return PRIVATE
    return CACHE_CONTROL


def _record_key(kind: str, head: history.CommentHead, viewer: Viewer, *parts) -> tuple:
    """Every decision on a comment is an event of it (its latest position moves), an
    author's erasure moves the erasures' position (names go), and bodies differ by the
    class of viewer: all are in the key (and the ETag)."""
    return (
        kind,
        head.comment_id,
        *parts,
        head.position,
        head.erasures,
        head.viewer_class(viewer),
        _restricted(),
    )


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
        "Each text version (posted, edited) with its editor, time, reason and log position;"
        " each retraction, hiding and restoration with who and why; each erasure and"
        " suppression of a revision, described without its content. What the viewer may"
        " not read is null, with a `withheld` note saying why and since when: an erased"
        " comment, revision or author for nobody; a hidden comment's texts for moderators"
        " only; a retracted comment's texts for its author and moderators; a suppressed"
        " revision's text or edit reason for moderators; reasons of moderation for"
        " moderators. With DISCUSS_HISTORY_POLICY=restricted only the comment's author and"
        " moderators may read it (403 otherwise)."
    ),
)
def comment_history(comment_id):
    args = load_query(ReadQuery())
    wait_for_position(args["min_position"])
    eng = engine()
    comment_id = str(comment_id)
    viewer = _viewer()
    head = _record_head(eng, comment_id, viewer)

    def build() -> bytes:
        try:
            body = history.comment_history(eng, comment_id, viewer, restricted=_restricted())
        except history.HistoryError as error:
            raise _record_error(error) from None
        return orjson.dumps(_history_schema.dump(body))

    return _vary(
        cached_json(
            _record_key("history", head, viewer), build, _record_cache_control(head, viewer)
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
        " The same policy as the history applies: when either side's text is withheld from"
        " the caller, 403 says why (e.g. `version 2 of this comment was erased on"
        " 6 December 2026`), never the text."
    ),
)
def comment_diff(comment_id):
    args = load_query(DiffQuery())
    wait_for_position(args["min_position"])
    eng = engine()
    comment_id = str(comment_id)
    viewer = _viewer()
    head = _record_head(eng, comment_id, viewer)

    def build() -> bytes:
        try:
            body = history.comment_diff(
                eng, comment_id, viewer, args["from_"], args["to"], restricted=_restricted()
            )
        except history.HistoryError as error:
            raise _record_error(error) from None
        return orjson.dumps(_diff_schema.dump(body))

    key = _record_key("diff", head, viewer, args["from_"], args["to"])
    return _vary(cached_json(key, build, _record_cache_control(head, viewer)))


# ---- a thread's timeline and changes -------------------------------------------------


def _known_thread(eng: Engine, thread_id: str) -> None:
    if not audit_log.thread_known(eng, thread_id):
        raise ApiError(404, "not_found", f"no thread with id {thread_id}")


def _thread_record_cache_control(viewer: Viewer) -> str:
    """Signed in, a body may hold what only this viewer reads (their own edit reasons
    of a retracted comment, a moderator's reasons): private."""
    return PRIVATE if viewer.author_id or viewer.moderator else CACHE_CONTROL


@bp.get("/threads/<uuid:thread_id>/timeline")
@operation(
    "Read a thread's timeline: every change, oldest first",
    tags=["history"],
    query=TimelineQuery,
    auth="optional",
    responses={200: (Timeline, "A page of change points; next_cursor reads on")},
    description=(
        "Each change point has its log position (pass it as `at` to read the thread as it"
        " was then), time, kind, comment, actor, a one-line summary (ids only) and its"
        " reason when the caller may read it (the same policy as a comment's history)."
    ),
)
def thread_timeline(thread_id):
    args = load_query(TimelineQuery())
    wait_for_position(args["min_position"])
    eng = engine()
    thread_id = str(thread_id)
    _known_thread(eng, thread_id)
    viewer = _viewer()
    page = audit_log.timeline(
        eng, thread_id, cursor=args["cursor"], limit=args["limit"], viewer=viewer
    )
    return _vary(
        json_response(Timeline(), page, cache_control=_thread_record_cache_control(viewer))
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
    responses={
        200: (Changes, "Comments added, edited, retracted, hidden, restored, erased, suppressed")
    },
    description=(
        "`from` and `to` are log positions or RFC 3339 moments: the changes after `from`"
        " up to and including `to`. Edited comments come with the version range; erasures"
        " and suppressions with the revision concerned, never its content. Reasons as in"
        " a comment's history."
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
    viewer = _viewer()
    body = audit_log.changes(eng, thread_id, start, stop, viewer=viewer)
    return _vary(json_response(Changes(), body, cache_control=_thread_record_cache_control(viewer)))
