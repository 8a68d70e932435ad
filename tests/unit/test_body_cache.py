"""The cache of response bytes (web/api/caching.py) builds a body once when many threads
of a process ask for it at the same moment (a changed big thread read by every
connection at once), and every one of them gets that body."""

from __future__ import annotations

import threading
import time

from web.api.caching import BodyCache

READERS = 6


def test_concurrent_misses_of_one_key_build_it_once():
    cache = BodyCache()
    release = threading.Event()
    builds = []

    def build() -> bytes:
        builds.append(threading.current_thread().name)
        release.wait(10)  # a slow build: the others arrive meanwhile
        return b"the body"

    got = []
    threads = [
        threading.Thread(target=lambda: got.append(cache.get_or_build("k", build, "t", 1)))
        for _ in range(READERS)
    ]
    threads[0].start()
    deadline = time.monotonic() + 10
    while not builds and time.monotonic() < deadline:
        time.sleep(0.005)
    for thread in threads[1:]:
        thread.start()
    # Let every other reader reach the cache while the first build is under way.
    waiting = getattr(cache, "waiting", None)
    if waiting is None:  # a cache that cannot say: give the readers time to arrive
        time.sleep(0.5)
    while waiting is not None and waiting("k") < READERS - 1 and time.monotonic() < deadline:
        time.sleep(0.005)
    release.set()
    for thread in threads:
        thread.join(10)
    assert got == [b"the body"] * READERS
    assert len(builds) == 1


def test_a_failed_build_fails_only_its_caller_and_the_next_reader_builds_again():
    cache = BodyCache()

    def broken() -> bytes:
        raise RuntimeError("the store is away")

    try:
        cache.get_or_build("k", broken)
    except RuntimeError:
        pass
    else:
        raise AssertionError("the failure was swallowed")
    assert cache.get_or_build("k", lambda: b"fine") == b"fine"


def test_a_newer_version_is_not_answered_with_a_body_built_for_an_older_one():
    cache = BodyCache()
    assert cache.get_or_build("k1", lambda: b"old", "t", 1) == b"old"
    assert cache.get_or_build("k2", lambda: b"new", "t", 2) == b"new"
    assert cache.get_or_build("k1", lambda: b"old again", "t", 1) == b"old again"
