"""Importing an event history exported by `discuss export` into an empty store.

The export (workers/audit_cli.py) is JSON Lines, one stored event per line, in log
order. Each line carries the stored record exactly as the event store holds it:
`originator_id`, `originator_version`, `topic` and `state` -- the stored state bytes as
text (the application's JSON transcoder writes UTF-8 JSON, with no compressor or
cipher configured), or `state_base64` instead when the stored bytes are not UTF-8 text
(a deployment that compresses or encrypts its events). The other fields (`position`,
`time`, `actor`, `type`, `payload`, `link`...) describe the event for people.

`import_history(app, lines)` reads the export line by line (streamed: memory does not
grow with the file) and writes the very same stored records with the recorder's
`insert_events`, `batch_size` lines per insert. Each insert is one atomic transaction
that appends its records in file order, so the store always holds a prefix of the
export: every aggregate's events stay complete up to some version (its events are in
the log in version order), and the projections built on it are those of the source at
that point. Positions are assigned afresh, in the same order: on a source without gaps
in its positions (SQLite; PostgreSQL unless an insert was rolled back) they are the
source's, so every projection, the hash chain's links included, comes out identical;
otherwise the copy is numbered without the gaps (same events, same order; the views
differ only in their position columns, and the chain in its links).
Decoded events are not re-saved through the application: the bytes are the source's.

Checks, each stopping the import with a `HistoryImportError` that names the line:

- the line is JSON, an object, with the fields an import needs, of the right types;
  positions increase;
- with `verify=True` (the default): the state is readable by this deployment (its
  topic resolves and it decodes: the projections will read it), the line's `payload`
  (if given) is what the state decodes to, and its `link` follows from the previous
  line's link and this line's record (`projections/hash_chain.py`). A link mismatch
  where the previous line is the log's previous event (consecutive positions, or
  position 1 after the genesis) means the file or the source log was altered. After
  a gap in positions (events not exported, as in one thread's export, or a gap in
  the source's positions) a link that does not follow cannot be judged and is only
  counted as unchecked. Without verification the records are copied as they are,
  even ones nobody can decode.

A line found malformed stops the import before its batch is written: the lines of
that batch before it are not written either; earlier batches stay written. A batch
the store itself refuses (an event the file repeats: an integrity error) is rolled
back as a whole too, but on PostgreSQL it has used up positions of the sequence: the
events written after it would be renumbered, so start such a copy again in a new store.

Into a store that is not empty: the store's events are compared, in order, with the
export's first lines. If they are the same records (topic and state byte for byte),
those lines are skipped as already present and only the rest is written -- so
importing the same export twice changes nothing, and an import stopped half-way is
completed by running it again. Any difference refuses the import (nothing written).
An export whose events are all in the store already, followed there by more events,
writes nothing and is not an error. The store must not be written to while the
import runs (checked before each batch).

Note: one thread's export (`discuss export --thread`) holds the thread's own events,
not the registrations of its authors: imported alone, its comments keep their author
ids but the views have no names for them.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import IntegrityError, StoredEvent

from projections import hash_chain
from projections.decoding import EventDecoder

BATCH_LINES = 500
REQUIRED_FIELDS = ("position", "originator_id", "originator_version", "topic")
STATE_TEXT = "state"  # the stored state as UTF-8 text (the JSON transcoder's output)
STATE_BASE64 = "state_base64"  # the stored state, base64 (compressed or encrypted states)
_LINK = re.compile("[0-9a-f]{64}")


class HistoryImportError(ValueError):
    """The export cannot be imported; `line` is the 1-based line number at fault."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass
class HistoryImportSummary:
    lines: int = 0  # events read from the export
    written: int = 0  # events written by this run
    present: int = 0  # events already in the store (skipped)
    links_verified: int = 0
    links_unchecked: int = 0  # no link, or after a gap in positions
    first_position: int | None = None  # positions in this store of the events written
    last_position: int | None = None
    store_has_more: bool = False  # the store holds events after the export's

    @property
    def changed(self) -> bool:
        return self.written > 0

    def lines_of_text(self) -> list[str]:
        result = [f"events read: {self.lines}"]
        if self.written:
            result.append(
                f"events written: {self.written}"
                f" (positions {self.first_position}..{self.last_position})"
            )
        else:
            result.append("events written: 0")
        result.append(f"already there: {self.present}")
        result.append(
            f"chain links verified: {self.links_verified}; not checkable: {self.links_unchecked}"
        )
        if self.store_has_more:
            result.append("the store holds more events after the export's")
        return result


@dataclass(frozen=True)
class _Line:
    number: int
    position: int
    stored: StoredEvent
    link: str | None
    payload: Any  # the line's payload, or _ABSENT


_ABSENT = object()


# ---- one line ---------------------------------------------------------------------------


def _fail(number: int, message: str) -> HistoryImportError:
    return HistoryImportError(f"line {number}: {message}", number)


def _integer(data: dict, name: str, number: int, minimum: int) -> int:
    value = data[name]
    if type(value) is not int or value < minimum:
        raise _fail(number, f"{name!r} must be an integer >= {minimum}, not {value!r}")
    return value


def _state(data: dict, number: int) -> bytes:
    has_text, has_base64 = STATE_TEXT in data, STATE_BASE64 in data
    if has_text == has_base64:
        if has_text:
            raise _fail(number, f"both {STATE_TEXT!r} and {STATE_BASE64!r}: give one")
        raise _fail(
            number,
            f"no {STATE_TEXT!r} field: the stored state is needed to import (an export made"
            " before `discuss export` carried it? export again)",
        )
    if has_text:
        text = data[STATE_TEXT]
        if not isinstance(text, str):
            raise _fail(number, f"{STATE_TEXT!r} must be a string")
        return text.encode("utf-8")
    text = data[STATE_BASE64]
    if not isinstance(text, str):
        raise _fail(number, f"{STATE_BASE64!r} must be a string")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _fail(number, f"{STATE_BASE64!r} is not valid base64") from None


def parse_line(raw: bytes | str, number: int) -> _Line | None:
    """One line of an export; None for a blank line. Raises HistoryImportError."""
    if not raw.strip():
        return None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise _fail(number, f"not valid JSON at character {error.pos + 1}: {error.msg}") from None
    if not isinstance(data, dict):
        raise _fail(number, f"not a JSON object but {type(data).__name__}")
    missing = [name for name in REQUIRED_FIELDS if name not in data]
    if missing:
        raise _fail(number, f"no {', '.join(repr(m) for m in missing)} field")
    position = _integer(data, "position", number, 1)
    version = _integer(data, "originator_version", number, 1)
    try:
        originator_id = UUID(str(data["originator_id"]))
    except ValueError:
        raise _fail(number, f"'originator_id' {data['originator_id']!r} is not a UUID") from None
    topic = data["topic"]
    if not isinstance(topic, str) or ":" not in topic:
        raise _fail(number, f"'topic' must be a topic like 'module:Class', not {topic!r}")
    link = data.get("link")
    if link is not None and (not isinstance(link, str) or not _LINK.fullmatch(link)):
        raise _fail(number, f"'link' must be 64 lowercase hex digits or null, not {link!r}")
    stored = StoredEvent(
        originator_id=originator_id,
        originator_version=version,
        topic=topic,
        state=_state(data, number),
    )
    payload = data.get("payload")  # null when the exporter could not decode the event
    return _Line(number, position, stored, link, _ABSENT if payload is None else payload)


def _default(value: Any) -> Any:
    """As `discuss export` writes a payload's values (workers/audit_cli.py)."""
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _payload_as_exported(event: Any) -> Any:
    return orjson.loads(
        orjson.dumps(dict(vars(event)), default=_default, option=orjson.OPT_NON_STR_KEYS)
    )


def describe(stored: Any) -> str:
    kind = stored.topic.rpartition(":")[2]
    return f"{kind} of {hash_chain.canonical_id(stored.originator_id)} v{stored.originator_version}"


# ---- the chain ---------------------------------------------------------------------------


class _ChainCheck:
    """Recomputes the hash chain over the lines, in file order, from the genesis."""

    def __init__(self) -> None:
        self.position = 0  # of the previous line (0: the genesis)
        self.link: bytes | None = hash_chain.GENESIS  # the link there; None: unknown
        self.verified = 0
        self.unchecked = 0

    def check(self, line: _Line) -> None:
        s = line.stored
        consecutive = self.link is not None and line.position == self.position + 1
        computed = None
        if self.link is not None:
            record = hash_chain.record_bytes(
                line.position, s.originator_id, s.originator_version, s.topic, s.state
            )
            computed = hash_chain.next_link(self.link, record)
        if line.link is None:
            self.unchecked += 1
            self.link = computed if consecutive else None
        elif computed is not None and line.link == computed.hex():
            self.verified += 1
            self.link = computed
        elif consecutive:
            raise _fail(
                line.number,
                f"position {line.position} ({describe(s)}): its chain link does not follow"
                " from the previous line's link and this line's record: the export was"
                " altered after it was made, or the source's log was (see `discuss verify`)",
            )
        else:
            self.unchecked += 1  # events between were not exported: cannot judge
            self.link = bytes.fromhex(line.link)
        self.position = line.position


# ---- the import ------------------------------------------------------------------------


def _same(stored: Any, line: _Line) -> bool:
    s = line.stored
    return (
        hash_chain.canonical_id(stored.originator_id) == str(s.originator_id)
        and int(stored.originator_version) == s.originator_version
        and stored.topic == s.topic
        and bytes(stored.state) == s.state
    )


def import_history(
    app: Any,
    lines: Iterable[bytes | str],
    *,
    verify: bool = True,
    batch_size: int = BATCH_LINES,
    on_batch: Callable[[HistoryImportSummary], None] | None = None,
) -> HistoryImportSummary:
    """Import an export's lines (an iterable of lines, e.g. an open binary file) into
    `app`'s store; see the module's description. Raises HistoryImportError."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    recorder = app.recorder
    summary = HistoryImportSummary()
    chain = _ChainCheck() if verify else None
    decoder = EventDecoder(app.mapper)  # the mapper's result, faster
    head = recorder.max_notification_id() or 0
    existing: Iterator[Any] | None = hash_chain.notifications(app, 0, stop=head) if head else None
    batch: list[_Line] = []
    previous_position = 0

    def write() -> None:
        nonlocal head
        now = recorder.max_notification_id() or 0
        if now != head:
            raise HistoryImportError(
                f"the store was written to during the import (its last position moved from"
                f" {head} to {now}): stop other writers and import again; the {summary.written}"
                " events written so far are kept and will be recognised"
            )
        _check_repeats(batch)
        try:
            ids = recorder.insert_events([line.stored for line in batch])
        except IntegrityError:
            raise _repeated(app, batch) from None
        ids = list(ids or [])
        if len(ids) != len(batch):  # a recorder that does not say: the batch is the head
            last = recorder.max_notification_id() or 0
            ids = [last - len(batch) + 1, last]
        head = ids[-1]
        summary.written += len(batch)
        if summary.first_position is None:
            summary.first_position = ids[0]
        summary.last_position = ids[-1]
        batch.clear()
        if on_batch is not None:
            on_batch(summary)

    for number, raw in enumerate(lines, start=1):
        line = parse_line(raw, number)
        if line is None:
            continue
        if line.position <= previous_position:
            raise _fail(
                number,
                f"positions must increase, but {line.position} follows {previous_position}:"
                " the lines are not in log order",
            )
        previous_position = line.position
        summary.lines += 1
        if chain is not None:
            event = _decode(decoder, line)
            if line.payload is not _ABSENT and _payload_as_exported(event) != line.payload:
                raise _fail(
                    number,
                    f"position {line.position} ({describe(line.stored)}): its 'payload' is not"
                    " what its stored state says: the line was edited",
                )
            chain.check(line)
        if existing is not None:
            stored = next(existing, None)
            if stored is not None:
                if not _same(stored, line):
                    differs = (
                        f"holds {describe(line.stored)} with another stored state"
                        if describe(stored) == describe(line.stored)
                        else f"holds {describe(stored)}, not this line's {describe(line.stored)}"
                    )
                    raise _fail(
                        number,
                        f"the store is not empty, and its position {stored.id} {differs}:"
                        " it is not a copy of this export; import into an empty store",
                    )
                summary.present += 1
                continue
            existing = None
        batch.append(line)
        if len(batch) >= batch_size:
            write()
    if batch:
        write()
    if chain is not None:
        summary.links_verified, summary.links_unchecked = chain.verified, chain.unchecked
    if existing is not None and next(existing, None) is not None:
        summary.store_has_more = True
    return summary


def _decode(decoder: EventDecoder, line: _Line) -> Any:
    try:
        return decoder.decode(line.stored)
    except Exception as error:
        raise _fail(
            line.number,
            f"position {line.position} ({describe(line.stored)}) cannot be read by this"
            f" deployment: {type(error).__name__}: {error}",
        ) from None


def _check_repeats(batch: list[_Line]) -> None:
    seen: dict[tuple[UUID, int], int] = {}
    for line in batch:
        key = (line.stored.originator_id, line.stored.originator_version)
        if key in seen:
            raise _fail(
                line.number,
                f"{describe(line.stored)} repeats line {seen[key]}: an event appears twice",
            )
        seen[key] = line.number


def _repeated(app: Any, batch: list[_Line]) -> HistoryImportError:
    """The error for a batch the store refused: the first line whose event is there."""
    for line in batch:
        s = line.stored
        found = app.recorder.select_events(
            s.originator_id, gt=s.originator_version - 1, lte=s.originator_version, limit=1
        )
        if found:
            return _fail(
                line.number,
                f"{describe(s)} is in the store already (an earlier line, or an event written"
                " by someone else): an event appears twice; nothing of this batch was written",
            )
    return HistoryImportError(
        f"lines {batch[0].number}-{batch[-1].number}: the store refused the batch (an integrity"
        " error); nothing of it was written"
    )
