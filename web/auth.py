"""Who is calling: a bearer token (API) or the sign-in cookie (pages)."""

from __future__ import annotations

from flask import g, request

from domain.errors import NotAuthenticated
from domain.model import Author
from web.errors import ApiError
from web.runtime import runtime

COOKIE_NAME = "discuss_token"


def token_from_request() -> str | None:
    """The bearer token (or the pages' cookie); a malformed Authorization is a 401."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(
                401,
                "unauthenticated",
                "the Authorization header must be 'Bearer <token>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return token.strip()
    return request.cookies.get(COOKIE_NAME) or None


_token_from_request = token_from_request  # the old name


def current_author() -> Author | None:
    """The signed-in author, or None for an anonymous request. A bad token is a 401."""
    if "author" not in g:
        token = token_from_request()
        author = None
        if token:
            try:
                author = runtime().services.app.authenticate(token)
            except NotAuthenticated as error:
                raise ApiError(
                    401, "unauthenticated", error.message, headers={"WWW-Authenticate": "Bearer"}
                ) from None
        g.author = author
    return g.author


def require_author() -> Author:
    author = current_author()
    if author is None:
        raise ApiError(
            401,
            "unauthenticated",
            "sign in: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return author


def is_moderator() -> bool:
    author = current_author()
    return bool(author and author.is_moderator)
