"""Conditional GETs and cached response bytes.

A thread's ETag is built from its projection's last applied position (and the
query), so it changes exactly when the thread's view changes. The JSON bytes
are dumped through the schemas once per ETag and kept in a small LRU per process:
a read of an unchanged thread costs one indexed row read and a dict lookup.

Bodies hold content that a later decision may withhold (or erase), so a body must not
outlive its thread's change in memory either: entries are grouped per thread, and the
first read that sees the thread at a new position drops every body of its older
positions; no body is kept longer than MAX_AGE seconds, read or not.

Concurrent misses of one key build it once: the first reader builds, the others (threads
of the same process, gthread) wait for its bytes. Without that, every connection reading
a big thread just changed built the same page at once, all sharing one GIL.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from flask import Response, current_app, request

CACHE_CONTROL = "public, max-age=0, must-revalidate"
# What a signed-in viewer reads may hold what others may not see: no shared cache.
PRIVATE = "private, max-age=0, must-revalidate"
MAX_AGE = 600.0


class _Build:
    """One build under way: the readers waiting for it, and its bytes once built."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.body: bytes | None = None
        self.waiting = 0


class BodyCache:
    def __init__(self, size: int = 512, max_age: float = MAX_AGE):
        self.size = size
        self.max_age = max_age
        self._items: OrderedDict[str, tuple[float, str | None, bytes]] = OrderedDict()
        self._versions: dict[str, object] = {}  # group -> the newest version seen
        self._lock = threading.Lock()
        self._swept = time.monotonic()
        self._building: dict[str, _Build] = {}

    def waiting(self, key: str) -> int:
        """How many readers wait for the build of `key` under way (tests)."""
        with self._lock:
            under_way = self._building.get(key)
            return under_way.waiting if under_way is not None else 0

    def get_or_build(
        self,
        key: str,
        build: Callable[[], bytes],
        group: str | None = None,
        version: object = None,
    ) -> bytes:
        now = time.monotonic()
        with self._lock:
            if group is not None and self._versions.get(group, version) != version:
                self._drop_group(group)
            item = self._items.get(key)
            if item is not None and now - item[0] < self.max_age:
                self._items.move_to_end(key)
                return item[2]
            under_way = self._building.get(key)
            if under_way is None:
                under_way = self._building[key] = _Build()
                building = True
            else:
                under_way.waiting += 1
                building = False
        if not building:
            under_way.done.wait()
            if under_way.body is not None:
                return under_way.body
            return self.get_or_build(key, build, group, version)  # its build failed
        try:
            body = build()
        except BaseException:
            with self._lock:
                del self._building[key]
            under_way.done.set()
            raise
        with self._lock:
            del self._building[key]
            under_way.body = body
            if group is not None:
                self._versions[group] = version
            self._items[key] = (now, group, body)
            if len(self._items) > self.size:
                self._items.popitem(last=False)
            if now - self._swept > self.max_age / 10:
                self._sweep(now)
        under_way.done.set()
        return body

    def _drop_group(self, group: str) -> None:
        for key in [k for k, item in self._items.items() if item[1] == group]:
            del self._items[key]
        self._versions.pop(group, None)

    def _sweep(self, now: float) -> None:
        self._swept = now
        for key in [k for k, item in self._items.items() if now - item[0] >= self.max_age]:
            del self._items[key]
        live = {item[1] for item in self._items.values()}
        for group in [g for g in self._versions if g not in live]:
            del self._versions[group]


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
    key_parts: tuple,
    build: Callable[[], bytes],
    cache_control: str = CACHE_CONTROL,
    group: str | None = None,
    version: object = None,
) -> Response:
    """304 if the client's copy is current; else the cached (or freshly built) bytes.
    `group` (a thread id) with `version` (its position now): see BodyCache."""
    etag = make_etag(*key_parts)
    if not_modified(etag):
        response = Response(status=304)
        response.headers["ETag"] = etag
        response.headers["Cache-Control"] = cache_control
        return response
    body = bodies().get_or_build(etag, build, group, version)
    return json_bytes_response(body, etag, cache_control)
