"""The audit log for moderators, the public ledger of erasures, and the head of the
hash chain for anyone.

`GET /audit` lists every event of the log (who, what, when, which thread and comment)
with filters and keyset pages; actors by their opened names, reasons as the visibility
policy lets a moderator read them (never erased content). `GET /audit/erasures` is the
public ledger: what kind of thing was erased, when, by whom and on which basis, never
what it said. `GET /audit/head` gives the chain's last position and link: kept
somewhere else (a ticket, a notary, a mail), it is a checkpoint that
`discuss verify --checkpoint POSITION:HASH` checks the log against later.
"""

from __future__ import annotations

from flask import Blueprint

from projections import audit_log, hash_chain, history
from projections.engine import iso
from projections.visibility import Viewer
from web.api.caching import PRIVATE
from web.api.common import json_response, load_query
from web.api.reads import engine, wait_for_position
from web.auth import require_author
from web.errors import ApiError
from web.openapi import operation
from web.schemas_history import AuditPage, AuditQuery, ChainHead, ErasureLedger, ErasuresQuery

bp = Blueprint("audit", __name__)

HEAD_CACHE = "public, max-age=0, must-revalidate"
LEDGER_CACHE = "public, max-age=0, must-revalidate"


@bp.get("/audit")
@operation(
    "Read the audit log (moderators)",
    tags=["audit"],
    query=AuditQuery,
    auth="required",
    responses={200: (AuditPage, "A page of events; next_cursor reads on")},
    description=(
        "Every event of the log with its position, time, actor (by name; 'erased author'"
        " once erased), type, thread, comment, a one-line summary (ids only) and its reason"
        " as the visibility policy lets a moderator read it: never the content of an erased"
        " comment, revision or author. Filters: thread, actor, type (comma-separated, e.g."
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
        viewer=Viewer.of(author),
    )
    response = json_response(AuditPage(), page, cache_control=PRIVATE)
    response.headers["Vary"] = "Authorization, Cookie"
    return response


@bp.get("/audit/erasures")
@operation(
    "The public ledger of erasures",
    tags=["audit"],
    query=ErasuresQuery,
    responses={200: (ErasureLedger, "A page of erasures, newest first; next_cursor reads on")},
    description=(
        "Every erasure, for anyone: a comment taken down by a moderator, one revision of a"
        " comment, or an author's account with everything they wrote (one entry, with how"
        " many comments it covered). Each says what kind of thing was erased, its ids,"
        " when, by whom (a moderator, the operator, or the author themself) and on which"
        " basis (a fixed list of public words). Never what it said."
    ),
)
def audit_erasures():
    args = load_query(ErasuresQuery())
    wait_for_position(args["min_position"])
    page = history.erasures(engine(), cursor=args["cursor"], limit=args["limit"])
    return json_response(ErasureLedger(), page, cache_control=LEDGER_CACHE)


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
