"""The fan-out of live updates in one process: which streams (web/api/live.py) watch
which thread, and waking them when their thread changes.

One `Hub` per app (so per process under gunicorn). A follower thread learns that the
read models moved (projections/live_events.py, served_position) and wakes only the
streams of the threads that changed. It learns it three ways, the first that comes:
- in-process: the embedded runner of this process calls `wake()` after applying
  events (the embedded default);
- Redis pub/sub when scaled out: every catch-up job publishes on the queue's channel
  (workers/live_notify.py), so a stream process hears of writes made anywhere;
- polling the position every settings.stream_poll_seconds (a write caught up by
  another process of the embedded default, or a message lost with Redis down).

Stream threads never touch the database: with one thread per open stream, a
connection per stream would exhaust PostgreSQL. Every query runs on the hub's small
pool (`DB_THREADS` connections per process), and the changes of a thread after a
position are computed once for all the streams at that position (per class of viewer:
a thread page differs only between moderators and everyone else), then shared.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from redis import Redis

from projections import live_events
from projections.engine import Engine
from workers.live_notify import channel

log = logging.getLogger(__name__)

DB_THREADS = 2
MEMO_SIZE = 512  # computed changes kept: (thread, after, until, moderator) -> future
QUERY_TIMEOUT = 30.0
REDIS_POLL_SECONDS = 1.0  # with pub/sub, polling is only the safety net


class StreamsFull(Exception):
    """This process already serves settings.stream_max streams."""


class Subscription:
    def __init__(self, thread_id: str):
        self.thread_id = thread_id
        self._event = threading.Event()

    def wake(self) -> None:
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)


class Hub:
    def __init__(
        self,
        engine: Engine,
        *,
        max_streams: int,
        poll_seconds: float,
        redis_url: str | None = None,
        queue: str = "",
    ):
        self.engine = engine
        self.max_streams = max_streams
        self.poll_seconds = REDIS_POLL_SECONDS if redis_url else poll_seconds
        self.redis_url, self.queue = redis_url, queue
        self.position = 0
        self._db = ThreadPoolExecutor(DB_THREADS, thread_name_prefix="live-db")
        self._subs: dict[str, set[Subscription]] = {}
        self._count = 0
        self._memo: OrderedDict[tuple, Future] = OrderedDict()
        self._lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._started = False
        self._redis: Redis | None = None

    # ---- queries, on the hub's own connections -----------------------------------

    def query(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self._db.submit(fn, self.engine, *args, **kwargs).result(QUERY_TIMEOUT)

    def changes(
        self, thread_id: str, after: int, until: int, moderator: bool
    ) -> tuple[list[dict[str, Any]], int]:
        """The thread's changes after `after` up to `until` as a (non-)moderator sees
        them, computed once for every stream that asks the same."""
        key = (thread_id, after, until, moderator)
        with self._lock:
            future = self._memo.get(key)
            if future is None:
                future = self._db.submit(
                    live_events.thread_changes,
                    self.engine,
                    thread_id,
                    after,
                    until,
                    moderator=moderator,
                )
                self._memo[key] = future
                while len(self._memo) > MEMO_SIZE:
                    self._memo.popitem(last=False)
        try:
            return future.result(QUERY_TIMEOUT)
        except Exception:
            with self._lock:  # not kept: the next stream asks again
                if self._memo.get(key) is future:
                    del self._memo[key]
            raise

    # ---- streams ------------------------------------------------------------------

    @property
    def streams(self) -> int:
        return self._count

    def subscribe(self, thread_id: str) -> Subscription:
        self.start()
        sub = Subscription(thread_id)
        with self._lock:
            if self._count >= self.max_streams:
                raise StreamsFull(f"this process serves {self.max_streams} streams already")
            self._subs.setdefault(thread_id, set()).add(sub)
            self._count += 1
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            subs = self._subs.get(sub.thread_id)
            if subs is not None and sub in subs:
                subs.discard(sub)
                self._count -= 1
                if not subs:
                    del self._subs[sub.thread_id]

    # ---- following the read models ---------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        """Once: read the position, then follow. Streams that arrive meanwhile wait for
        the position (one read as 0 would replay the thread from its beginning)."""
        with self._start_lock:
            if self._started:
                return
            self.position = self.query(live_events.served_position)
            threading.Thread(target=self._follow, name="live-hub", daemon=True).start()
            if self.redis_url:
                threading.Thread(target=self._listen, name="live-hub-redis", daemon=True).start()
            self._started = True

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        with self._lock:
            subs = [s for group in self._subs.values() for s in group]
        for sub in subs:
            sub.wake()
        if self._redis is not None:
            self._redis.close()
        self._db.shutdown(wait=False, cancel_futures=True)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def _follow(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
            try:
                self._advance()
            except Exception:  # the store may be briefly unreachable: keep following
                log.exception("live updates: could not read the projections' position")
                self._stop.wait(1.0)

    def _advance(self) -> None:
        head = self.query(live_events.served_position)
        if head <= self.position:
            return
        touched = self.query(live_events.touched_threads, self.position, head)
        self.position = head
        with self._lock:
            woken = [s for t in touched for s in self._subs.get(t, ())]
        for sub in woken:
            sub.wake()

    def _listen(self) -> None:
        """Wake the follower on every catch-up published on Redis (reconnecting)."""
        while not self._stop.is_set():
            try:
                self._redis = Redis.from_url(self.redis_url, socket_connect_timeout=2)
                pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(channel(self.queue))
                while not self._stop.is_set():
                    if pubsub.get_message(timeout=1.0) is not None:
                        self._wake.set()
            except Exception as error:
                if not self._stop.is_set():
                    log.warning("live updates: Redis pub/sub lost (%s); polling meanwhile", error)
                    self._stop.wait(1.0)
