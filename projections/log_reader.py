"""Reading the event log a page at a time, decoded once for every projection.

Events are decoded with orjson (projections/decoding.py); the latest stretch of the log
is kept decoded (`RecentLog`), so the projections a worker catches up one after the
other read and decode new events once. An event that cannot be decoded is kept as its
reason, at its position: the page applier stops the projection there, loudly.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence
from typing import Any

from projections.decoding import EventDecoder

Item = tuple[Any, Any, str | None]  # (notification, decoded event, or why not)


def reason(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


class RecentLog:
    """The latest stretch of the log that was read, decoded: the notifications with
    positions in (low, high] are exactly `items`. That never changes once read,
    because positions are committed in order (SQLite has one writer; the library
    locks the PostgreSQL table for inserts), so a stretch can be served again."""

    def __init__(self, size: int = 5000):
        self.size = size
        self.lock = threading.Lock()
        self.low = self.high = -1
        self.items: list[Item] = []

    def after(self, position: int) -> tuple[list[Item], int] | None:
        """The known items after `position` and the end of the stretch; None if
        `position` is not in the stretch."""
        with self.lock:
            if not self.low <= position <= self.high:
                return None
            index = bisect.bisect_right(self.items, position, key=lambda item: item[0].id)
            return self.items[index:], self.high

    @staticmethod
    def _decoded(items: list[Item]) -> list[Item]:
        """The items before the first that could not be decoded: a failure is not
        kept (a deployment that knows the event may read it again)."""
        for index, item in enumerate(items):
            if item[2] is not None:
                return items[:index]
        return items

    def replace(self, after: int, items: list[Item]) -> None:
        items = self._decoded(items)
        if not items:
            return
        with self.lock:
            self.low, self.high, self.items = after, items[-1][0].id, list(items)
            self._trim()

    def extend(self, high: int, items: list[Item]) -> None:
        items = self._decoded(items)
        if not items:
            return
        with self.lock:
            if high != self.high:  # replaced meanwhile
                return
            self.items.extend(items)
            self.high = items[-1][0].id
            self._trim()

    def _trim(self) -> None:
        extra = len(self.items) - self.size
        if extra > 0:
            self.low = self.items[extra - 1][0].id
            del self.items[:extra]


class LogReader:
    """Pages of the application's log, decoded."""

    def __init__(self, app: Any):
        self.app = app
        self._decoder: EventDecoder | None = None
        self._recent = RecentLog()

    @property
    def decoder(self) -> EventDecoder:
        if self._decoder is None:
            self._decoder = EventDecoder(self.app.mapper)
        return self._decoder

    def read(self, after: int, limit: int, stop: int | None) -> tuple[list[Item], bool]:
        """Up to `limit` decoded notifications after position `after` (up to `stop`),
        and whether they reach the end of the log as read."""
        known = self._recent.after(after)
        if known is not None:
            items, high = known
            if stop is not None:
                items = [item for item in items if item[0].id <= stop]
            if len(items) >= limit:
                return items[:limit], False
            if stop is not None and high >= stop:
                return items, True
            wanted = limit - len(items)
            fetched = self.app.recorder.select_notifications(
                start=high + 1, limit=wanted, stop=stop
            )
            more = self.decode_all(fetched)
            self._recent.extend(high, more)
            return items + more, len(fetched) < wanted
        fetched = self.app.recorder.select_notifications(start=after + 1, limit=limit, stop=stop)
        items = self.decode_all(fetched)
        if items:
            self._recent.replace(after, items)
        return items, len(fetched) < limit

    def decode_all(self, notifications: Sequence[Any]) -> list[Item]:
        decode = self.decoder.decode
        items = []
        for notification in notifications:
            try:
                items.append((notification, decode(notification), None))
            except Exception as error:
                items.append((notification, None, reason(error)))
        return items

    @staticmethod
    def events_for(
        projection: Any, items: Sequence[Item]
    ) -> tuple[list[tuple[int, Any]], tuple[int, str] | None]:
        """(position, event) pairs for a projection, and (position, reason) of the first
        event that cannot be decoded (the pairs stop before it). A projection with
        `wants_notifications` gets the stored records themselves."""
        if getattr(projection, "wants_notifications", False):
            return [(n.id, n) for n, _, _ in items], None
        events = []
        for notification, event, error in items:
            if error is not None:
                return events, (notification.id, error)
            events.append((notification.id, event))
        return events, None

    def prepare(
        self, projection: Any, notifications: Sequence[Any]
    ) -> tuple[list[tuple[int, Any]], tuple[int, str] | None]:
        """`events_for` over notifications not read through `read` (a rebuild's)."""
        if getattr(projection, "wants_notifications", False):
            return [(n.id, n) for n in notifications], None
        return self.events_for(projection, self.decode_all(notifications))

    def timestamp(self, notification: Any) -> Any:
        return self.decoder.timestamp(notification)
