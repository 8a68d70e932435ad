"""gzip for text responses (pages, CSS, JS) when the client accepts it.

A response is compressed when its type is text-like, it is at least `MIN_SIZE`
bytes, it is not a partial or empty one, and the request's Accept-Encoding takes
gzip. Anything else passes untouched after a few header checks.

The JSON API (`/api/v1/…`) is left as it is, byte for byte: its hot path (cached
JSON bytes, or a 304) gains nothing but one prefix check. (Compressing it works the
same way, but the OpenAPI fuzz test drives the app through schemathesis's WSGI
transport, which sends requests' default `Accept-Encoding: gzip, deflate` and never
decodes; remove the prefix from `NOT_COMPRESSED` once that test sends `identity`.)

A response that carries a strong ETag names its exact bytes (the API's and the
pages' ETags come from log positions, static files' from their file), so its
gzipped bytes are kept in a small per-app cache under that ETag: an unchanged
thread, page or stylesheet is compressed once, not on every request. The ETag of
a compressed response is made weak (`W/"…"`, as nginx does), since the gzipped bytes
differ from the plain ones; `If-None-Match` compares weakly, so the views' own 304
checks still match it and answer before any body is built.

`Vary: Accept-Encoding` goes on every response that could have been compressed, so
that shared caches keep the two versions apart.
"""

from __future__ import annotations

import gzip
import threading
from collections import OrderedDict

from flask import Flask, Response, request
from werkzeug.http import parse_accept_header

MIN_SIZE = 1024  # below about 1 KB gzip's header and the CPU are not worth it
LEVEL = 6
CACHE_BYTES = 16 * 1024 * 1024  # compressed bytes kept per app
COMPRESSIBLE = frozenset(
    {
        "text/html",
        "text/css",
        "text/plain",
        "text/javascript",
        "application/javascript",
        "application/json",
        "application/problem+json",
        "application/x-ndjson",
        "image/svg+xml",
    }
)
NOT_A_FULL_BODY = frozenset({204, 206, 304})
NOT_COMPRESSED = ("/api/v1/",)  # path prefixes left alone (see above)


class GzipCache:
    """Compressed bodies by (path, strong ETag, plain size), least recently used
    dropped first once their total passes `limit` bytes."""

    def __init__(self, limit: int = CACHE_BYTES):
        self.limit = limit
        self.size = 0
        self._items: OrderedDict[tuple, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> bytes | None:
        with self._lock:
            body = self._items.get(key)
            if body is not None:
                self._items.move_to_end(key)
            return body

    def put(self, key: tuple, body: bytes) -> None:
        if len(body) > self.limit // 4:
            return  # one huge body would push everything else out
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.size -= len(old)
            self._items[key] = body
            self.size += len(body)
            while self.size > self.limit:
                _, dropped = self._items.popitem(last=False)
                self.size -= len(dropped)


def accepts_gzip(header: str) -> bool:
    if "gzip" not in header and "*" not in header:
        return False  # the common "no" without parsing
    return parse_accept_header(header).quality("gzip") > 0


def compress(data: bytes) -> bytes:
    return gzip.compress(data, LEVEL, mtime=0)  # mtime 0: the same bytes every time


def init_app(app: Flask) -> None:
    """Register the hook. Call it before any other after_request hook is added: hooks
    run in reverse order, so this one runs last, on the finished response."""
    cache = GzipCache()
    app.extensions["discuss_gzip"] = cache

    def gzip_response(response: Response) -> Response:
        if (
            request.path.startswith(NOT_COMPRESSED)
            or response.status_code in NOT_A_FULL_BODY
            or response.status_code < 200
            or response.mimetype not in COMPRESSIBLE
            or "Content-Encoding" in response.headers
        ):
            return response
        if response.is_streamed and not response.direct_passthrough:
            return response  # a generator: left streaming
        length = response.content_length
        if length is not None and length < MIN_SIZE:
            return response
        response.vary.add("Accept-Encoding")
        if not accepts_gzip(request.headers.get("Accept-Encoding", "")):
            return response
        response.direct_passthrough = False  # a static file: read it to compress it
        data = response.get_data()
        if len(data) < MIN_SIZE:
            return response
        etag, weak = response.get_etag()
        key = (request.path, etag, len(data)) if etag and not weak else None
        body = cache.get(key) if key else None
        if body is None:
            body = compress(data)
            if key:
                cache.put(key, body)
        response.set_data(body)
        response.headers["Content-Encoding"] = "gzip"
        response.headers.pop("Accept-Ranges", None)  # ranges are of the plain bytes
        if etag and not weak:
            response.set_etag(etag, weak=True)
        return response

    app.after_request(gzip_response)
