"""Atom feeds (RFC 4287): recent comments site-wide and per thread, replies to one
author, and for moderators the recent changes (every event, like MediaWiki's
RecentChanges). What they list comes from projections/feeds.py, through the visibility
policy; this module only writes the XML.

- Paged (RFC 5005 section 3): `first`, `next` (older) and `previous` (newer) links
  with `?before=`/`?after=` positions of the log.
- `ETag` from the positions of the read models the feeds read (304 on If-None-Match):
  any event that could change a feed, a decision that withholds an entry included,
  changes it.
- The recent changes take the moderator's API token (`Authorization: Bearer`, or the
  sign-in cookie) or, for feed readers that cannot send headers, `?token=` with a feed
  token: the moderator's id signed with the site's secret key (itsdangerous, salted for
  this one use), shown to them on the audit page. It reads nothing else and stops
  working once they are no longer a moderator or their account is erased.

Written with the standard library's ElementTree, which escapes every text and
attribute: a feed is a dozen elements, not worth a feed library (feedgen needs lxml).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID
from xml.etree import ElementTree as ET

from flask import Response, current_app, request, url_for
from itsdangerous import BadSignature, URLSafeSerializer
from marshmallow import ValidationError

from domain.errors import AuthorNotFound
from projections import feeds, queries
from projections.feeds import Window
from projections.visibility import Viewer
from web.api.caching import CACHE_CONTROL, PRIVATE, make_etag, not_modified
from web.auth import current_author
from web.errors import ApiError
from web.pages import bp
from web.pages.common import application, engine, thread_url
from web.pages.errors import error_page
from web.schemas_pages import FeedQuery

ATOM = "http://www.w3.org/2005/Atom"
MIMETYPE = "application/atom+xml"
PAGE_SIZE = 30
MAX_PAGE_SIZE = 100
EPOCH = "1970-01-01T00:00:00+00:00"
FEED_TOKEN_SALT = "discuss-changes-feed"

ET.register_namespace("", ATOM)


class _Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def _window() -> Window:
    schema = FeedQuery()
    try:
        loaded = schema.load(request.args)
    except ValidationError as error:
        name = next(iter(error.messages)) if isinstance(error.messages, dict) else ""
        raw = request.args.get(name, "")
        raise _Refused(400, f"?{name}= takes a whole number from 1, not {raw[:40]!r}") from None
    values = {name: value for name, value in loaded.items() if value is not None}
    if "before" in values and "after" in values:
        raise _Refused(400, "give ?before= or ?after=, not both")
    values["limit"] = min(values.get("limit", PAGE_SIZE), MAX_PAGE_SIZE)
    return Window(**values)


def _serve(kind: str, build, private: bool = False, viewer_key: str = "") -> Response:
    """304 when the reader's copy is current, else the feed built now."""
    try:
        window = _window()
    except _Refused as refused:
        return error_page(refused.status, refused.message)
    etag = make_etag("feed", kind, request.full_path, viewer_key, *feeds.version(engine()))
    headers = {"ETag": etag, "Cache-Control": PRIVATE if private else CACHE_CONTROL}
    if private:
        headers["Vary"] = "Authorization, Cookie"
    if not_modified(etag):
        return Response(status=304, headers=headers)
    return Response(build(window), mimetype=MIMETYPE, headers=headers)


def _element(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    if text is not None:
        node.text = text
    return node


def _paged_url(endpoint: str, values: dict[str, Any], **cursor: int) -> str:
    kept = {k: v for k, v in request.args.items() if k not in ("before", "after")}
    return url_for(endpoint, _external=True, **values, **kept, **cursor)


def _feed(
    title: str,
    feed_id: str,
    alternate: str | None,
    page: dict[str, Any],
    entries: list[ET.Element],
    updated: str,
) -> bytes:
    endpoint, values = request.endpoint, dict(request.view_args or {})
    root = ET.Element(f"{{{ATOM}}}feed")
    _element(root, "id", feed_id)
    _element(root, "title", title)
    _element(root, "updated", updated)
    _element(root, "generator", "discuss")
    _element(root, "link", rel="self", href=request.url)
    if alternate:
        _element(root, "link", rel="alternate", type="text/html", href=alternate)
    _element(root, "link", rel="first", href=_paged_url(endpoint, values))
    if page.get("older") is not None:
        _element(root, "link", rel="next", href=_paged_url(endpoint, values, before=page["older"]))
    if page.get("newer") is not None:
        href = _paged_url(endpoint, values, after=page["newer"])
        _element(root, "link", rel="previous", href=href)
    root.extend(entries)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _comment_entry(e: dict[str, Any]) -> ET.Element:
    entry = ET.Element(f"{{{ATOM}}}entry")
    _element(entry, "id", f"urn:uuid:{e['comment_id']}")
    _element(entry, "title", f"{e['author']['name']} on {e['thread']['title']}")
    href = url_for("pages.comment_permalink", comment_id=UUID(e["comment_id"]), _external=True)
    _element(entry, "link", rel="alternate", type="text/html", href=href)
    author = _element(entry, "author")
    _element(author, "name", e["author"]["name"])
    _element(entry, "published", e["posted_at"])
    _element(entry, "updated", e["updated_at"])
    _element(entry, "content", e["text"], type="text")
    return entry


def _comments_feed(title: str, feed_id: str, alternate: str | None, page: dict) -> bytes:
    entries = page["entries"]
    updated = max((e["updated_at"] for e in entries), default=EPOCH)
    return _feed(title, feed_id, alternate, page, [_comment_entry(e) for e in entries], updated)


# ---- the feeds ------------------------------------------------------------------------


@bp.get("/feeds/comments.atom")
def comments_feed():
    def build(window: Window) -> bytes:
        page = feeds.recent_comments(engine(), window)
        feed_id = url_for("pages.comments_feed", _external=True)
        home = url_for("pages.index", _external=True)
        return _comments_feed("Recent comments", feed_id, home, page)

    return _serve("comments", build)


@bp.get("/feeds/threads/<uuid:thread_id>.atom")
def thread_feed(thread_id: UUID):
    eng = engine()
    thread = queries.thread_meta(queries.thread_row(eng, str(thread_id)))  # 404 if unknown

    def build(window: Window) -> bytes:
        page = feeds.recent_comments(eng, window, thread_id=str(thread_id))
        feed_id = url_for("pages.thread_feed", thread_id=thread_id, _external=True)
        alternate = request.host_url.rstrip("/") + thread_url(thread)
        return _comments_feed(f"Comments on {thread['title']}", feed_id, alternate, page)

    return _serve("thread", build)


@bp.get("/feeds/authors/<uuid:author_id>/replies.atom")
def replies_feed(author_id: UUID):
    eng = engine()
    name = feeds.author_name(eng, str(author_id))
    if name is None:
        return error_page(404, f"no author with id {author_id}")

    def build(window: Window) -> bytes:
        page = feeds.replies_to(eng, str(author_id), window)
        feed_id = url_for("pages.replies_feed", author_id=author_id, _external=True)
        return _comments_feed(f"Replies to {name}", feed_id, None, page)

    return _serve("replies", build)


def feed_token(author_id: str) -> str:
    """The `?token=` of a moderator's recent-changes feed."""
    return URLSafeSerializer(current_app.secret_key, salt=FEED_TOKEN_SALT).dumps(author_id)


def _moderator_of_feed_token(token: str) -> Any:
    try:
        author_id = URLSafeSerializer(current_app.secret_key, salt=FEED_TOKEN_SALT).loads(token)
        author = application().get_author(UUID(str(author_id)))
    except (BadSignature, ValueError, AuthorNotFound):
        raise _Refused(403, "this feed token is not valid") from None
    if author.erased:
        raise _Refused(403, "this feed token is not valid")
    return author


def changes_feed_url(author: Any) -> str:
    return url_for("pages.changes_feed", token=feed_token(str(author.id)), _external=True)


@bp.get("/feeds/changes.atom")
def changes_feed():
    try:
        token = request.args.get("token")
        author = _moderator_of_feed_token(token) if token else current_author()
        if author is None:
            raise _Refused(401, "the recent changes are for moderators: sign in or use ?token=")
        if not author.is_moderator:
            raise _Refused(403, "the recent changes are for moderators")
    except _Refused as refused:
        return error_page(refused.status, refused.message)
    except ApiError as error:
        return error_page(error.status, error.message)
    viewer = Viewer.of(author)

    def build(window: Window) -> bytes:
        page = feeds.recent_changes(engine(), viewer, window)
        feed_id = url_for("pages.changes_feed", _external=True)
        audit = url_for("pages.audit", _external=True)
        entries = [_change_entry(e) for e in page["entries"]]
        updated = max((e["at"] for e in page["entries"]), default=EPOCH)
        return _feed("Recent changes", feed_id, audit, page, entries, updated)

    return _serve("changes", build, private=True, viewer_key=str(author.id))


def _change_entry(e: dict[str, Any]) -> ET.Element:
    entry = ET.Element(f"{{{ATOM}}}entry")
    _element(entry, "id", f"tag:{request.host.split(':')[0]},2026:position/{e['position']}")
    actor = e["actor"]["name"] if e["actor"] else "someone"
    _element(entry, "title", f"{e['type']}: {actor} {e['summary']}")
    if e["comment_id"]:
        href = url_for("pages.comment_permalink", comment_id=UUID(e["comment_id"]), _external=True)
    else:
        href = url_for("pages.audit", thread=e["thread_id"] or None, _external=True)
    _element(entry, "link", rel="alternate", type="text/html", href=href)
    if e["actor"]:
        author = _element(entry, "author")
        _element(author, "name", actor)
    _element(entry, "updated", e["at"])
    _element(entry, "category", term=e["type"])
    summary = e["summary"] + (f" (reason: {e['reason']})" if e["reason"] else "")
    _element(entry, "summary", summary, type="text")
    return entry
