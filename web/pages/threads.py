"""Reading: the list of threads, a thread page, "continue this thread" pages, comment
permalinks. All of it works without JavaScript."""

from __future__ import annotations

import math
from typing import Any

from flask import Response, abort, g, redirect, render_template, request, url_for

from projections import queries
from web.errors import ApiError
from web.pages import bp, forms
from web.pages.args import page_args
from web.pages.common import (
    PAGE_LIMIT,
    SUBTREE_LIMIT,
    application,
    comment_links,
    delete_token_cookie,
    engine,
    is_moderator,
    page_request,
    resolve_thread,
    runtime,
    thread_url,
    viewer,
    viewer_id,
)
from web.pages.errors import error_page
from web.pages.locate import cursor_for, place, url_of
from web.pages.timeline import position_at, slider, thread_as_of
from web.schemas_pages import CursorQuery, IndexQuery, ThreadPageQuery

THREADS_PER_PAGE = 20
_thread_query = ThreadPageQuery()
_cursor_query = CursorQuery()
_index_query = IndexQuery()


@bp.context_processor
def page_globals() -> dict[str, Any]:
    return {"viewer": viewer(), "moderator": is_moderator()}


@bp.after_request
def clear_stale_cookie(response):
    if g.get("clear_token_cookie"):
        delete_token_cookie(response)
    return response


def comment_context(thread: dict, read_only: bool = False) -> dict[str, Any]:
    """What the comment macro needs to decide which controls to show."""
    return {
        "viewer_id": viewer_id(),
        "moderator": is_moderator(),
        "locked": thread["locked"],
        "read_only": read_only,
        "thread_id": thread["id"],
        "links": comment_links(),
    }


def _wait_for_arg(position: int | None) -> str | None:
    """`?after=<position>`: a redirect after a write whose projections were not ready in
    time waits again here (bounded) so the writer sees the change. A position past the
    head of the log was never returned by a write: refused at once, like the API's
    min_position, rather than holding a worker for the whole wait (issue 12)."""
    rt = runtime()
    if position is None or rt.wait_for(position, timeout=0):
        return None
    head = application().head_position()
    if position > head:
        raise ApiError(
            400,
            "bad_request",
            f"?after= names position {position}, past the latest of the log ({head})",
        )
    if not rt.wait_for(position):
        return "Your change is saved; it is still being added to this page. Reload in a moment."
    return None


@bp.get("/")
def index():
    cursor = page_args(_index_query)["after_thread"]
    listing = queries.list_threads(engine(), limit=THREADS_PER_PAGE, cursor=cursor)
    next_cursor = listing["next_cursor"]
    next_url = (
        url_for("pages.index", after_thread=f"{next_cursor[0]}|{next_cursor[1]}")
        if next_cursor
        else None
    )
    return render_template(
        "index.html",
        threads=listing["threads"],
        next_url=next_url,
        first_page=cursor is None,
        thread_url=thread_url,
    )


def new_comment_form(thread: dict) -> forms.Form:
    return forms.Form(
        action=url_for("pages.post_comment", thread_id=thread["id"]),
        submit="Post comment",
        fields=[forms.text(label="Your comment"), forms.client_key(), forms.honeypot()],
        id="new-comment",
    )


def render_thread(
    thread_id: str,
    cursor: int | None = None,
    form: forms.Form | None = None,
    status: int = 200,
    notice: str | None = None,
    at: int | None = None,
):
    eng = engine()
    req = page_request(cursor=cursor)
    as_of = None
    if at is not None:
        page = thread_as_of(eng, thread_id, req, at)
        as_of = page.get("as_of") or {"position": at, "at": None}
    else:
        page = queries.thread_page(eng, thread_id, req)
    thread, comments, info = page["thread"], page["comments"], page["page"]
    total = thread["top_level_count"]
    start = max(1, total - info.get("remaining_top_level", 0) - len(comments) + 1)
    if cursor is None:
        start = 1
    pages = max(1, math.ceil(total / PAGE_LIMIT))
    page_number = (start - 1) // PAGE_LIMIT + 1
    extra = {"at": at} if at is not None else {}
    next_url = prev_url = None
    if info.get("next_cursor") is not None:
        next_url = thread_url(thread, cursor=info["next_cursor"], **extra)
    if start > 1:
        prev_cursor = cursor_for(eng, thread_id, start - PAGE_LIMIT, PAGE_LIMIT, None)
        params = {"cursor": prev_cursor} if prev_cursor is not None else {}
        prev_url = thread_url(thread, **params, **extra)
    if form is None and viewer() is not None and not thread["locked"] and at is None:
        form = new_comment_form(thread)
    timeline = slider(eng, thread_id, moderator=is_moderator(), at=as_of and as_of["position"])
    awaiting, premoderated = awaiting_review(eng, thread_id, at)
    body = render_template(
        "thread.html",
        thread=thread,
        comments=comments,
        start=start,
        page_number=page_number,
        pages=pages,
        next_url=next_url,
        prev_url=prev_url,
        form=form,
        ctx=comment_context(thread, read_only=at is not None),
        notice=notice,
        as_of=as_of,
        timeline=timeline,
        live_url=thread_url(thread),
        thread_url=thread_url,
        awaiting=awaiting,
        premoderated=premoderated,
    )
    return body, status


def awaiting_review(eng, thread_id: str, at: int | None) -> tuple[list[dict], bool | None]:
    """The signed-in viewer's comments and edits in this thread awaiting review (all of
    them for a moderator), and for a moderator whether pre-moderation is on (issue 13)."""
    from projections.review_queue import awaiting_review as pending
    from projections.visibility import Viewer

    author = viewer()
    if author is None or at is not None:
        return [], None
    items = pending(eng, thread_id, Viewer.of(author))
    premoderated = None
    if author.is_moderator:
        from uuid import UUID

        premoderated = application().get_thread(UUID(thread_id)).premoderated
    return items, premoderated


def _anonymous() -> bool:
    """No sign-in cookie at all (a stale one is cleared by a fresh render)."""
    from web.auth import COOKIE_NAME

    return COOKIE_NAME not in request.cookies and "Authorization" not in request.headers


PAGE_CACHE_SIZE = 64  # rendered pages kept per app (a long thread's page is ~200 KiB)


def _pages():
    """This app's cache of anonymous thread pages, apart from the JSON bodies so that
    pages never push them out."""
    from flask import current_app

    from web.api.caching import BodyCache

    cache = current_app.extensions.get("discuss_pages")
    if cache is None:
        cache = current_app.extensions.setdefault("discuss_pages", BodyCache(PAGE_CACHE_SIZE))
    return cache


class _Uncached(Exception):
    def __init__(self, text: str, status: int):
        super().__init__(status)
        self.text, self.status = text, status


def _cacheable_page(thread_id: str, render) -> Response:
    """The anonymous thread page, from the per-app byte cache, with an ETag (304 on
    If-None-Match). Keyed by the thread row's last position, the projection's
    generation and the whole query; pages with a form or a CSRF token are never kept."""
    from web.api.caching import CACHE_CONTROL, make_etag, not_modified

    eng = engine()
    row = queries.thread_row(eng, thread_id)
    last = row["last_position"]
    # The slider comes from the audit projection: keep the page only once it has
    # caught up with the thread's view.
    if eng.position("audit") < last:
        body, status = render()
        return Response(body, status=status, mimetype="text/html")
    etag = make_etag("thread-page", thread_id, last, eng.generation("threads"), request.full_path)
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "Vary": "Cookie, Authorization"}
    if not_modified(etag):
        return Response(status=304, headers=headers)

    def build() -> bytes:
        text, status = render()
        if status != 200 or "csrf_token" in text or g.get("clear_token_cookie"):
            raise _Uncached(text, status)
        return text.encode()

    try:
        body = _pages().get_or_build(etag, build, thread_id, last)
    except _Uncached as kept:
        return Response(kept.text, status=kept.status, mimetype="text/html")
    return Response(body, mimetype="text/html", headers=headers)


def _refused_position(at: int):
    """The error page for an `?at=` past the head of the log, else None."""
    head = application().head_position()
    if at > head:
        return error_page(
            404, f"the log has no position {at} yet: its latest is {head}", "No such moment"
        )
    return None


@bp.get("/t/<path:ref>")
def thread(ref: str):
    thread_id = resolve_thread(ref)
    args = page_args(_thread_query)
    notice = _wait_for_arg(args["after"])
    cursor, at, step = args["cursor"], args["at"], args["step"]
    if at is not None:
        refused = _refused_position(at)
        if refused is not None:
            return refused
    if step is not None and at is None:
        # The slider's form without JavaScript sends the index of a change point.
        chosen = position_at(engine(), thread_id, step, is_moderator())
        if chosen is not None:
            position, latest = chosen
            if latest:
                return redirect(url_for("pages.thread", ref=ref))
            return redirect(url_for("pages.thread", ref=ref, at=position))
    if notice is None and at is None and _anonymous():
        return _cacheable_page(thread_id, lambda: render_thread(thread_id, cursor=cursor))
    return render_thread(thread_id, cursor=cursor, notice=notice, at=at)


@bp.get("/t/<uuid:thread_id>/c/<uuid:comment_id>")
def subtree(thread_id, comment_id):
    eng = engine()
    cursor = page_args(_cursor_query)["cursor"]
    req = page_request(cursor=cursor, limit=SUBTREE_LIMIT)
    page = queries.comment_subtree(eng, str(comment_id), req)
    thread = page["thread"]
    if thread["id"] != str(thread_id):
        abort(404)
    node, info = page["comment"], page["page"]
    where = place(eng, str(comment_id))
    number = where.number if where else "?"
    shown = len(node["replies"])
    start = node["reply_count"] - info.get("remaining_replies", 0) - shown + 1
    if cursor is None:
        start = 1
    next_url = prev_url = None
    if info.get("next_cursor") is not None:
        next_url = url_for(
            "pages.subtree", thread_id=thread_id, comment_id=comment_id, cursor=info["next_cursor"]
        )
    if start > 1:
        prev_cursor = cursor_for(
            eng, thread["id"], start - SUBTREE_LIMIT, SUBTREE_LIMIT, node["id"]
        )
        params = {"cursor": prev_cursor} if prev_cursor is not None else {}
        prev_url = url_for("pages.subtree", thread_id=thread_id, comment_id=comment_id, **params)
    parent_url = None
    if node["parent_id"]:
        parent_place = place(eng, node["parent_id"])
        parent_url = url_of(eng, parent_place, thread) if parent_place else None
    return render_template(
        "subtree.html",
        thread=thread,
        node=node,
        number=number,
        start=start,
        next_url=next_url,
        prev_url=prev_url,
        parent_url=parent_url,
        back_url=url_of(eng, where, thread) if where else thread_url(thread),
        ctx=comment_context(thread),
        thread_url=thread_url,
    )


@bp.get("/c/<uuid:comment_id>")
def comment_permalink(comment_id):
    eng = engine()
    where = place(eng, str(comment_id))
    if where is None:
        raise queries.NotInView(f"no comment with id {comment_id}")
    thread = queries.thread_meta(queries.thread_row(eng, where.thread_id))
    return redirect(url_of(eng, where, thread))
