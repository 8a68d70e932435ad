"""Threads: list, open, read (a page of top-level comments with nested replies),
lock and unlock."""

from __future__ import annotations

import orjson
from flask import Blueprint, request, url_for

from projections import queries
from web.api.caching import CACHE_CONTROL, PRIVATE, cached_json
from web.api.common import (
    QueryLoader,
    after_write,
    json_body,
    json_response,
    services,
    write_limits,
)
from web.api.history import thread_as_of_response
from web.api.reads import engine, on_serving_tables, page_request, serving_thread, wait_for_position
from web.auth import is_moderator, require_author
from web.openapi import operation
from web.schemas import (
    ChangedOut,
    NewThread,
    OptionalReason,
    ThreadCreated,
    ThreadList,
    ThreadListQuery,
    ThreadQuery,
)
from web.schemas_history import ThreadAsOfPage, ThreadAsOfQuery

bp = Blueprint("threads", __name__)


# Schemas hold no per-request state: built once, used by every request.
_list_schema = ThreadList()
_thread_query = QueryLoader(ThreadQuery())
_list_query = QueryLoader(ThreadListQuery())
_new_thread = NewThread()
_optional_reason = OptionalReason()
_created = ThreadCreated()
_changed = ChangedOut()


def _vary(response):
    response.headers["Vary"] = "Authorization, Cookie"
    return response


def thread_response(thread_id: str):
    if "as_of" in request.args or "at" in request.args:  # time travel: web/api/history.py
        return thread_as_of_response(thread_id)
    args = _thread_query.load()
    moderator = is_moderator()  # a bad token is a 401 first, whether or not the thread exists
    wait_for_position(args["min_position"])
    eng = engine()
    req = page_request(args, moderator)

    def respond():
        tables, row = serving_thread(eng, thread_id)

        def build() -> bytes:
            # The query's dicts have ThreadPage's shape exactly (pinned by
            # tests/api/test_dump_shape.py): dumped as they are, without marshmallow.
            return orjson.dumps(queries.thread_page(eng, thread_id, req, tables))

        return cached_json(
            ("thread", thread_id, row["last_position"], tables.generation, req),
            build,
            # A moderator's view includes hidden texts: never let a shared cache keep it.
            cache_control=PRIVATE if moderator else CACHE_CONTROL,
            group=thread_id,
            version=row["last_position"],
        )

    return _vary(on_serving_tables(eng, respond))


_READ_THREAD = dict(
    tags=["threads"],
    query=ThreadAsOfQuery,
    auth="optional",
    cached=True,
    responses={
        200: (
            ThreadAsOfPage,
            "A page of top-level comments, each with its replies (with `as_of` when the"
            " thread is read as it was)",
        )
    },
    description=(
        "Moderators (signed in) also see the text and author of hidden comments. Pages"
        " are keyset-paginated: pass `page.next_cursor` as `cursor` for the next one."
        " With `as_of` (a moment) or `at` (a log position): the thread as it was then."
    ),
)


@bp.get("/threads/<uuid:thread_id>")
@operation("Read a thread", **_READ_THREAD)
def get_thread(thread_id):
    return thread_response(str(thread_id))


@bp.get("/threads/by-key/<path:key>")
@operation("Read a thread by its key (the host page's URL or slug)", **_READ_THREAD)
def get_thread_by_key(key: str):
    # Read-your-writes reaches the key's lookup too: a thread opened at `min_position`
    # is found by its key (the query is validated again, fully, by thread_response).
    wait_for_position(request.args.get("min_position", type=int))
    return thread_response(queries.thread_id_for_key(engine(), key))


@bp.get("/threads")
@operation(
    "List threads, most recent activity first",
    tags=["threads"],
    query=ThreadListQuery,
    cached=True,
    responses={200: (ThreadList, "A page of threads; next_cursor reads the next page")},
)
def list_threads():
    args = _list_query.load()
    wait_for_position(args["min_position"])
    eng = engine()
    limit, cursor = args["limit"], args["cursor"]

    def build() -> bytes:
        return orjson.dumps(_list_schema.dump(queries.list_threads(eng, limit, cursor)))

    # Any change to any thread advances the projection's position: a cheap, exact ETag.
    return cached_json(
        ("threads", eng.position("threads"), eng.generation("threads"), limit, cursor), build
    )


@bp.post("/threads")
@write_limits
@operation(
    "Open a thread (moderators)",
    tags=["threads"],
    body=NewThread,
    auth="required",
    limited="write",
    errors=(409,),
    responses={201: (ThreadCreated, "Opened; Location is the thread")},
    description="409 thread_key_taken when another thread has the same key.",
)
def create_thread():
    author = require_author()
    data = json_body(_new_thread)
    opened = services().app.open_thread(
        author.id, data["title"], body=data["body"], key=data["key"]
    )
    after_write(opened.position)
    thread_id = str(opened.thread_id)
    return json_response(
        _created,
        {"id": thread_id, "key": data["key"], "position": opened.position},
        201,
        location=url_for("threads.get_thread", thread_id=thread_id),
    )


def _moderate_thread(thread_id, command: str):
    author = require_author()
    data = json_body(_optional_reason, required=False)
    changed = getattr(services().app, command)(author.id, thread_id, data["reason"])
    after_write(changed.position)
    return json_response(
        _changed,
        {"id": str(changed.id), "version": changed.version, "position": changed.position},
    )


_MODERATE = dict(
    tags=["moderation"],
    body=OptionalReason,
    body_required=False,
    auth="required",
    limited="write",
    errors=(409,),
    responses={200: (ChangedOut, "Done")},
)


@bp.post("/threads/<uuid:thread_id>/lock")
@write_limits
@operation(
    "Lock a thread: no new comments or edits (moderators)",
    description="409 invalid_transition when it is locked already.",
    **_MODERATE,
)
def lock_thread(thread_id):
    return _moderate_thread(thread_id, "lock_thread")


@bp.post("/threads/<uuid:thread_id>/unlock")
@write_limits
@operation(
    "Unlock a thread (moderators)",
    description="409 invalid_transition when it is not locked.",
    **_MODERATE,
)
def unlock_thread(thread_id):
    return _moderate_thread(thread_id, "unlock_thread")
