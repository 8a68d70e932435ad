"""Who is calling: a bearer token (API) or the sign-in cookie (pages)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import UTC, datetime

from eventsourcing import persistence
from flask import current_app, g, request

from domain import tokens
from domain.application import token_expiry
from domain.errors import NotAuthenticated
from domain.model import Author
from web.errors import STORE_UNAVAILABLE, ApiError, store_breaker
from web.runtime import runtime

COOKIE_NAME = "discuss_token"


def token_from_request() -> str | None:
    """The bearer token (or the pages' cookie); a malformed Authorization is a 401."""
    environ = request.environ  # (read directly: most reads send neither header)
    header = environ.get("HTTP_AUTHORIZATION", "")
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
    if "HTTP_COOKIE" not in environ:
        return None
    return request.cookies.get(COOKIE_NAME) or None


class AuthorCache:
    """Token -> Author, for the tokens that authenticated (never a failure), least
    recently used dropped beyond `size`. Keyed by the whole token, so that a wrong
    secret never matches. One per app (`app.extensions`), that is one per process in a
    deployment.

    An author's name and role never change; what changes is which tokens are live
    (issued, revoked at sign-out, rotation or on the account page) and the erasure of
    the account, each an event of the author. So a hit is used only while the author
    has no event after the version cached (`Discussions.is_current`: one indexed read
    of the event store, no aggregate rebuilt), whichever process wrote it: a revoked
    token or an erased account is refused by every process at once. A token's expiry
    is checked on every hit (a comparison, no read)."""

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._items: OrderedDict[str, tuple[Author, datetime | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str) -> Author | None:
        with self._lock:
            item = self._items.get(token)
            if item is None:
                return None
            if item[1] is not None and item[1] <= datetime.now(UTC):
                del self._items[token]
                return None
            self._items.move_to_end(token)
            return item[0]

    def put(self, token: str, author: Author, expires: datetime | None = None) -> None:
        with self._lock:
            self._items[token] = (author, expires)
            self._items.move_to_end(token)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def forget(self, author_id: object) -> None:
        """Drop every token of this author (one was revoked, or the account erased)."""
        with self._lock:
            for token in [t for t, item in self._items.items() if item[0].id == author_id]:
                del self._items[token]


def _author_cache() -> AuthorCache:
    cache = current_app.extensions.get("discuss_authors")
    if cache is None:
        cache = current_app.extensions.setdefault("discuss_authors", AuthorCache())
    return cache


def authenticate(token: str) -> Author:
    """The author of `token` (NotAuthenticated if none), from the cache when it
    authenticated before in this process and the author has not changed since."""
    cache = _author_cache()
    app = runtime().services.app
    author = cache.get(token)
    if author is not None and not _still_current(app, author):
        author = None
    if author is None:
        ttl_days = current_app.extensions["discuss_settings"].token_ttl_days
        author = app.authenticate(token, ttl_days=ttl_days)
        live = author.token_for(tokens.hash_secret(token.partition(".")[2]))
        cache.put(token, author, token_expiry(author, live, ttl_days))
    return author


def _still_current(app, author: Author) -> bool:
    """The cache's check (one indexed read). While the store is known to be down (the
    breaker is open) it fails at once instead of waiting for the store again; finding
    it down trips the breaker, so the rest of the request fails fast too."""
    breaker = store_breaker(current_app)
    if breaker.remaining():
        raise persistence.OperationalError("the event store is unreachable")
    try:
        return app.is_current(author)
    except STORE_UNAVAILABLE:
        breaker.trip()
        raise


def current_token_id() -> str | None:
    """The public id of the token this request signed in with."""
    token = token_from_request()
    return tokens.token_id(token) if token else None


def forget_author(author_id: object) -> None:
    """After a revocation or an account's erasure: the author's tokens are read again
    from the store in this process, and the request's own signed-in author is gone."""
    _author_cache().forget(author_id)
    g.pop("author", None)
    g.pop("viewer", None)


def current_author() -> Author | None:
    """The signed-in author, or None for an anonymous request. A bad token is a 401."""
    if "author" not in g:
        token = token_from_request()
        author = None
        if token:
            try:
                author = authenticate(token)
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
