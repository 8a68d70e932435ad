"""Comments: read one with a page of its subtree, post, edit, retract, hide, restore;
moderators erase a comment or one revision, suppress and unsuppress a revision."""

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
    load_headers,
    services,
    write_limits,
)
from web.api.reads import (
    engine,
    on_serving_tables,
    page_request,
    serving_comment,
    wait_for_position,
)
from web.auth import is_moderator, require_author
from web.errors import ApiError
from web.openapi import operation
from web.schemas import (
    ChangedOut,
    CommentPage,
    CommentPosted,
    EditComment,
    EditHeaders,
    EraseContent,
    ErasedOut,
    NewComment,
    OptionalReason,
    PostCommentHeaders,
    RequiredReason,
    SuppressRevision,
    ThreadQuery,
)

bp = Blueprint("comments", __name__)


# Schemas hold no per-request state: built once, used by every request.
_thread_query = QueryLoader(ThreadQuery())
_new_comment = NewComment()
_post_headers = PostCommentHeaders()
_posted = CommentPosted()
_edit_headers = EditHeaders()
_edit_comment = EditComment()
_optional_reason = OptionalReason()
_required_reason = RequiredReason()
_changed_schema = ChangedOut()
_erase_content = EraseContent()
_erased_schema = ErasedOut()
_suppress_revision = SuppressRevision()


@bp.get("/comments/<uuid:comment_id>")
@operation(
    "Read a comment with a page of its replies",
    tags=["comments"],
    query=ThreadQuery,
    auth="optional",
    cached=True,
    responses={200: (CommentPage, "The comment, its thread, and a page of its replies")},
    description=(
        "Where a thread page says `more_replies.continue_from`, read on here. `limit` and"
        " `cursor` page through the comment's direct replies; `depth` is counted below"
        " them. The ETag is for caching: to edit, send the comment's `version` as If-Match."
    ),
)
def get_comment(comment_id):
    comment_id = str(comment_id)
    args = _thread_query.load()
    moderator = is_moderator()  # a bad token is a 401 first, whether or not the comment exists
    wait_for_position(args["min_position"])
    eng = engine()
    req = page_request(args, moderator)

    def respond():
        tables, row = serving_comment(eng, comment_id)

        def build() -> bytes:
            # CommentPage's shape exactly (tests/api/test_dump_shape.py): no marshmallow.
            return orjson.dumps(queries.comment_subtree(eng, comment_id, req, tables))

        key = ("comment", comment_id, row["thread_id"], row["last_position"], tables.generation)
        return cached_json(
            (*key, req),
            build,
            cache_control=PRIVATE if moderator else CACHE_CONTROL,
            group=row["thread_id"],
            version=row["last_position"],
        )

    response = on_serving_tables(eng, respond)
    response.headers["Vary"] = "Authorization, Cookie"
    return response


@bp.post("/threads/<uuid:thread_id>/comments")
@write_limits
@operation(
    "Post a comment, or a reply (parent_id)",
    tags=["comments"],
    body=NewComment,
    headers=PostCommentHeaders,
    auth="required",
    limited="write",
    errors=(409,),
    responses={
        201: (CommentPosted, "Posted; Location is the comment"),
        200: (
            CommentPosted,
            "A retry with an Idempotency-Key already used by this author in this thread,"
            " with the same text and parent: the original comment, nothing posted"
            " (always 200, never 201)",
        ),
    },
    description=(
        "409 thread_locked when the thread is locked, comment_retracted when the parent"
        " is retracted; 422 when the parent is not in this thread. Send an"
        " Idempotency-Key to retry safely: the first post answers 201, every retry with"
        " the same key and the same body answers 200 with the same comment (`replayed:"
        " true`). The same key with another text or parent is 422 idempotency_key_reused"
        " (nothing posted); a retry's body is validated like a first post's."
    ),
)
def post_comment(thread_id):
    author = require_author()
    data = json_body(_new_comment)
    headers = load_headers(_post_headers)
    posted = services().app.post_comment(
        author.id,
        thread_id,
        data["text"],
        parent_id=data["parent_id"],
        client_key=headers["idempotency_key"],
    )
    after_write(posted.position)
    comment_id = str(posted.comment_id)
    return json_response(
        _posted,
        {
            "comment": comment_id,
            "thread_id": str(posted.thread_id),
            "version": posted.version,
            "position": posted.position,
            "replayed": not posted.created,
            "held_by": list(posted.held_by),
        },
        201 if posted.created else 200,
        location=url_for("comments.get_comment", comment_id=comment_id),
    )


def _changed(changed) -> dict:
    return {"id": str(changed.id), "version": changed.version, "position": changed.position}


@bp.patch("/comments/<uuid:comment_id>")
@write_limits
@operation(
    "Edit a comment (its author or a moderator)",
    tags=["comments"],
    body=EditComment,
    headers=EditHeaders,
    auth="required",
    limited="write",
    errors=(409, 412, 428),
    responses={200: (ChangedOut, "Edited; ETag is the new version")},
    description=(
        "If-Match must carry the version the edit is based on (`version` of the comment"
        " as read): 412 version_conflict when another change came first (the response's"
        " ETag is the current version), 428 when If-Match is missing. 409 when the thread"
        " is locked or the comment retracted (or hidden, for its author)."
    ),
)
def edit_comment(comment_id):
    author = require_author()
    if "If-Match" not in request.headers:
        raise ApiError(
            428,
            "precondition_required",
            "send If-Match with the version of the comment you are editing",
        )
    headers = load_headers(_edit_headers)
    data = json_body(_edit_comment)
    changed = services().app.edit_comment(
        author.id,
        comment_id,
        data["text"],
        expected_version=headers["if_match"],
        reason=data["reason"],
    )
    after_write(changed.position)
    return json_response(
        _changed_schema,
        {**_changed(changed), "held_by": list(changed.held_by)},
        headers={"ETag": f'"{changed.version}"'},
    )


@bp.delete("/comments/<uuid:comment_id>")
@write_limits
@operation(
    "Retract a comment (its author or a moderator)",
    tags=["comments"],
    body=OptionalReason,
    body_required=False,
    auth="required",
    limited="write",
    errors=(409,),
    responses={200: (ChangedOut, "Retracted: a placeholder keeps its place and replies")},
    description="409 comment_retracted when it is retracted already.",
)
def retract_comment(comment_id):
    author = require_author()
    data = json_body(_optional_reason, required=False)
    changed = services().app.retract_comment(author.id, comment_id, data["reason"])
    after_write(changed.position)
    return json_response(_changed_schema, _changed(changed))


@bp.post("/comments/<uuid:comment_id>/hide")
@write_limits
@operation(
    "Hide a comment (moderators)",
    tags=["moderation"],
    body=RequiredReason,
    auth="required",
    limited="write",
    errors=(409,),
    responses={200: (ChangedOut, "Hidden: readers see a placeholder, moderators the text")},
    description="409 when it is hidden already or retracted.",
)
def hide_comment(comment_id):
    author = require_author()
    data = json_body(_required_reason)
    changed = services().app.hide_comment(author.id, comment_id, data["reason"])
    after_write(changed.position)
    return json_response(_changed_schema, _changed(changed))


@bp.post("/comments/<uuid:comment_id>/restore")
@write_limits
@operation(
    "Restore a hidden comment (moderators)",
    tags=["moderation"],
    body=OptionalReason,
    body_required=False,
    auth="required",
    limited="write",
    errors=(409,),
    responses={200: (ChangedOut, "Restored")},
    description="409 invalid_transition when it is not hidden.",
)
def restore_comment(comment_id):
    author = require_author()
    data = json_body(_optional_reason, required=False)
    changed = services().app.restore_comment(author.id, comment_id, data["reason"])
    after_write(changed.position)
    return json_response(_changed_schema, _changed(changed))


# ---- forgetting: erasure and suppression (moderators) -------------------------------

ERASE_WHAT_HAPPENS = (
    " The data keys are destroyed: the text of every version (and its edit reasons) can"
    " never be read again, by anyone. The comment keeps its place in the thread, with its"
    " replies, under an erased placeholder; the erasure is listed in the audit log and"
    " the public erasure ledger (what, when, by whom, the basis), never its content."
    " `basis` is one of a fixed list of public words (422 lists them)."
)


def _erased_already(author, comment_id, revision: int | None = None) -> bool:
    """Before erasing: was it erased already? (Moderators only, as the command checks
    first: a 403 comes before a 404.)"""
    app = services().app
    app.actor(author.id).check_moderator("erase a comment")
    comment = app.get_comment(comment_id)
    return comment.erased or (revision is not None and revision in comment.erased_revisions)


@bp.post("/comments/<uuid:comment_id>/erase")
@write_limits
@operation(
    "Erase a comment for good (moderators: a takedown)",
    tags=["moderation"],
    body=EraseContent,
    auth="required",
    limited="write",
    responses={200: (ErasedOut, "Erased (or erased already: `erased` false, nothing recorded)")},
    description="Idempotent: erasing an erased comment answers 200 with no new event."
    + ERASE_WHAT_HAPPENS,
)
def erase_comment(comment_id):
    author = require_author()
    data = json_body(_erase_content)
    already = _erased_already(author, comment_id)
    changed = services().app.erase_comment(author.id, comment_id, data["basis"])
    after_write(changed.position)
    return json_response(_erased_schema, {**_changed(changed), "erased": not already})


@bp.post("/comments/<uuid:comment_id>/revisions/<int:revision>/erase")
@write_limits
@operation(
    "Erase one revision of a comment for good (moderators)",
    tags=["moderation"],
    body=EraseContent,
    auth="required",
    limited="write",
    responses={200: (ErasedOut, "Erased (or erased already: `erased` false, nothing recorded)")},
    description=(
        "The revision's text and edit reason are destroyed; the other revisions stay"
        " readable. `revision` is the comment's version that posted or edited the text"
        " (404 naming `revision` when the comment has no such revision). Idempotent."
        " `basis` is one of a fixed list of public words (422 lists them)."
    ),
)
def erase_revision(comment_id, revision):
    author = require_author()
    data = json_body(_erase_content)
    already = _erased_already(author, comment_id, revision)
    changed = services().app.erase_revision(author.id, comment_id, revision, data["basis"])
    after_write(changed.position)
    return json_response(_erased_schema, {**_changed(changed), "erased": not already})


@bp.post("/comments/<uuid:comment_id>/revisions/<int:revision>/suppress")
@write_limits
@operation(
    "Suppress a revision's text and/or edit reason (moderators)",
    tags=["moderation"],
    body=SuppressRevision,
    body_required=False,
    auth="required",
    limited="write",
    errors=(409,),
    responses={200: (ChangedOut, "Suppressed: withheld from everyone but moderators")},
    description=(
        "Withholds one revision's text (`text`, default true) and/or its edit reason"
        " (`edit_reason`, default false) from everyone but moderators, everywhere (thread"
        " views live and past, history, diffs, exports); reversible with unsuppress. The"
        " reason is for the audit log (moderators only). 404 naming `revision` for an"
        " unknown revision; 409 invalid_transition when it is suppressed that way already,"
        " comment_erased when its content is erased."
    ),
)
def suppress_revision(comment_id, revision):
    author = require_author()
    data = json_body(_suppress_revision, required=False)
    changed = services().app.suppress_revision(
        author.id,
        comment_id,
        revision,
        text=data["text"],
        edit_reason=data["edit_reason"],
        reason=data["reason"],
    )
    after_write(changed.position)
    return json_response(_changed_schema, _changed(changed))


@bp.post("/comments/<uuid:comment_id>/revisions/<int:revision>/unsuppress")
@write_limits
@operation(
    "Lift a revision's suppression (moderators)",
    tags=["moderation"],
    body=OptionalReason,
    body_required=False,
    auth="required",
    limited="write",
    errors=(409,),
    responses={200: (ChangedOut, "Unsuppressed: readable as before")},
    description=(
        "404 naming `revision` for an unknown revision; 409 invalid_transition when the"
        " revision is not suppressed."
    ),
)
def unsuppress_revision(comment_id, revision):
    author = require_author()
    data = json_body(_optional_reason, required=False)
    changed = services().app.unsuppress_revision(author.id, comment_id, revision, data["reason"])
    after_write(changed.position)
    return json_response(_changed_schema, _changed(changed))
