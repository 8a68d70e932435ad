"""Authors: open registration (members; moderators come from `discuss register
NAME --moderator`), who am I, and an author's public card."""

from __future__ import annotations

import orjson
from flask import Blueprint, url_for

from domain.model import MEMBER
from web.api.caching import cached_json
from web.api.common import (
    after_write,
    config,
    json_body,
    json_response,
    services,
    write_limits,
)
from web.auth import require_author
from web.errors import ApiError
from web.openapi import operation
from web.schemas import AuthorCreated, AuthorOut, NewAuthor

bp = Blueprint("authors", __name__)

# Authors never change name or role: their card can be cached for a while.
AUTHOR_CACHE_CONTROL = "public, max-age=3600"


@bp.post("/authors")
@write_limits
@operation(
    "Register (a member)",
    tags=["authors"],
    body=NewAuthor,
    limited="write",
    errors=(403,),
    responses={201: (AuthorCreated, "Registered: keep the token, it is shown only once")},
    description=(
        "Open registration can be switched off (DISCUSS_OPEN_REGISTRATION=false): then"
        " 403 registration_closed. Send the token as `Authorization: Bearer <token>`."
    ),
)
def register():
    if not config().open_registration:
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
        AuthorOut(), {"id": str(author.id), "name": author.name, "role": author.role}
    )


@bp.get("/authors/<uuid:author_id>")
@operation(
    "An author's public card",
    tags=["authors"],
    cached=True,
    responses={200: (AuthorOut, "The author")},
)
def get_author(author_id):
    def build() -> bytes:
        author = services().app.get_author(author_id)
        return orjson.dumps(
            AuthorOut().dump({"id": str(author.id), "name": author.name, "role": author.role})
        )

    return cached_json(("author", author_id), build, cache_control=AUTHOR_CACHE_CONTROL)
