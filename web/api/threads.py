"""Threads: list, read (a page of top-level comments with nested replies)."""

from __future__ import annotations

import orjson
from flask import Blueprint, request

from projections import queries
from web.api.caching import CACHE_CONTROL, cached_json
from web.api.reads import engine, wait_for_position
from web.auth import is_moderator
from web.schemas import ThreadPage, ThreadQuery

bp = Blueprint("threads", __name__)

_page_schema = ThreadPage()


def thread_response(thread_id: str):
    args = ThreadQuery().load(request.args)
    wait_for_position(args["min_position"])
    eng = engine()
    row = queries.thread_row(eng, thread_id)
    moderator = is_moderator()
    req = queries.PageRequest(
        limit=args["limit"],
        cursor=args["cursor"],
        depth=args["depth"],
        sort=args["sort"],
        moderator=moderator,
    )

    def build() -> bytes:
        return orjson.dumps(_page_schema.dump(queries.thread_page(eng, thread_id, req)))

    return cached_json(
        ("thread", thread_id, row["last_position"], eng.generation("threads"), req),
        build,
        # A moderator's view includes hidden texts: never let a shared cache keep it.
        cache_control="private, max-age=0, must-revalidate" if moderator else CACHE_CONTROL,
    )


@bp.get("/threads/<uuid:thread_id>")
def get_thread(thread_id):
    return thread_response(str(thread_id))


@bp.get("/threads/by-key/<path:key>")
def get_thread_by_key(key: str):
    return thread_response(queries.thread_id_for_key(engine(), key))
