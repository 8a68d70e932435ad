"""What every page view needs: the services, who is looking, where a thread or a
comment lives, and read-your-writes after a write."""

from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from flask import current_app, g, request, url_for

from domain.application import Discussions
from domain.model import Author
from domain.rules import THREAD_KEY_URL_MAX_LENGTH, key_url_length
from projections import queries
from projections.engine import Engine
from web import limiter
from web.api.common import address_key, author_key
from web.auth import COOKIE_NAME, current_author
from web.errors import ApiError
from web.pages import bp
from web.runtime import runtime

# How much of a thread one page shows.
PAGE_LIMIT = 25  # top-level comments per page
PAGE_DEPTH = 5  # levels below a top-level comment before "continue this thread"
REPLIES_LIMIT = 50  # replies under one comment before "continue this thread"
SUBTREE_LIMIT = 25  # direct replies per page of a "continue this thread" page


def engine() -> Engine:
    return runtime().services.engine


def application() -> Discussions:
    return runtime().services.app


def viewer() -> Author | None:
    """The signed-in author, or None. A stale or broken cookie counts as signed out
    (and is cleared on the way out) rather than failing the page."""
    if "viewer" not in g:
        try:
            g.viewer = current_author()
        except ApiError:
            g.viewer = None
            g.author = None
            g.clear_token_cookie = True
    return g.viewer


def viewer_name() -> str | None:
    """The signed-in author's display name, opened (names are sealed in the store)."""
    author = viewer()
    if author is None:
        return None
    if "viewer_name" not in g:
        g.viewer_name = application().display_name(author)
    return g.viewer_name


def is_moderator() -> bool:
    author = viewer()
    return bool(author and author.is_moderator)


def viewer_id() -> str | None:
    author = viewer()
    return str(author.id) if author else None


@bp.app_context_processor
def account_globals() -> dict[str, Any]:
    """The header's "Signed in as …" (base.html), on every page (error pages too)."""
    return {"viewer_name": viewer_name()}


def page_request(**overrides: Any) -> queries.PageRequest:
    values: dict[str, Any] = dict(
        limit=PAGE_LIMIT, depth=PAGE_DEPTH, replies_limit=REPLIES_LIMIT, moderator=is_moderator()
    )
    values.update(overrides)
    return queries.PageRequest(**values)


def resolve_thread(ref: str) -> str:
    """A thread's id from its id or its key (NotInView if neither is known)."""
    eng = engine()
    try:
        thread_id = str(UUID(ref))
    except ValueError:
        return queries.thread_id_for_key(eng, ref)
    try:
        queries.thread_row(eng, thread_id)
    except queries.NotInView:
        return queries.thread_id_for_key(eng, ref)  # a key that looks like a UUID
    return thread_id


def thread_ref(meta: dict) -> str:
    """The key, or the id when there is none or the key is too long for a URL (a thread
    opened before keys were limited: its pages stay reachable by id)."""
    key = meta.get("key")
    if key and key_url_length(key) <= THREAD_KEY_URL_MAX_LENGTH:
        return key
    return meta["id"]


def thread_url(meta: dict, **params: Any) -> str:
    return url_for("pages.thread", ref=thread_ref(meta), **params)


def wrote(position: int) -> bool:
    """After a write: nudge the projections and wait (bounded) until they include it,
    so that the page the writer is sent to already shows the change."""
    rt = runtime()
    rt.after_write(position)
    return rt.wait_for(position)


def comment_links() -> dict[str, tuple[str, str]]:
    """URL prefixes and suffixes of a comment's links, built once per render (url_for
    per link costs more than the rest of a comment): the macro puts the id between."""
    marker = "00000000-0000-0000-0000-000000000000"
    out = {}
    names = ("comment_permalink", "history", "reply", "edit", "retract", "hide", "restore", "erase")
    for name in names:
        head, _, tail = url_for(f"pages.{name}", comment_id=marker).partition(marker)
        out[name] = (head, tail)
    return out


# Control, format, unassigned and line/paragraph-separator characters (spaces stay).
_NOT_IN_A_PATH = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def is_local_path(value: str) -> bool:
    """A path on this site, safe to redirect to: one leading "/", no scheme or host, no
    backslash (some browsers read it as "/"), and no control or format characters:
    CR/LF would split the Location header, and browsers drop tabs and newlines from a
    URL, which turns "/", tab, "/host" into "//host"."""
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return False
    if any(unicodedata.category(c) in _NOT_IN_A_PATH for c in value):
        return False
    parts = urlsplit(value)
    return not (parts.scheme or parts.netloc)


def safe_next(value: str | None, default: str = "/") -> str:
    """A local path to go back to; anything else (another host, a scheme) is refused."""
    return value if value and is_local_path(value) else default


def _write_limit() -> str:
    return current_app.extensions["discuss_settings"].write_rate_limit


# Form posts share the JSON API's write budgets (per address and per author).
writes = limiter.shared_limit(
    _write_limit, scope="writes-per-address", key_func=address_key, methods=["POST"]
)
writes_per_author = limiter.shared_limit(
    _write_limit, scope="writes-per-author", key_func=author_key, methods=["POST"]
)


def write_limits(view):
    return writes(writes_per_author(view))


# The sign-in cookie: set and cleared with the same flags, in one place.
COOKIE_MAX_AGE = 365 * 24 * 3600


def set_token_cookie(response, token: str) -> None:
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=COOKIE_MAX_AGE,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=request.is_secure,
    )


def delete_token_cookie(response) -> None:
    """Signs out: the sign-in cookie cleared with the flags it was set with."""
    response.delete_cookie(
        COOKIE_NAME, path="/", httponly=True, samesite="Lax", secure=request.is_secure
    )
