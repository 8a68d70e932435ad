"""Authors: open registration (members; moderators come from `discuss register
NAME --moderator`), who am I, an author's public card, and an author's own data: the
export of everything of theirs (GDPR Art. 15/20) and the erasure of their account
(Art. 17)."""

from __future__ import annotations

import orjson
from flask import Blueprint, Response, url_for

from domain.model import MEMBER
from projections.author_export import author_export
from projections.visibility import ERASED_AUTHOR_NAME
from web.api.caching import CACHE_CONTROL, json_bytes_response, make_etag, not_modified
from web.api.common import (
    after_write,
    json_body,
    json_response,
    load_query,
    services,
    settings,
    write_limits,
)
from web.api.reads import engine, wait_for_position
from web.auth import forget_author, require_author
from web.errors import ApiError
from web.openapi import operation
from web.schemas import (
    AuthorCreated,
    AuthorExport,
    AuthorOut,
    ChangedOut,
    EraseAccount,
    ExportQuery,
    NewAuthor,
)

bp = Blueprint("authors", __name__)

# A card changes once at most (its name goes when the account is erased): always
# revalidated, its ETag carries the author's version.
AUTHOR_CACHE_CONTROL = CACHE_CONTROL
EXPORT_CACHE_CONTROL = "private, no-store"

_export_schema = AuthorExport()
_erase_account = EraseAccount()


def shown_name(author) -> str:
    """The author's display name, opened; "erased author" once erased."""
    return services().app.display_name(author) or ERASED_AUTHOR_NAME


@bp.post("/authors")
@write_limits
@operation(
    "Register (a member)",
    tags=["authors"],
    body=NewAuthor,
    limited="write",
    errors=(403, 409),
    responses={201: (AuthorCreated, "Registered: keep the token, it is shown only once")},
    description=(
        "Open registration can be switched off (DISCUSS_OPEN_REGISTRATION=false): then"
        " 403 registration_closed. Send the token as `Authorization: Bearer <token>`."
        " A name another author holds (compared after case folding, NFKC and Unicode's"
        " confusables skeleton) is 409 name_taken; one with a text-direction control or"
        " nothing visible is 422."
    ),
)
def register():
    if not settings().open_registration:
        raise ApiError(403, "registration_closed", "registration is closed on this site")
    data = json_body(NewAuthor())
    registration = services().app.register_author(data["name"], MEMBER)
    after_write(registration.position)
    author_id = str(registration.author_id)
    return json_response(
        AuthorCreated(),
        {
            "id": author_id,
            "name": registration.name,
            "role": registration.role,
            "token": registration.token,
        },
        201,
        location=url_for("authors.get_author", author_id=author_id),
    )


@bp.get("/authors/me")
@operation(
    "The signed-in author",
    tags=["authors"],
    auth="required",
    responses={200: (AuthorOut, "Who the bearer token belongs to")},
)
def me():
    author = require_author()
    return json_response(
        AuthorOut(), {"id": str(author.id), "name": shown_name(author), "role": author.role}
    )


@bp.get("/authors/me/export")
@operation(
    "Download your own data (GDPR Art. 15/20)",
    tags=["authors"],
    query=ExportQuery,
    auth="required",
    responses={200: (AuthorExport, "Your profile and every comment of yours, as a file")},
    description=(
        "Your profile and every comment you wrote, oldest first, each with every revision's"
        " text and edit reason, its thread (id, key, title), times and log positions. Your"
        " own retracted comments are included. What a moderator withheld (removed,"
        " suppressed) and what was erased is listed without its text, with a note saying"
        " why and since when. Sent as an attachment, never stored by caches. Works with"
        " the pages' sign-in cookie too (the account page links here)."
    ),
)
def export_me():
    author = require_author()
    args = load_query(ExportQuery())
    wait_for_position(args["min_position"])
    body = orjson.dumps(_export_schema.dump(author_export(engine(), author)))
    response = Response(body, mimetype="application/json")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="discuss-export-{author.id}.json"'
    )
    response.headers["Cache-Control"] = EXPORT_CACHE_CONTROL
    response.headers["Vary"] = "Authorization, Cookie"
    return response


@bp.delete("/authors/me")
@write_limits
@operation(
    "Erase your account and everything you wrote (GDPR Art. 17)",
    tags=["authors"],
    body=EraseAccount,
    auth="required",
    limited="write",
    responses={200: (ChangedOut, "Erased: the token no longer signs in")},
    description=(
        'Send `{"basis": "author_request", "confirm": "erase my account"}` (the'
        " phrase exactly: 422 naming `confirm` otherwise, so that a stray request cannot"
        " erase an account). Every comment and revision of yours is destroyed for good"
        " (its data keys), and your name; replies by others stay in place under an"
        " erased placeholder. The erasure is listed publicly (an account, when, the"
        " basis), without any content. Afterwards the token answers 401."
    ),
)
def erase_me():
    author = require_author()
    data = json_body(_erase_account)
    changed = services().app.erase_author(author.id, author.id, data["basis"])
    forget_author(author.id)
    after_write(changed.position)
    return json_response(
        ChangedOut(),
        {"id": str(changed.id), "version": changed.version, "position": changed.position},
    )


@bp.get("/authors/<uuid:author_id>")
@operation(
    "An author's public card",
    tags=["authors"],
    cached=True,
    responses={200: (AuthorOut, "The author")},
)
def get_author(author_id):
    author = services().app.get_author(author_id)
    # The version moves when the account is erased, and the body (a name) is not kept
    # in memory: no copy of an erased name outlives the erasure.
    etag = make_etag("author", author_id, author.version)
    if not_modified(etag):
        return Response(status=304, headers={"ETag": etag, "Cache-Control": AUTHOR_CACHE_CONTROL})
    body = orjson.dumps(
        AuthorOut().dump({"id": str(author.id), "name": shown_name(author), "role": author.role})
    )
    return json_bytes_response(body, etag, AUTHOR_CACHE_CONTROL)
