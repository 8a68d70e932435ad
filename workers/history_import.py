"""Importing an event history exported by `discuss export` into a new store.

The export (workers/audit_cli.py) is JSON Lines, one stored event per line, in log
order. Each line carries the stored record exactly as the source's event store holds
it: `originator_id`, `originator_version`, `topic` and `state` -- the stored state
bytes as text (the application's JSON transcoder writes UTF-8 JSON), or `state_base64`
instead when the stored bytes are not UTF-8 text (a deployment that compresses its
events). The other fields (`position`, `time`, `actor`, `type`, `payload`, `link`...)
describe the event for people.

Personal content is sealed (domain/sealing.py): a comment's text, an edit or
moderation reason, a display name (CONTENT_FIELDS) are ciphertext in the stored state,
under data keys that live in the source's key table, wrapped by the source's master
key. A new store has its own key table and master key: it cannot open them. So:

- `discuss export` writes the stored events only: ciphertext, never plaintext. Such
  a file is an archive of the log and of its chain; it cannot be imported (a line
  with sealed content and nothing to open it with is refused, naming the line).
- `discuss export --open` (the operator) adds to each line with content an `opened`
  object: the values the operator may read, opened by the visibility policy (the
  RECORD surface, the operator as viewer: everything but erased content). Content
  that is erased, or whose key is lost, is `null` there, and named in `withheld`
  ({"text": {"why": "erased", "note": "erased on 6 December 2026"}}).
- A store written before sealing holds plaintext: its plain export (or its `--open`
  one) carries the values themselves.

`import_history(app, lines)` reads the export line by line (streamed: memory does not
grow with the file) and writes each event with its content SEALED AFRESH: a fresh data
key per event, as the application makes them (its owner: the comment's author, or the
author themself for a name), stored in this store's key table in the same transaction
as the events. Content withheld at the source (erased, or its key lost there) is
sealed under a key that is born destroyed (its row has no wrapped key): it reads as
erased or unavailable, as at the source, and nothing can open it. Events without
content (thread events, erasures, imports...) are written byte for byte. The export
written before sealing into a new store is therefore the migration path of a legacy
store: `discuss export --open`, then `discuss import-history` into a new store, which
holds only sealed content and starts its own hash chain.

`batch_size` lines go per insert. Each insert is one atomic transaction that appends
its records (and their data keys) in file order, so the store always holds a prefix of
the export: every aggregate's events stay complete up to some version, and the
projections built on it are those of the source at that point. Positions are assigned
afresh, in the same order: on a source without gaps in its positions (SQLite;
PostgreSQL unless an insert was rolled back) they are the source's; otherwise the copy
is numbered without the gaps. Every projection comes out as in the source when read
through the policy (opened values; the sealed strings themselves differ), except the
hash chain: re-sealed events are other bytes, so the new store's chain is its own.

Checks, each stopping the import with a `HistoryImportError` that names the line:

- the line is JSON, an object, with the fields an import needs, of the right types;
  positions increase; `opened` and `withheld` name only content the event carries, an
  opened value is a string (or null with a `withheld` marker), and an opened value of
  a plaintext event is that plaintext;
- every content value can be sealed here: opened in the line, or plaintext in the
  stored state. Sealed content with no `opened` value is refused ("export the source
  with `discuss export --open`");
- with `verify=True` (the default): the stored state is readable by this deployment
  (its topic resolves and it decodes), the line's `payload` (if given) is what the
  state decodes to, and its `link` follows from the previous line's link and this
  line's stored record (`projections/hash_chain.py`): the file is the source's log as
  it was chained there. A link mismatch where the previous line is the log's previous
  event (consecutive positions, or position 1 after the genesis) means the file or
  the source log was altered. After a gap in positions (events not exported, as in
  one thread's export, or a gap in the source's positions) a link that does not
  follow cannot be judged and is only counted as unchecked. The opened values are
  the operator's word: nothing in the source's chain covers plaintext. Without
  verification a line that cannot be decoded is copied as it is (so is its content).

A line found malformed stops the import before its batch is written: the lines of
that batch before it are not written either; earlier batches stay written. A batch
the store itself refuses (an event the file repeats: an integrity error) is rolled
back as a whole too, but on PostgreSQL it has used up positions of the sequence: the
events written after it would be renumbered, so start such a copy again in a new store.

Into a store that is not empty: the store's events are compared, in order, with the
export's first lines. If they are the same events (topic, ids, versions, every field;
content compared opened: the store's sealed values open to the line's values, withheld
ones to nothing), those lines are skipped as already present and only the rest is
written -- so importing the same export twice changes nothing, and an import stopped
half-way is completed by running it again. Any difference refuses the import (nothing
written). An export whose events are all in the store already, followed there by more
events, writes nothing and is not an error. The store must not be written to while the
import runs (checked before each batch).

Note: one thread's export (`discuss export --thread`) holds the thread's own events,
not the registrations of its authors: imported alone, its comments keep their author
ids but the views have no names for them.
"""

from __future__ import annotations

import base64
import binascii
import copy
import dataclasses
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError, StoredEvent

from domain.model import Author, Comment
from domain.sealing import DataKey, is_sealed
from projections import hash_chain
from projections.decoding import EventDecoder
from projections.keys import UNAVAILABLE

BATCH_LINES = 500
REQUIRED_FIELDS = ("position", "originator_id", "originator_version", "topic")
STATE_TEXT = "state"  # the stored state as UTF-8 text (the JSON transcoder's output)
STATE_BASE64 = "state_base64"  # the stored state, base64 (compressed states)
OPENED = "opened"  # `discuss export --open`: the content the operator may read, opened
WITHHELD = "withheld"  # ...and the content it could not give: {field: {"why", "note"}}
# The personal content each type of event carries sealed (domain/application.py seals
# exactly these, under one data key per event).
CONTENT_FIELDS: dict[type, tuple[str, ...]] = {
    Author.Registered: ("name",),
    Comment.Posted: ("text",),
    Comment.Edited: ("text", "reason"),
    Comment.Retracted: ("reason",),
    Comment.Hidden: ("reason",),
    Comment.Restored: ("reason",),
    Comment.RevisionSuppressed: ("reason",),
    Comment.RevisionUnsuppressed: ("reason",),
}
# Comments whose author the import remembers (whose content is it?); beyond that, the
# author of a comment written earlier is read back from the store.
OWNERS_KEPT = 1_000_000
_LINK = re.compile("[0-9a-f]{64}")
_WITHHELD = object()  # content withheld at the source: erased, or its key lost there


def content_of(event: Any) -> dict[str, Any]:
    """The event's personal content: field -> value (sealed, or plaintext in a store
    written before sealing); fields without a value are left out."""
    fields = CONTENT_FIELDS.get(type(event), ())
    return {name: value for name in fields if (value := getattr(event, name, None)) is not None}


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
    sealed: int = 0  # of those written: content sealed with this store's keys
    withheld: int = 0  # ...of which erased or unavailable at the source (no key)
    links_verified: int = 0  # the source's chain, over the file's stored records
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
            f"content sealed with this store's keys: {self.sealed} events"
            f" ({self.withheld} erased or unavailable at the source)"
        )
        result.append(
            f"source chain links verified: {self.links_verified};"
            f" not checkable: {self.links_unchecked}"
        )
        if self.sealed:
            result.append("hash chain: this store's own (re-sealed events are new records)")
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
    opened: dict[str, str | None] | None  # None: the line has no "opened"
    withheld: dict[str, Any]


@dataclass(frozen=True)
class _Record:
    """What a line becomes in this store."""

    line: _Line
    stored: StoredEvent
    key: DataKey | None  # its data key (content sealed here), if any
    withheld: bool = False


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


def _opened(data: dict, number: int) -> tuple[dict[str, str | None] | None, dict[str, Any]]:
    opened = data.get(OPENED)
    if opened is not None and not (
        isinstance(opened, dict) and all(v is None or isinstance(v, str) for v in opened.values())
    ):
        raise _fail(number, f"{OPENED!r} must be an object of strings (or nulls)")
    withheld = data.get(WITHHELD)
    if withheld is None:
        withheld = {}
    if not isinstance(withheld, dict):
        raise _fail(number, f"{WITHHELD!r} must be an object")
    return opened, withheld


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
    opened, withheld = _opened(data, number)
    payload = data.get("payload")  # null when the exporter could not decode the event
    return _Line(
        number,
        position,
        stored,
        link,
        _ABSENT if payload is None else payload,
        opened,
        withheld,
    )


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


def _at(line: _Line) -> str:
    return f"position {line.position} ({describe(line.stored)})"


# ---- the chain ---------------------------------------------------------------------------


class _ChainCheck:
    """Recomputes the source's hash chain over the lines' stored records, in file order,
    from the genesis."""

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
                f"{_at(line)}: its chain link does not follow"
                " from the previous line's link and this line's record: the export was"
                " altered after it was made, or the source's log was (see `discuss verify`)",
            )
        else:
            self.unchecked += 1  # events between were not exported: cannot judge
            self.link = bytes.fromhex(line.link)
        self.position = line.position


# ---- sealing the content afresh ----------------------------------------------------------


class _Sealing:
    """Turns a line into this store's record: its content sealed with a fresh data key."""

    def __init__(self, app: Any):
        self.app = app
        self.sealer = getattr(app, "sealer", None)
        self.opener = getattr(app, "opener", None)
        self.owners: dict[UUID, UUID] = {}  # comment -> its author

    def content(self, line: _Line, event: Any | None) -> dict[str, Any]:
        """The event's content to write: field -> plaintext, or _WITHHELD. Raises for
        content that cannot be had (sealed by the source, and not opened in the line)."""
        opened = line.opened or {}
        if event is None:  # not decodable (unverified import): copied as it is
            if opened or line.withheld:
                raise _fail(line.number, f"{_at(line)} cannot be decoded: its content with it")
            return {}
        carried = content_of(event)
        for what, names in ((OPENED, opened), (WITHHELD, line.withheld)):
            extra = sorted(set(names) - set(carried))
            if extra:
                raise _fail(
                    line.number,
                    f"{_at(line)}: {what!r} names {', '.join(map(repr, extra))}, which its"
                    " event does not carry",
                )
        result: dict[str, Any] = {}
        for name, value in carried.items():
            if name in line.withheld:
                if opened.get(name) is not None:
                    raise _fail(line.number, f"{_at(line)}: {name!r} is opened and withheld")
                result[name] = _WITHHELD
            elif name in opened:
                plain = opened[name]
                if plain is None:
                    raise _fail(
                        line.number,
                        f"{_at(line)}: its opened {name!r} is null without a {WITHHELD!r} marker",
                    )
                if not is_sealed(value) and plain != value:
                    raise _fail(
                        line.number,
                        f"{_at(line)}: its opened {name!r} is not the plaintext its stored"
                        " state holds: the line was edited",
                    )
                result[name] = plain
            elif not is_sealed(value):
                result[name] = value  # written before sealing: plaintext
            else:
                sealed = ", ".join(repr(n) for n, v in carried.items() if is_sealed(v))
                raise _fail(
                    line.number,
                    f"{_at(line)} holds sealed content ({sealed}) that this store cannot"
                    f" open: it is sealed with the source's keys, and the line has no"
                    f" {OPENED!r} value for it. Export the source with `discuss export"
                    " --open` (the operator's export, with the content opened) and import"
                    " that file",
                )
        kinds = {value is _WITHHELD for value in result.values()}
        if len(kinds) > 1:
            raise _fail(
                line.number,
                f"{_at(line)}: its content is partly opened, partly withheld; one data key"
                " seals all of an event's content, so it is all one or all the other",
            )
        return result

    def remember(self, event: Any | None) -> None:
        if isinstance(event, Comment.Posted):
            self.owners[event.originator_id] = event.author_id

    def forget_if_many(self) -> None:
        if len(self.owners) > OWNERS_KEPT:
            self.owners.clear()

    def _owner(self, line: _Line, event: Any) -> tuple[UUID, UUID | None]:
        """(owner, comment) of the event's data key, as the application makes them."""
        if isinstance(event, Author.Event):
            return event.originator_id, None
        comment_id = event.originator_id
        author_id = self.owners.get(comment_id)
        if author_id is None:
            try:
                author_id = self.app.repository.get(comment_id).author_id
            except (AggregateNotFoundError, AttributeError):
                raise _fail(
                    line.number,
                    f"{_at(line)}: comment {comment_id} was posted neither earlier in the"
                    " export nor in this store: whose content it is cannot be told",
                ) from None
            self.owners[comment_id] = author_id
        return author_id, comment_id

    def record(self, line: _Line, event: Any | None, content: dict[str, Any]) -> _Record:
        if not content:
            return _Record(line, line.stored, None)
        if self.sealer is None:
            # A store that seals nothing (no sealing set up): plaintext as it is.
            if any(v is _WITHHELD or is_sealed(getattr(event, n)) for n, v in content.items()):
                raise _fail(
                    line.number,
                    f"{_at(line)}: this store seals nothing (no master key set up), so it"
                    " cannot take content that was sealed or withheld at the source",
                )
            return _Record(line, line.stored, None)
        owner, comment_id = self._owner(line, event)
        key = self.sealer.new_key(owner, comment_id, event.originator_version)
        withheld = any(value is _WITHHELD for value in content.values())
        resealed = copy.copy(event)
        resealed.__dict__.update(
            {name: key.seal("" if value is _WITHHELD else value) for name, value in content.items()}
        )
        # Content withheld at the source: a key born destroyed (no wrapped key stored):
        # nobody can open it here either.
        data_key = dataclasses.replace(key.stored, wrapped=None) if withheld else key.stored
        return _Record(line, self.app.mapper.to_stored_event(resealed), data_key, withheld)

    def same(self, stored: Any, line: _Line, event: Any | None, content: dict[str, Any]) -> bool:
        """Is the store's `stored` record this line's event (content compared opened)?"""
        if not content or self.sealer is None:
            return _same(stored, line)
        s = line.stored
        if (
            hash_chain.canonical_id(stored.originator_id) != str(s.originator_id)
            or int(stored.originator_version) != s.originator_version
            or stored.topic != s.topic
        ):
            return False
        try:
            existing = self.app.mapper.to_domain_event(stored)
        except Exception:
            return False
        mine, theirs = dict(vars(existing)), dict(vars(event))
        for name in content:
            mine.pop(name, None)
            theirs.pop(name, None)
        if mine != theirs:
            return False
        values = [getattr(existing, name, None) for name in content]
        if self.opener is None:
            opened = {v: v for v in values if v is not None}
        else:
            opened = self.opener.open_many(values)
        for name, want in content.items():
            got = opened.get(getattr(existing, name, None))
            if (got is not UNAVAILABLE) if want is _WITHHELD else (got != want):
                return False
        return True


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
    sealing = _Sealing(app)
    decoder = EventDecoder(app.mapper)  # the mapper's result, faster
    head = recorder.max_notification_id() or 0
    existing: Iterator[Any] | None = hash_chain.notifications(app, 0, stop=head) if head else None
    batch: list[_Record] = []
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
        records = [r.stored for r in batch]
        keys = [r.key for r in batch if r.key is not None]
        try:
            if keys:  # in the events' transaction (projections/keys.py's recorders)
                ids = recorder.insert_events(records, data_keys=keys)
            else:
                ids = recorder.insert_events(records)
        except IntegrityError:
            raise _repeated(app, [r.line for r in batch]) from None
        ids = list(ids or [])
        if len(ids) != len(batch):  # a recorder that does not say: the batch is the head
            last = recorder.max_notification_id() or 0
            ids = [last - len(batch) + 1, last]
        head = ids[-1]
        summary.written += len(batch)
        summary.sealed += len(keys)
        summary.withheld += sum(r.withheld for r in batch)
        if summary.first_position is None:
            summary.first_position = ids[0]
        summary.last_position = ids[-1]
        batch.clear()
        sealing.forget_if_many()
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
                    f"{_at(line)}: its 'payload' is not what its stored state says: the line"
                    " was edited",
                )
            chain.check(line)
        else:
            try:
                event = decoder.decode(line.stored)
            except Exception:
                event = None  # copied as it is (see the module's description)
        content = sealing.content(line, event)
        sealing.remember(event)
        if existing is not None:
            stored = next(existing, None)
            if stored is not None:
                if not sealing.same(stored, line, event, content):
                    differs = (
                        f"holds {describe(line.stored)} with other content"
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
        batch.append(sealing.record(line, event, content))
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
            f"{_at(line)} cannot be read by this deployment: {type(error).__name__}: {error}",
        ) from None


def _check_repeats(batch: list[_Record]) -> None:
    seen: dict[tuple[UUID, int], int] = {}
    for record in batch:
        line = record.line
        key = (line.stored.originator_id, line.stored.originator_version)
        if key in seen:
            raise _fail(
                line.number,
                f"{describe(line.stored)} repeats line {seen[key]}: an event appears twice",
            )
        seen[key] = line.number


def _repeated(app: Any, lines: list[_Line]) -> HistoryImportError:
    """The error for a batch the store refused: the first line whose event is there."""
    for line in lines:
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
        f"lines {lines[0].number}-{lines[-1].number}: the store refused the batch (an integrity"
        " error); nothing of it was written"
    )
