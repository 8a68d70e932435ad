"""Live updates of a thread as Server-Sent Events: `GET /threads/{id}/events`.

Each change of the thread is one event: `id:` its position in the log, `event:` its
kind (`comment.posted`, `comment.edited`, `comment.hidden`, `thread.locked` …) and
`data:` JSON with the comment as the thread page shows it to this viewer now (the one
visibility policy, projections/live_events.py): never a text that is withheld today.
A client that reconnects sends `Last-Event-ID` (browsers do it themselves) and gets
every change after that position, none twice; a first connection may name its
starting position with `?after=` (the page passes the position it was rendered at).
A comment line every settings.stream_heartbeat_seconds keeps proxies from closing an
idle stream, and finds clients that left.

One thread per open stream (gunicorn's gthread worker; see README, Live updates): the
view only waits on its subscription; every query runs on the hub (web/live_hub.py).

Not in the OpenAPI document: an endless text/event-stream response has no schema there,
and the document's fuzz test would wait on it forever. Its errors are the API's.
"""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator
from uuid import UUID

import orjson
from flask import Blueprint, Response, current_app, request

from projections import live_events
from web.auth import current_author
from web.errors import ApiError
from web.live_hub import Hub, StreamsFull
from web.runtime import runtime
from web.schemas_live import LiveChange

bp = Blueprint("live", __name__)

RETRY_MS = 2000  # how long a browser waits before reconnecting
CHECK_SECONDS = 1.0  # how often an idle stream looks whether its client left
_SCHEMA = LiveChange()


def hub() -> Hub:
    """This app's hub, built on the first stream (after any fork)."""
    found = current_app.extensions.get("discuss_live")
    if found is None:
        rt = runtime()
        settings = rt.settings
        made = Hub(
            rt.services.engine,
            max_streams=settings.stream_max,
            poll_seconds=settings.stream_poll_seconds,
            redis_url=settings.redis_url,
            queue=settings.queue,
        )
        found = current_app.extensions.setdefault("discuss_live", made)
        if found is made:
            rt.on_stop.append(made.stop)
            if rt.runner is not None:
                rt.runner.on_applied.append(made.wake)
    return found


def _start_position() -> int | None:
    """Last-Event-ID (a reconnection), else ?after=; None: from now on."""
    raw = request.headers.get("Last-Event-ID")
    name = "Last-Event-ID"
    if raw is None:
        raw, name = request.args.get("after"), "after"
    if raw is None or (name == "Last-Event-ID" and raw.strip() == ""):
        return None
    raw = raw.strip()
    if not raw.isdigit():
        raise ApiError(
            400,
            "invalid_position",
            f"{name} must be a position of the log (a whole number), not {raw[:40]!r}",
            fields={name: ["not a position of the log"]},
        )
    position = int(raw)
    head = runtime().services.app.head_position()
    if position > head:
        raise ApiError(
            400,
            "invalid_position",
            f"{name} {position} is not a position of the log yet: its latest is {head}",
            fields={name: ["beyond the end of the log"]},
        )
    return position


def _gone(sock: socket.socket | None) -> bool:
    """The client closed its connection (an idle stream learns it without writing, so
    its thread is free within a second, not at the next heartbeat). Only under
    gunicorn, which hands the socket over in the environ."""
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


def _event(change: dict) -> str:
    data = orjson.dumps(_SCHEMA.dump(change)).decode()
    return f"id: {change['position']}\nevent: {change['event']}\ndata: {data}\n\n"


@bp.get("/threads/<uuid:thread_id>/events")
def thread_events(thread_id: UUID) -> Response:
    start = _start_position()
    author = current_author()  # a bad token is a 401 before the stream starts
    moderator = bool(author and author.is_moderator)
    live = hub()
    thread = str(thread_id)
    if not live.query(live_events.thread_exists, thread):
        raise ApiError(404, "not_found", f"no thread with id {thread}")
    try:
        sub = live.subscribe(thread)
    except StreamsFull as full:
        raise ApiError(
            503, "streams_full", f"{full}: try again later", headers={"Retry-After": "30"}
        ) from None
    heartbeat = runtime().settings.stream_heartbeat_seconds
    client = request.environ.get("gunicorn.socket")

    def stream() -> Iterator[str]:
        try:
            sent = live.position if start is None else start
            yield f"retry: {RETRY_MS}\n: position {sent}\n\n"
            quiet = 0.0
            while not live.stopped:
                sub.clear()
                head = live.position
                while sent < head:
                    changes, through = live.changes(thread, sent, head, moderator)
                    for change in changes:
                        yield _event(change)
                    sent = through
                    quiet = 0.0
                if sub.wait(CHECK_SECONDS):
                    continue
                if _gone(client):
                    return
                quiet += CHECK_SECONDS
                if quiet >= heartbeat:
                    yield ": keepalive\n\n"
                    quiet = 0.0
        finally:
            live.unsubscribe(sub)

    return Response(
        stream(),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
