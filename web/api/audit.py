"""The audit log for moderators, and the head of the hash chain for anyone.

`GET /audit` lists every event of the log (who, what, when, which thread and comment)
with filters and keyset pages. `GET /audit/head` gives the chain's last position and
link: kept somewhere else (a ticket, a notary, a mail), it is a checkpoint that
`discuss verify --checkpoint POSITION:HASH` checks the log against later.
"""

from __future__ import annotations

from flask import Blueprint

from projections import audit_log, hash_chain
from projections.engine import iso
from web.api.common import json_response, load_query
from web.api.reads import engine, wait_for_position
from web.auth import require_author
from web.errors import ApiError
from web.openapi import operation
from web.schemas_history import AuditPage, AuditQuery, ChainHead

bp = Blueprint("audit", __name__)

PRIVATE = "private, max-age=0, must-revalidate"
HEAD_CACHE = "public, max-age=0, must-revalidate"


@bp.get("/audit")
@operation(
    "Read the audit log (moderators)",
    tags=["audit"],
    query=AuditQuery,
    auth="required",
    responses={200: (AuditPage, "A page of events; next_cursor reads on")},
    description=(
        "Every event of the log with its position, time, actor, type, thread, comment and"
        " a one-line summary. Filters: thread, actor, type (comma-separated, e.g."
        " Comment.Edited), since (inclusive) and until (exclusive) on the event's time."
        " Newest first unless order=oldest; pass next_cursor as cursor to read on."
    ),
)
def audit():
    author = require_author()
    if not author.is_moderator:
        raise ApiError(403, "permission_denied", "only moderators may read the audit log")
    args = load_query(AuditQuery())
    wait_for_position(args["min_position"])
    types = [t.strip() for t in args["type"].split(",") if t.strip()] if args["type"] else None
    page = audit_log.audit_page(
        engine(),
        thread_id=str(args["thread"]) if args["thread"] else None,
        actor_id=str(args["actor"]) if args["actor"] else None,
        types=types,
        since=iso(args["since"]) if args["since"] else None,
        until=iso(args["until"]) if args["until"] else None,
        cursor=args["cursor"],
        limit=args["limit"],
        newest_first=args["order"] == "newest",
        moderator=True,
    )
    response = json_response(AuditPage(), page, cache_control=PRIVATE)
    response.headers["Vary"] = "Authorization, Cookie"
    return response


@bp.get("/audit/head")
@operation(
    "The head of the hash chain over the event log",
    tags=["audit"],
    responses={200: (ChainHead, "The last chained position and its link")},
    description=(
        "link_n = sha256(link_{n-1} || the stored record n). Keep {position, hash} outside"
        " the system: `discuss verify --checkpoint POSITION:HASH` proves later that"
        " nothing up to that position was changed."
    ),
)
def audit_head():
    return json_response(ChainHead(), hash_chain.head(engine()), cache_control=HEAD_CACHE)
