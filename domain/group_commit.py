"""Group commit: concurrent writes of one process share one transaction (one fsync on
SQLite, one table lock on PostgreSQL).

A writer hands over its aggregates (with their new events) and data keys and waits.
Whoever finds no flush under way becomes the leader: it takes everything queued so far
(its own write included) and records it with ONE `save(*events, data_keys=...)`, the
library's atomic write of several aggregates; the writers that queued meanwhile form
the next batch. A write alone is saved as it was given (`save(*aggregates, ...)`).
Nobody waits for a timer: a batch is whatever piled up during the previous flush, so a
lone writer saves at once, as before.

Each write gets its own recordings (its own positions). If the shared transaction
fails (a version conflict, a duplicate key, anything), nothing of it was stored, and
the leader saves each write of the batch alone: the one that failed gets its own
error, the others succeed. Durability is unchanged: a writer returns only after the
transaction holding its events has committed.

Written here rather than taken from a library: the batching has to sit between the
application and the eventsourcing library's recorder, which has no such hook.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

# The most writes one transaction takes (bounds a batch's latency and its retry cost).
MAX_BATCH = 256

# save(*aggregates_or_events, data_keys=[...]) -> the recordings of their events, in order.
Save = Callable[..., list]


def _events_of(objects: list) -> list:
    """The new events of aggregates (taken from them) and events given as such."""
    events: list = []
    for obj in objects:
        if hasattr(obj, "collect_events"):
            events.extend(obj.collect_events())
        elif obj is not None:
            events.append(obj)
    return events


@dataclass
class _Write:
    events: list  # aggregates until a shared flush takes their events
    data_keys: list
    recordings: list | None = None
    error: BaseException | None = None
    done: bool = False


@dataclass
class Stats:
    """What group commit achieved (benchmarks report writes per transaction)."""

    writes: int = 0
    transactions: int = 0
    batches_retried: int = 0  # shared transactions that failed and were split
    largest: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class GroupCommit:
    save: Save
    max_batch: int = MAX_BATCH
    stats: Stats = field(default_factory=Stats)

    def __post_init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: list[_Write] = []
        self._flushing = False

    def write(self, aggregates: Sequence[Any], data_keys: Sequence[Any] = ()) -> list:
        """Record the new events of `aggregates` (with their data keys) atomically;
        returns their recordings once committed, or raises what saving them alone raised."""
        write = _Write(list(aggregates), list(data_keys))
        with self._cond:
            self._queue.append(write)
            while not write.done and self._flushing:
                self._cond.wait()
            if not write.done:
                self._flushing = True
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
        if not write.done:
            try:
                self._flush(batch)
            finally:
                with self._cond:
                    self._flushing = False
                    self._cond.notify_all()
        if write.error is not None:
            raise write.error
        return write.recordings or []

    def _flush(self, batch: list[_Write]) -> None:
        try:
            if len(batch) == 1:
                self._save_alone(batch[0])
                return
            for write in batch:  # taken once: a retry alone needs them again
                write.events = _events_of(write.events)
            try:
                recordings = self._save(batch)
            except Exception:
                # Nothing of the batch was stored: each write again, alone.
                self.stats.batches_retried += 1
                for write in batch:
                    self._save_alone(write)
                return
            start = 0
            for write in batch:
                write.recordings = recordings[start : start + len(write.events)]
                start += len(write.events)
        finally:
            for write in batch:
                if write.recordings is None and write.error is None:
                    write.error = RuntimeError("the shared write was interrupted")
                write.done = True

    def _save_alone(self, write: _Write) -> None:
        try:
            write.recordings = self._save([write])
        except BaseException as error:
            write.error = error

    def _save(self, batch: list[_Write]) -> list:
        events = [event for write in batch for event in write.events]
        data_keys = [key for write in batch for key in write.data_keys]
        recordings = self.save(*events, data_keys=data_keys) if data_keys else self.save(*events)
        self.stats.transactions += 1
        self.stats.writes += len(batch)
        self.stats.largest = max(self.stats.largest, len(batch))
        return recordings
