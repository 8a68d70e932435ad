"""Export and round trip: `discuss export --open` imported into a new store reproduces
every projection, read through the visibility policy (workers/history_import.py).

Content is sealed with per-event data keys of the store that wrote it; a new store has
its own key table and master key. So an export keeps every stored event exactly as
stored (ciphertext: the source's chain links verify over it, and no export holds
plaintext), the operator's `--open` export adds the content the policy lets the
operator read (everything but erased content, which is null and marked "withheld"),
and the import seals that content afresh with the new store's keys (a key born
destroyed for withheld content) and starts the new store's own hash chain.

On SQLite and on PostgreSQL: the demo thread after edits, a retraction, moderation, a
lock, a suppressed edit reason and three erasures (a revision, a comment, an author);
a second thread; exported, imported into a second, empty store of the same backend,
every projection caught up there, then compared table by table with every sealed value
OPENED (the sealed strings themselves differ: other keys), and through the reads
(thread pages, timeline, changes, time travel, audit). A store written before sealing
(plaintext in its events) is moved the same way and comes out sealed.
"""

from __future__ import annotations

import json
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import pytest
from click.testing import CliRunner

from domain.application import Discussions
from domain.model import MODERATOR, OPERATOR_ID, Comment
from domain.sealing import SEALED_PREFIX, is_sealed
from projections import audit_log, hash_chain, queries, time_travel
from projections.engine import Engine
from projections.keys import UNAVAILABLE
from projections.queries import PageRequest
from projections.registry import build_engine
from projections.setup import open_application
from tests.support.databases import new_database
from tests.support.workload import dump
from workers.audit_cli import export_lines
from workers.cli import main
from workers.history_import import HistoryImportError, content_of, import_history
from workers.importing.run import import_file
from workers.seed import SEED_FILE, load_seed, seed_author_id

FIXTURES = Path(os.environ.get("DISCUSS_FIXTURES", "/work/shared/fixtures")) / "import"
EVERYTHING = PageRequest(limit=10_000, depth=10_000, replies_limit=10_000)
SEALED = re.compile(re.escape(SEALED_PREFIX) + r"[0-9a-f]{32}:[A-Za-z0-9+/=]*")


# ---- the source: the demo thread, changed ------------------------------------------------


@dataclass
class Scenario:
    """What was done to the demo thread; `ids` are its comments in posting order, which is
    the seed file's depth-first order."""

    thread_id: UUID
    second_id: UUID
    ids: list[UUID]
    texts: dict[int, str] = field(default_factory=dict)  # seed index -> current text
    states: dict[int, str] = field(default_factory=dict)  # seed index -> retracted/hidden
    erased_texts: list[str] = field(default_factory=list)  # plaintext erased since


def posted_ids(app: Discussions, thread_id: UUID) -> list[UUID]:
    ids = []
    for n in hash_chain.notifications(app):
        event = app.mapper.to_domain_event(n)
        if isinstance(event, Comment.Posted) and event.thread_id == thread_id:
            ids.append(event.originator_id)
    return ids


def change_demo_thread(app: Discussions) -> Scenario:
    """Load the demo thread, then: two edits of one comment, the retraction of a comment
    with replies, a hide and restore, a hide that stays (and an edit while hidden), a
    second thread with activity interleaved, and a lock."""
    thread_id = load_seed(app).thread_id
    ids = posted_ids(app, thread_id)
    s = Scenario(thread_id, UUID(int=0), ids)
    mo = app.register_author("Mo", role=MODERATOR).author_id
    james, martin = seed_author_id("James Martin"), seed_author_id("Martin Read")

    s.texts[1] = "Great film, which deserves the widest viewing."
    app.edit_comment(james, ids[1], s.texts[1], reason="wording")
    second = app.open_thread(OPERATOR_ID, "Second thread", key="roundtrip/second")
    s.second_id = second.thread_id
    first = app.post_comment(james, s.second_id, "A first word elsewhere.").comment_id
    s.texts[1] = "Great film, which deserves the widest viewing — edited by a moderator."
    app.edit_comment(mo, ids[1], s.texts[1], expected_version=2)

    app.retract_comment(martin, ids[8], reason="changed my mind")  # it has 2 replies
    s.states[8] = "retracted"
    app.hide_comment(mo, ids[14], "off topic?")  # 3 replies; restored below
    app.post_comment(martin, s.second_id, "And a reply.", parent_id=first)
    app.restore_comment(mo, ids[14], "on topic after all")
    app.hide_comment(mo, ids[25], "rude")  # stays hidden; it has a reply
    app.edit_comment(mo, ids[25], "Edited while hidden.")
    s.states[25] = "hidden"
    app.lock_thread(mo, thread_id, reason="closed")
    app.edit_comment(james, first, "A first word elsewhere, edited.")
    return s


# The texts the erasures below destroy (posted for the purpose, so that the test knows
# them without reading the seed file).
ERASED_REVISION = "My number is 07700 900123, call me: zebra-quokka"
ERASED_COMMENT = "The address of the person I quarrel with: 12 Quokka Lane"
ERASED_AUTHOR_TEXT = "Written by someone who later left: okapi-narwhal"
ERASED_AUTHOR_NAME = "Leaving Okapi"


def forget_some(app: Discussions, s: Scenario) -> None:
    """On the changed demo thread's second thread: a revision erased (its text replaced
    by an edit), an edit reason suppressed, a comment erased (a takedown), and an
    author's whole account erased; each leaves replies or revisions around it."""
    mo = app.register_author("Mod Erasmus", role=MODERATOR).author_id
    james, martin = seed_author_id("James Martin"), seed_author_id("Martin Read")
    posted = app.post_comment(james, s.second_id, ERASED_REVISION).comment_id
    app.edit_comment(james, posted, "Please ignore my last.", reason="oops: my number")
    app.suppress_revision(mo, posted, 2, text=False, edit_reason=True, reason="it names it")
    app.erase_revision(mo, posted, 1, "personal_data")
    taken = app.post_comment(martin, s.second_id, ERASED_COMMENT).comment_id
    app.post_comment(james, s.second_id, "A reply to a takedown.", parent_id=taken)
    app.hide_comment(mo, taken, "doxxing")
    app.erase_comment(mo, taken, "legal")
    leaving = app.register_author(ERASED_AUTHOR_NAME).author_id
    gone = app.post_comment(leaving, s.second_id, ERASED_AUTHOR_TEXT).comment_id
    app.edit_comment(leaving, gone, ERASED_AUTHOR_TEXT + ", edited", reason="okapi typo")
    app.post_comment(martin, s.second_id, "Replying to someone who left.", parent_id=gone)
    app.erase_author(leaving, leaving, "author_request")
    s.erased_texts += [
        ERASED_REVISION,
        ERASED_COMMENT,
        ERASED_AUTHOR_TEXT,
        ERASED_AUTHOR_NAME,
        "doxxing",
        "okapi typo",
    ]


# ---- exporting and importing -------------------------------------------------------------


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def backend(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def source(backend, tmp_path_factory) -> Iterator[tuple[Engine, Scenario]]:
    """The changed demo thread with erasures, built once per backend; tests only read it."""
    with (
        pytest.MonkeyPatch.context() as patch,
        new_database(backend, tmp_path_factory.mktemp("source")) as database,
    ):
        patch.setenv("DISCUSS_CHECKPOINT_EVERY", "7")  # time travel checkpoints too
        app = open_application(database)
        engine = build_engine(app, database)
        scenario = change_demo_thread(app)
        forget_some(app, scenario)
        engine.catch_up_all()
        yield engine, scenario
        engine.store.close()
        app.close()


@pytest.fixture
def target(backend, tmp_path, monkeypatch) -> Iterator[Engine]:
    """A second, empty store of the same backend (its own key table), with its engine."""
    monkeypatch.setenv("DISCUSS_CHECKPOINT_EVERY", "7")
    with new_database(backend, tmp_path) as other:
        app = open_application(other)
        engine = build_engine(app, other)
        yield engine
        engine.store.close()
        app.close()


def export_to(
    engine: Engine, path: Path, thread_id: UUID | None = None, *, opened: bool = True
) -> list[bytes]:
    thread = str(thread_id) if thread_id else None
    lines = list(export_lines(engine.app, engine, thread, open_content=opened))
    path.write_bytes(b"".join(lines))
    return lines


def import_from(engine: Engine, path: Path, **options):
    with open(path, "rb") as file:
        return import_history(engine.app, file, **options)


def stored(app: Discussions) -> list[tuple]:
    return [
        (n.id, str(n.originator_id), n.originator_version, n.topic, bytes(n.state))
        for n in hash_chain.notifications(app)
    ]


# ---- opening what is sealed, to compare stores whose keys differ ---------------------------


def opened(engine: Engine, value: Any) -> Any:
    """`value` (rows, pages, checkpoints...) with every sealed string replaced by what it
    opens to in `engine`'s store: its plaintext, or "<unavailable>" when its key is
    destroyed or was born destroyed. Checkpoint blobs (zlib JSON) and JSON texts are
    read, so that the values inside them are compared opened too."""
    value = _parsed(value)
    tokens: set[str] = set()
    _collect(value, tokens)
    opener = engine.app.opener
    found = opener.open_many(tokens) if (opener is not None and tokens) else {}
    return _substitute(value, found)


def _parsed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _parsed(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_parsed(v) for v in value)
    if isinstance(value, (bytes, memoryview)):
        try:
            return ("zlib-json", _parsed(orjson.loads(zlib.decompress(bytes(value)))))
        except (zlib.error, orjson.JSONDecodeError):
            return bytes(value)
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return ("json", _parsed(json.loads(value)))
        except ValueError:
            return value
    return value


def _collect(value: Any, tokens: set[str]) -> None:
    if isinstance(value, dict):
        for v in value.values():
            _collect(v, tokens)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _collect(v, tokens)
    elif isinstance(value, str):
        tokens.update(SEALED.findall(value))


def _substitute(value: Any, found: dict) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, found) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_substitute(v, found) for v in value)
    if isinstance(value, str) and SEALED_PREFIX in value:
        return SEALED.sub(lambda m: _plain(found.get(m.group(0), UNAVAILABLE)), value)
    return value


def _plain(value: Any) -> str:
    return "<unavailable>" if value is UNAVAILABLE else value


def events_opened(engine: Engine) -> list[tuple]:
    """Each stored event as (position, id, version, topic, its fields with its content
    opened): what an import must keep, whatever keys seal the content."""
    result = []
    for n in hash_chain.notifications(engine.app):
        event = engine.app.mapper.to_domain_event(n)
        fields = dict(vars(event))
        result.append(
            (n.id, str(n.originator_id), n.originator_version, n.topic, opened(engine, fields))
        )
    return result


# ---- comparing ---------------------------------------------------------------------------


def every_table(engine: Engine) -> dict[str, dict[str, list[tuple]]]:
    """Every projection's rows, opened; but the hash chain, which is the store's own."""
    return {
        name: opened(engine, dump(engine, name)) for name in engine.projections if name != "chain"
    }


def reads(engine: Engine, thread_ids: list[UUID]) -> dict:
    """What the web reads of each thread: live pages, timeline, changes, revisions, and
    the thread as of every position from before its opening to the head."""
    head = engine.app.head_position()
    result: dict = {"audit": audit_log.audit_page(engine, limit=10_000)}
    for thread_id in map(str, thread_ids):
        for moderator in (False, True):
            req = PageRequest(**{**EVERYTHING.__dict__, "moderator": moderator})
            result[thread_id, "page", moderator] = queries.thread_page(engine, thread_id, req)
            newest = PageRequest(limit=3, sort="newest", moderator=moderator)
            result[thread_id, "newest", moderator] = queries.thread_page(engine, thread_id, newest)
            result[thread_id, "timeline", moderator] = audit_log.timeline(
                engine, thread_id, limit=10_000, moderator=moderator
            )
            result[thread_id, "changes", moderator] = audit_log.changes(
                engine, thread_id, 0, head, moderator=moderator
            )
            for position in range(1, head + 1):
                try:
                    page = time_travel.thread_page_as_of(engine, thread_id, req, position)
                except time_travel.NotYetOpened as error:
                    page = str(error)
                result[thread_id, "as_of", moderator, position] = page
        t = engine.tables("revisions")
        result[thread_id, "revisions"] = (
            engine.store.reader()
            .execute(
                f"SELECT * FROM {t.revisions} WHERE thread_id = ? ORDER BY comment_id, version",
                (thread_id,),
            )
            .all()
        )
    # The reads open what they show; raw rows (the revisions) are opened here.
    return opened(engine, result)


def assert_all_sealed(engine: Engine) -> None:
    """Every content value of every stored event is sealed: no plaintext in the events."""
    for n in hash_chain.notifications(engine.app):
        event = engine.app.mapper.to_domain_event(n)
        for name, value in content_of(event).items():
            assert is_sealed(value), (n.id, name, value)


def assert_same_store(source: Engine, target: Engine, thread_ids: list[UUID]) -> None:
    """The same events, content and projections, read opened; the target's content all
    sealed with its own keys, and its own hash chain, which verifies."""
    before, after = stored(source.app), stored(target.app)
    assert [r[:4] for r in after] == [r[:4] for r in before]
    assert events_opened(target) == events_opened(source)
    for (_, _, _, _, old), (p, _, _, _, new) in zip(before, after, strict=True):
        event = target.app.mapper.to_domain_event(
            next(n for n in target.app.recorder.select_notifications(start=p, limit=1))
        )
        if not content_of(event):
            assert new == old, p  # events without content: the very bytes
    assert_all_sealed(target)
    for name in source.projections:
        assert target.position(name) == source.position(name) == source.app.head_position()
    assert every_table(target) == every_table(source)
    assert reads(target, thread_ids) == reads(source, thread_ids)
    assert hash_chain.head(target)["position"] == hash_chain.head(source)["position"]
    assert hash_chain.verify(target.app, target).ok


# ---- the round trip ----------------------------------------------------------------------


def test_full_export_round_trip_reproduces_every_projection(source, target, tmp_path):
    engine, s = source
    path = tmp_path / "history.jsonl"
    lines = export_to(engine, path)
    head = engine.app.head_position()
    assert len(lines) == head
    records = [orjson.loads(line) for line in lines]
    assert all("state" in r for r in records)  # UTF-8 JSON states
    assert dump(engine, "time_travel")["checkpoints"]  # compared below, as-of reads use them
    # The operator's export opens what the policy lets the operator read, and nothing
    # erased: null, marked withheld, with the policy's words.
    content = [r for r in records if "opened" in r]
    assert {r["opened"].get("text") for r in content} >= set(s.texts.values())
    assert "Edited while hidden." in {r["opened"].get("text") for r in content}  # hidden
    assert "changed my mind" in {r["opened"].get("reason") for r in content}  # retracted
    withheld = [r for r in content if "withheld" in r]
    assert withheld and all(
        set(r["withheld"]) == {k for k, v in r["opened"].items() if v is None} for r in withheld
    )
    assert {w["why"] for r in withheld for w in r["withheld"].values()} == {"erased"}
    assert all(w["note"].startswith("erased on ") for r in withheld for w in r["withheld"].values())
    text = path.read_bytes()
    for erased in s.erased_texts:
        assert erased.encode() not in text, erased
    # The stored records are as stored: sealed; the source's chain links verify.
    assert all(
        is_sealed(v) for r in content for k, v in r["payload"].items() if k in r["opened"] and v
    )

    summary = import_from(target, path)
    assert (summary.lines, summary.written, summary.present) == (head, head, 0)
    assert (summary.first_position, summary.last_position) == (1, head)
    assert (summary.links_verified, summary.links_unchecked) == (head, 0)
    assert summary.sealed == len(content)
    assert summary.withheld == len(withheld)
    target.catch_up_all()
    assert_same_store(engine, target, [s.thread_id, s.second_id])
    # Its own chain: the re-sealed events are other records.
    assert hash_chain.head(target)["hash"] != hash_chain.head(engine)["hash"]
    # Withheld content has a key born destroyed in the target: nothing opens it.
    assert target.app.vault.live_keys(owner_id=str(withheld_owner(engine))) == 0
    # The copy exports the same events and the same opened content.
    again = [orjson.loads(line) for line in export_lines(target.app, target, open_content=True)]
    assert [comparable(r) for r in again] == [comparable(r) for r in records]

    # Importing the same export again changes nothing.
    again = import_from(target, path)
    assert (again.lines, again.written, again.present) == (head, 0, head)
    assert not again.store_has_more
    assert target.app.head_position() == head
    assert target.catch_up_all() == 0


def withheld_owner(engine: Engine) -> UUID:
    """The erased author of the scenario (by the name they registered with)."""
    for n in hash_chain.notifications(engine.app):
        event = engine.app.mapper.to_domain_event(n)
        if type(event).__qualname__ == "Author.Erased":
            return event.originator_id
    raise AssertionError("no author was erased")


def comparable(record: dict) -> dict:
    """An export line without what the keys and the chain make differ between stores."""
    record = {k: v for k, v in record.items() if k not in ("state", "link")}
    if "opened" in record:
        record["payload"] = {
            k: ("<sealed>" if k in record["opened"] else v) for k, v in record["payload"].items()
        }
    return record


def test_an_export_without_open_holds_no_plaintext_and_is_refused(source, target, tmp_path):
    engine, s = source
    path = tmp_path / "sealed.jsonl"
    lines = export_to(engine, path, opened=False)
    text = path.read_bytes()
    for plain in [*s.texts.values(), "Edited while hidden.", "changed my mind", "Bazza"]:
        assert plain.encode() not in text, plain
    assert not any(b'"opened"' in line for line in lines)
    with pytest.raises(HistoryImportError) as error:
        import_from(target, path)
    # The first line with content: the first author's display name.
    first = next(i for i, line in enumerate(lines, 1) if b'"Author.Registered"' in line)
    assert error.value.line == first
    message = str(error.value)
    assert "holds sealed content ('name') that this store cannot open" in message
    assert "`discuss export --open`" in message
    assert target.app.head_position() == 0  # nothing written
    # (test_export_and_import_history_commands: the command says so, exit status 1)


def test_an_interrupted_import_is_completed_by_running_it_again(source, target, tmp_path):
    engine, s = source
    path = tmp_path / "history.jsonl"
    lines = export_to(engine, path)
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(b"".join(lines[:24]) + b'{"position": 25, "originator_id"\n')

    with pytest.raises(HistoryImportError) as error:
        import_from(target, broken, batch_size=10)
    assert error.value.line == 25
    assert str(error.value).startswith("line 25: not valid JSON")
    # Two whole batches are written; nothing of the bad line's batch (lines 21-24).
    assert [r[:4] for r in stored(target.app)] == [r[:4] for r in stored(engine.app)[:20]]

    summary = import_from(target, path, batch_size=10)
    assert (summary.present, summary.written) == (20, len(lines) - 20)
    target.catch_up_all()
    assert_same_store(engine, target, [s.thread_id, s.second_id])


def test_malformed_lines_are_refused_naming_the_line(source, target, tmp_path):
    engine, _ = source
    lines = export_to(engine, tmp_path / "history.jsonl")
    record = orjson.loads(lines[6])
    assert record["type"] == "Comment.Posted" and "opened" in record

    def line(**changes) -> bytes:
        data = {k: v for k, v in {**record, **changes}.items() if v is not None}
        return orjson.dumps(data) + b"\n"

    no_topic = {**record}
    del no_topic["topic"]
    forged_state = json.loads(record["state"])
    forged_state["text"] = "forged"
    forged_payload = {**record["payload"], "text": "forged"}
    forged = line(
        state=json.dumps(forged_state, ensure_ascii=False, separators=(",", ":")),
        payload=forged_payload,
    )
    without_opened = {**record}
    del without_opened["opened"]
    cases = {
        b"{not json\n": "line 7: not valid JSON",
        b"[1, 2]\n": "line 7: not a JSON object but list",
        orjson.dumps(no_topic) + b"\n": "line 7: no 'topic' field",
        line(state=None): "line 7: no 'state' field",
        line(originator_id="nope"): "line 7: 'originator_id' 'nope' is not a UUID",
        line(originator_version=0): "line 7: 'originator_version' must be an integer >= 1",
        line(position=2): "line 7: positions must increase, but 2 follows 6",
        line(topic="domain.model:Comment.Vanished"): "line 7: position 7 (Comment.Vanished",
        line(payload=forged_payload): "its 'payload' is not what its stored state says",
        forged: "its chain link does not follow from the previous line's link",
        orjson.dumps(without_opened) + b"\n": "holds sealed content ('text') that this store",
        line(opened={"text": None}): "its opened 'text' is null without a 'withheld' marker",
        line(opened={"text": "x", "name": "y"}): "'opened' names 'name', which its event",
        line(opened=[1]): "line 7: 'opened' must be an object of strings (or nulls)",
        line(withheld={"reason": {}}): "'withheld' names 'reason', which its event",
    }
    for bad, message in cases.items():
        path = tmp_path / "bad.jsonl"
        path.write_bytes(b"".join(lines[:6]) + bad + b"".join(lines[7:]))
        with pytest.raises(HistoryImportError) as error:
            import_from(target, path)
        assert error.value.line == 7, bad
        assert message in str(error.value), (message, str(error.value))
        assert target.app.head_position() == 0  # nothing of the batch was written

    # An event twice (unverified, or the chain would stop it first): within a batch, or
    # across batches, where the store refuses the second batch as a whole.
    twice = tmp_path / "twice.jsonl"
    twice.write_bytes(b"".join(lines[:7]) + line(position=8) + b"".join(lines[8:]))
    with pytest.raises(HistoryImportError) as error:
        import_from(target, twice, verify=False)
    assert str(error.value).startswith("line 8: Comment.Posted of")
    assert "repeats line 7" in str(error.value)
    assert target.app.head_position() == 0
    with pytest.raises(HistoryImportError) as error:
        import_from(target, twice, verify=False, batch_size=7)
    assert error.value.line == 8
    assert "is in the store already" in str(error.value)
    assert [r[:4] for r in stored(target.app)] == [r[:4] for r in stored(engine.app)[:7]]

    # A store with other events refuses the export where they differ.
    target.app.register_author("Somebody")
    with pytest.raises(HistoryImportError) as error:
        import_from(target, tmp_path / "history.jsonl")
    assert error.value.line == 8
    # (its position 9 on PostgreSQL: the refused batch used position 8 of the sequence)
    assert "the store is not empty, and its position" in str(error.value)
    assert "holds Author.Registered of" in str(error.value)
    assert len(stored(target.app)) == 9  # Somebody and the claim of their name


def test_one_thread_round_trip(source, target, tmp_path):
    """One thread's export carries the thread's own events, not its authors'
    registrations: imported alone, the same comments, texts and states, but no names."""
    engine, s = source
    path = tmp_path / "thread.jsonl"
    lines = export_to(engine, path, s.thread_id)
    summary = import_from(target, path)
    assert summary.written == len(lines) == len(stored(target.app))
    assert summary.links_verified + summary.links_unchecked == len(lines)
    assert summary.links_verified > 0
    # The same events, in the same order (renumbered), their content opened the same.
    exported = {(d["originator_id"], d["originator_version"]) for d in map(orjson.loads, lines)}
    original = [r for r in events_opened(engine) if (r[1], r[2]) in exported]
    assert [r[1:] for r in events_opened(target)] == [r[1:] for r in original]
    assert_all_sealed(target)
    # The same thread, but for positions and author names.
    target.catch_up_all()
    moved = {old[0]: new[0] for old, new in zip(original, stored(target.app), strict=True)}
    for moderator in (False, True):
        req = PageRequest(**{**EVERYTHING.__dict__, "moderator": moderator})
        before = queries.thread_page(engine, str(s.thread_id), req)
        after = queries.thread_page(target, str(s.thread_id), req)
        before["thread"]["position"] = moved[before["thread"]["position"]]
        assert after == without_names(before)


def without_names(value):
    if isinstance(value, dict):
        return {k: ("erased author" if k == "name" else without_names(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [without_names(v) for v in value]
    return value


def test_cross_source_round_trip_of_a_wordpress_import(backend, target, tmp_path):
    with new_database(backend, tmp_path / "wxr") as database:
        app = open_application(database)
        engine = build_engine(app, database)
        try:
            wxr_round_trip(app, engine, target, tmp_path)
        finally:
            engine.store.close()
            app.close()


def wxr_round_trip(app, engine, target: Engine, tmp_path: Path) -> None:
    summary = import_file(app, FIXTURES / "isso-wordpress.xml", "wxr")
    assert summary.comments > 0
    engine.catch_up_all()
    path = tmp_path / "wxr.jsonl"
    lines = export_to(engine, path)
    assert any(b'"type":"ImportRun.Recorded"' in line for line in lines)
    assert import_from(target, path).written == len(lines)
    target.catch_up_all()
    threads = queries.list_threads(engine, limit=100)["threads"]
    assert threads == queries.list_threads(target, limit=100)["threads"]
    assert_same_store(engine, target, [UUID(t["id"]) for t in threads])


# ---- a store written before sealing ------------------------------------------------------


def test_a_store_written_before_sealing_moves_to_a_sealed_store(backend, target, tmp_path):
    """The migration path: a legacy store holds plaintext in its events (no sealing);
    its export, plain or --open, imported into a new store, comes out sealed, every
    projection the same when read."""
    with new_database(backend, tmp_path / "legacy") as database:
        legacy = Discussions(env=database.library_env())  # no master key: plaintext
        engine = build_engine(legacy, database)
        try:
            s = change_demo_thread(legacy)
            engine.catch_up_all()
            assert any(
                b"Edited while hidden." in bytes(n.state) for n in hash_chain.notifications(legacy)
            )
            path = tmp_path / "legacy.jsonl"
            export_to(engine, path, opened=False)  # plaintext in the events themselves
            assert b"Edited while hidden." in path.read_bytes()
            summary = import_from(target, path)
            assert summary.written == legacy.head_position()
            assert summary.sealed > 0 and summary.withheld == 0
            target.catch_up_all()
            for n in hash_chain.notifications(target.app):
                assert b"Edited while hidden." not in bytes(n.state)
            assert_same_store(engine, target, [s.thread_id, s.second_id])
            # Its --open export is the same content: importing it over the copy finds
            # every event there already.
            opened_path = tmp_path / "legacy-open.jsonl"
            export_to(engine, opened_path)
            again = import_from(target, opened_path)
            assert (again.written, again.present) == (0, legacy.head_position())
        finally:
            engine.store.close()
            legacy.close()


# ---- the command -------------------------------------------------------------------------


def test_export_and_import_history_commands(sqlite_database, tmp_path):
    app = open_application(sqlite_database)
    engine = build_engine(app, sqlite_database)
    load_seed(app, SEED_FILE)
    engine.catch_up_all()
    head = app.head_position()
    engine.store.close()
    app.close()
    source = CliRunner(env={"DISCUSS_DATABASE_URL": sqlite_database.url})
    sealed, path = tmp_path / "sealed.jsonl", tmp_path / "history.jsonl"
    plain = source.invoke(main, ["export", "--no-progress", "-o", str(sealed)])
    assert plain.exit_code == 0, plain.output
    assert plain.stderr == f"exported {head} events of the log to {sealed}\n"
    opened_export = source.invoke(main, ["export", "--open", "--no-progress", "-o", str(path)])
    assert opened_export.exit_code == 0, opened_export.output
    assert "holds personal content in plaintext (--open)" in opened_export.stderr
    assert b"Bazza" not in sealed.read_bytes() and b"Bazza" in path.read_bytes()

    with new_database("sqlite", tmp_path) as other:
        runner = CliRunner(env={"DISCUSS_DATABASE_URL": other.url})
        refused = runner.invoke(main, ["import-history", str(sealed)])
        assert refused.exit_code == 1
        assert refused.stderr.startswith(f"error: {sealed}, line 2: position 2 (Author.Registered")
        assert "that this store cannot open" in refused.stderr
        assert "`discuss export --open`" in refused.stderr

        first = runner.invoke(main, ["import-history", str(path)])
        assert first.exit_code == 0, first.output
        # Names' claims carry no content (one per author of the demo thread).
        claims = sum(b"NameClaim.Claimed" in x for x in path.read_bytes().splitlines())
        assert first.stdout.splitlines() == [
            f"imported history from {path}",
            f"  events read: {head}",
            f"  events written: {head} (positions 1..{head})",
            "  already there: 0",
            f"  content sealed with this store's keys: {head - 1 - claims} events"
            " (0 erased or unavailable at the source)",
            f"  source chain links verified: {head}; not checkable: 0",
            "  hash chain: this store's own (re-sealed events are new records)",
            "  the projections catch up as usual (runner, sweeper or `discuss catch-up`)",
        ]
        second = runner.invoke(main, ["import-history", "-"], input=path.read_bytes())
        assert second.exit_code == 0, second.output
        assert "  events written: 0" in second.stdout
        assert f"  already there: {head}" in second.stdout
        assert "  nothing new: no events recorded" in second.stdout

        bad = tmp_path / "bad.jsonl"
        bad.write_bytes(path.read_bytes().replace(b'"topic":', b'"topik":', 1))
        with new_database("sqlite", tmp_path) as empty:
            failed = CliRunner(env={"DISCUSS_DATABASE_URL": empty.url}).invoke(
                main, ["import-history", str(bad)]
            )
            assert failed.exit_code == 1
            assert failed.stderr.strip() == f"error: {bad}, line 1: no 'topic' field"


def test_compressed_states_travel_as_base64(tmp_path):
    """A deployment that compresses its events exports `state_base64`; a store with the
    same setting takes it back byte for byte, one without refuses it line by line."""
    zlib_env = {"COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor"}
    with (
        new_database("sqlite", tmp_path) as first,
        new_database("sqlite", tmp_path) as second,
        new_database("sqlite", tmp_path) as plain,
    ):
        apps = [Discussions(env={**db.library_env(), **zlib_env}) for db in (first, second)]
        engines = [build_engine(app, db) for app, db in zip(apps, (first, second), strict=True)]
        plain_app = open_application(plain)
        try:
            thread_id = load_seed(apps[0]).thread_id
            engines[0].catch_up_all()
            path = tmp_path / "compressed.jsonl"
            lines = [orjson.loads(line) for line in export_to(engines[0], path)]
            assert all("state_base64" in line and "state" not in line for line in lines)

            assert import_from(engines[1], path).written == len(lines)
            engines[1].catch_up_all()
            assert stored(engines[1].app) == stored(engines[0].app)  # byte for byte
            assert every_table(engines[1]) == every_table(engines[0])
            assert hash_chain.head(engines[1]) == hash_chain.head(engines[0])
            assert reads(engines[1], [thread_id]) == reads(engines[0], [thread_id])

            with pytest.raises(HistoryImportError) as error, open(path, "rb") as file:
                import_history(plain_app, file)
            assert error.value.line == 1
            assert "cannot be read by this deployment" in str(error.value)
            assert plain_app.head_position() == 0
        finally:
            for engine in engines:
                engine.store.close()
            for app in (*apps, plain_app):
                app.close()
