"""The moderation queue (issue 13): comments and edits held by the rules, for
moderators; approve or reject one or many with a reason; a thread's pre-moderation
switch; a pasted rule set tried on the past (changing nothing).

Members get 403, signed-out callers 401; deciding what is not awaiting review is 409
(`not_pending`).
"""

from __future__ import annotations

from flask import Blueprint

from domain.errors import DomainError
from domain.moderation_rules import RulesInvalid, parse_rules
from projections import review_queue, rules_replay
from projections.visibility import Viewer
from web.api.common import after_write, json_body, json_response, load_query, services
from web.api.reads import engine, wait_for_position
from web.auth import require_author
from web.errors import ApiError
from web.openapi import operation
from web.schemas import ChangedOut, OptionalReason
from web.schemas_moderation import (
    Decide,
    DecisionsOut,
    Premoderation,
    QueuePage,
    QueueQuery,
    RulesReport,
    RulesTry,
)

bp = Blueprint("moderation", __name__)

_decide = Decide()
_decisions = DecisionsOut()
_queue_page = QueuePage()
_optional_reason = OptionalReason()
_changed = ChangedOut()
_premoderation = Premoderation()
_rules_try = RulesTry()
_rules_report = RulesReport()


def require_moderator(what: str):
    author = require_author()
    if not author.is_moderator:
        raise ApiError(403, "permission_denied", f"only moderators may {what}")
    return author


@bp.get("/moderation/queue")
@operation(
    "Read the moderation queue (moderators)",
    tags=["moderation"],
    query=QueueQuery,
    auth="required",
    responses={200: (QueuePage, "Comments and edits awaiting review, oldest first")},
    description=(
        "Each item: the comment, its thread, its author with their history (comments"
        " posted, approved, rejected), the rule(s) that held it, the text awaiting review"
        " and, for an edit, the word diff from the revision readers see meanwhile."
    ),
)
def queue():
    moderator = require_moderator("read the moderation queue")
    args = load_query(QueueQuery())
    wait_for_position(args["min_position"])
    page = review_queue.queue_page(
        engine(), Viewer.of(moderator), limit=args["limit"], after=args["cursor"]
    )
    return json_response(_queue_page, page)


def _decide_many(action: str):
    moderator = require_moderator(f"{action} comments")
    data = json_body(_decide)
    app = services().app
    command = app.approve_comment if action == "approve" else app.reject_comment
    outcomes, position = [], 0
    for comment_id in data["comment_ids"]:
        try:
            changed = command(moderator.id, comment_id, data["reason"])
        except DomainError as error:  # each comment decided on its own
            outcomes.append(
                {
                    "id": str(comment_id),
                    "ok": False,
                    "error": _code(error),
                    "message": error.message,
                }
            )
            continue
        position = max(position, changed.position)
        outcomes.append(
            {
                "id": str(changed.id),
                "ok": True,
                "version": changed.version,
                "position": changed.position,
            }
        )
    if position:
        after_write(position)
    decided = sum(1 for o in outcomes if o["ok"])
    if not decided and len(outcomes) == 1:  # one comment: its error is the answer
        raise ApiError(409, outcomes[0]["error"], outcomes[0]["message"])
    return json_response(
        _decisions,
        {"decided": decided, "outcomes": outcomes, "position": position or app.head_position()},
    )


def _code(error: DomainError) -> str:
    import re

    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(error).__name__).lower()


_BULK = dict(
    tags=["moderation"],
    body=Decide,
    auth="required",
    errors=(409,),
    responses={200: (DecisionsOut, "What was decided, comment by comment")},
    description=(
        "Every comment is decided on its own: `outcomes` says which were and why not"
        " (e.g. not_pending). A single comment that is not awaiting review is a 409."
    ),
)


@bp.post("/moderation/approve")
@operation("Approve comments awaiting review (moderators)", **_BULK)
def approve_many():
    return _decide_many("approve")


@bp.post("/moderation/reject")
@operation("Reject comments awaiting review (moderators)", **_BULK)
def reject_many():
    return _decide_many("reject")


def _one(action: str, comment_id):
    moderator = require_moderator(f"{action} comments")
    data = json_body(_optional_reason, required=False)
    app = services().app
    command = app.approve_comment if action == "approve" else app.reject_comment
    changed = command(moderator.id, comment_id, data["reason"])
    after_write(changed.position)
    return json_response(
        _changed, {"id": str(changed.id), "version": changed.version, "position": changed.position}
    )


_ONE = dict(
    tags=["moderation"],
    body=OptionalReason,
    body_required=False,
    auth="required",
    errors=(409,),
    description="409 not_pending when the comment is not awaiting review.",
)


@bp.post("/comments/<uuid:comment_id>/approve")
@operation(
    "Approve a comment (or edit) awaiting review (moderators)",
    responses={200: (ChangedOut, "Approved: readers see it now")},
    **_ONE,
)
def approve_one(comment_id):
    return _one("approve", comment_id)


@bp.post("/comments/<uuid:comment_id>/reject")
@operation(
    "Reject a comment (or edit) awaiting review (moderators)",
    responses={200: (ChangedOut, "Rejected: readers keep the approved revision, if any")},
    **_ONE,
)
def reject_one(comment_id):
    return _one("reject", comment_id)


@bp.put("/threads/<uuid:thread_id>/premoderation")
@operation(
    "Switch a thread's pre-moderation (moderators)",
    tags=["moderation"],
    body=Premoderation,
    auth="required",
    errors=(409,),
    responses={200: (ChangedOut, "Switched")},
    description="While on, every new comment and edit in the thread is held for review.",
)
def premoderation(thread_id):
    moderator = require_moderator("switch a thread's pre-moderation")
    data = json_body(_premoderation)
    changed = services().app.switch_premoderation(moderator.id, thread_id, data["on"])
    after_write(changed.position)
    return json_response(
        _changed, {"id": str(changed.id), "version": changed.version, "position": changed.position}
    )


@bp.post("/moderation/rules/try")
@operation(
    "Try a rule set on the past (moderators)",
    tags=["moderation"],
    body=RulesTry,
    auth="required",
    responses={200: (RulesReport, "What the rules would have held or refused")},
    description=(
        "Replays the posts and edits from `since` through the pasted rules (TOML, as in"
        " a DISCUSS_RULES file) and reports counts per rule with examples. Changes"
        " nothing. A rule set with a mistake is a 422 naming the line."
    ),
)
def try_rules():
    require_moderator("try rules")
    data = json_body(_rules_try)
    try:
        rules = parse_rules(data["rules"], "rules")
    except RulesInvalid as error:
        raise ApiError(422, "rules_invalid", str(error), {"rules": [str(error)]}) from None
    report = rules_replay.try_rules(engine(), rules, since=max(1, data["since"]))
    return json_response(_rules_report, report.as_dict())
