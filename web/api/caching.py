"""Conditional GETs and cached response bytes.

A thread's ETag is built from its projection's last applied position (and the
query), so it changes exactly when the thread's view changes. The JSON bytes
are dumped through the schemas once per ETag and kept in a small LRU per process:
a read of an unchanged thread costs one indexed row read and a dict lookup.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable

from flask import Response, current_app, request

CACHE_CONTROL = "public, max-age=0, must-revalidate"


class BodyCache:
    def __init__(self, size: int = 512):
        self.size = size
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_build(self, key: str, build: Callable[[], bytes]) -> bytes:
        with self._lock:
            body = self._items.get(key)
            if body is not None:
                self._items.move_to_end(key)
                return body
        body = build()
        with self._lock:
            self._items[key] = body
            if len(self._items) > self.size:
                self._items.popitem(last=False)
        return body


def bodies() -> BodyCache:
    """This app's cache. Per app, not per process: ETags are made of log positions,
    which repeat across databases (tests run many apps, each on a new database, in
    one process), so a process-wide cache could answer one database's body for another's.
    """
    cache = current_app.extensions.get("discuss_bodies")
    if cache is None:
        cache = current_app.extensions.setdefault("discuss_bodies", BodyCache())
    return cache


def make_etag(*parts: object) -> str:
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=12).hexdigest()
    return f'"{digest}"'


def not_modified(etag: str) -> bool:
    return etag in request.if_none_match or request.if_none_match.contains_weak(etag.strip('"'))


def json_bytes_response(
    body: bytes, etag: str, cache_control: str = CACHE_CONTROL, status: int = 200
) -> Response:
    response = Response(body, status=status, mimetype="application/json")
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = cache_control
    return response


def cached_json(
    key_parts: tuple, build: Callable[[], bytes], cache_control: str = CACHE_CONTROL
) -> Response:
    """304 if the client's copy is current; else the cached (or freshly built) bytes."""
    etag = make_etag(*key_parts)
    if not_modified(etag):
        response = Response(status=304)
        response.headers["ETag"] = etag
        response.headers["Cache-Control"] = cache_control
        return response
    return json_bytes_response(bodies().get_or_build(etag, build), etag, cache_control)
