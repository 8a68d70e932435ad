"""Export and round trip: `discuss export` (JSON Lines with each stored state) imported
into an empty store reproduces every projection exactly (workers/history_import.py).

On SQLite and on PostgreSQL: the demo thread after edits, a retraction, moderation and
a lock; a second thread; exported with `export_lines`, imported into a second, empty
store of the same backend, every projection caught up there, then compared table by
table, and through the reads (thread pages, timeline, changes, time travel).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

import orjson
import pytest
from click.testing import CliRunner

from domain.application import Discussions
from domain.model import MODERATOR, OPERATOR_ID, Comment
from projections import audit_log, hash_chain, queries, time_travel
from projections.engine import Engine
from projections.queries import PageRequest
from projections.registry import build_engine
from projections.setup import open_application
from tests.support.databases import new_database
from tests.support.workload import dump
from workers.audit_cli import export_lines
from workers.cli import main
from workers.history_import import HistoryImportError, import_history
from workers.importing.run import import_file
from workers.seed import SEED_FILE, load_seed, seed_author_id

FIXTURES = Path(os.environ.get("DISCUSS_FIXTURES", "/work/shared/fixtures")) / "import"
EVERYTHING = PageRequest(limit=10_000, depth=10_000, replies_limit=10_000)


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


# ---- exporting and importing -------------------------------------------------------------


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def backend(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def source(backend, tmp_path_factory) -> Iterator[tuple[Engine, Scenario]]:
    """The changed demo thread, built once per backend; tests only read it."""
    with (
        pytest.MonkeyPatch.context() as patch,
        new_database(backend, tmp_path_factory.mktemp("source")) as database,
    ):
        patch.setenv("DISCUSS_CHECKPOINT_EVERY", "7")  # time travel checkpoints too
        app = open_application(database)
        engine = build_engine(app, database)
        scenario = change_demo_thread(app)
        engine.catch_up_all()
        yield engine, scenario
        engine.store.close()
        app.close()


@pytest.fixture
def target(backend, tmp_path, monkeypatch) -> Iterator[Engine]:
    """A second, empty store of the same backend, with its engine."""
    monkeypatch.setenv("DISCUSS_CHECKPOINT_EVERY", "7")
    with new_database(backend, tmp_path) as other:
        app = open_application(other)
        engine = build_engine(app, other)
        yield engine
        engine.store.close()
        app.close()


def export_to(engine: Engine, path: Path, thread_id: UUID | None = None) -> list[bytes]:
    thread = str(thread_id) if thread_id else None
    lines = list(export_lines(engine.app, engine, thread))
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


# ---- comparing ---------------------------------------------------------------------------


def every_table(engine: Engine) -> dict[str, dict[str, list[tuple]]]:
    return {name: dump(engine, name) for name in engine.projections}


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
    return result


def assert_same_store(source: Engine, target: Engine, thread_ids: list[UUID]) -> None:
    assert stored(target.app) == stored(source.app)
    for name in source.projections:
        assert target.position(name) == source.position(name) == source.app.head_position()
    assert every_table(target) == every_table(source)
    assert reads(target, thread_ids) == reads(source, thread_ids)
    assert hash_chain.head(target) == hash_chain.head(source)
    assert hash_chain.verify(target.app, target).ok


# ---- the round trip ----------------------------------------------------------------------


def test_full_export_round_trip_reproduces_every_projection(source, target, tmp_path):
    engine, s = source
    path = tmp_path / "history.jsonl"
    lines = export_to(engine, path)
    head = engine.app.head_position()
    assert len(lines) == head
    assert all("state" in orjson.loads(line) for line in lines)  # UTF-8 JSON states
    assert dump(engine, "time_travel")["checkpoints"]  # compared below, as-of reads use them

    summary = import_from(target, path)
    assert (summary.lines, summary.written, summary.present) == (head, head, 0)
    assert (summary.first_position, summary.last_position) == (1, head)
    assert (summary.links_verified, summary.links_unchecked) == (head, 0)
    target.catch_up_all()
    assert_same_store(engine, target, [s.thread_id, s.second_id])
    # The copy exports exactly the same file.
    assert b"".join(export_lines(target.app, target)) == path.read_bytes()

    # Importing the same export again changes nothing.
    again = import_from(target, path)
    assert (again.lines, again.written, again.present) == (head, 0, head)
    assert not again.store_has_more
    assert target.app.head_position() == head
    assert target.catch_up_all() == 0


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
    assert stored(target.app) == stored(engine.app)[:20]

    summary = import_from(target, path, batch_size=10)
    assert (summary.present, summary.written) == (20, len(lines) - 20)
    target.catch_up_all()
    assert_same_store(engine, target, [s.thread_id, s.second_id])


def test_malformed_lines_are_refused_naming_the_line(source, target, tmp_path):
    engine, _ = source
    lines = export_to(engine, tmp_path / "history.jsonl")
    record = orjson.loads(lines[6])

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
    }
    for bad, message in cases.items():
        path = tmp_path / "bad.jsonl"
        path.write_bytes(b"".join(lines[:6]) + bad + b"".join(lines[7:]))
        with pytest.raises(HistoryImportError) as error:
            import_from(target, path)
        assert error.value.line == 7
        assert message in str(error.value)
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
    assert stored(target.app) == stored(engine.app)[:7]

    # A store with other events refuses the export where they differ.
    target.app.register_author("Somebody")
    with pytest.raises(HistoryImportError) as error:
        import_from(target, tmp_path / "history.jsonl")
    assert error.value.line == 8
    # (its position 9 on PostgreSQL: the refused batch used position 8 of the sequence)
    assert "the store is not empty, and its position" in str(error.value)
    assert "holds Author.Registered of" in str(error.value)
    assert len(stored(target.app)) == 8


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
    # The same stored records, in the same order (renumbered).
    exported = {(d["originator_id"], d["originator_version"]) for d in map(orjson.loads, lines)}
    original = [r for r in stored(engine.app) if (r[1], r[2]) in exported]
    assert [r[1:] for r in stored(target.app)] == [r[1:] for r in original]
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
        return {k: (None if k == "name" else without_names(v)) for k, v in value.items()}
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


# ---- the command -------------------------------------------------------------------------


def test_import_history_command(sqlite_database, tmp_path):
    app = open_application(sqlite_database)
    engine = build_engine(app, sqlite_database)
    load_seed(app, SEED_FILE)
    engine.catch_up_all()
    path = tmp_path / "history.jsonl"
    head = len(export_to(engine, path))
    engine.store.close()
    app.close()

    with new_database("sqlite", tmp_path) as other:
        runner = CliRunner(env={"DISCUSS_DATABASE_URL": other.url})
        first = runner.invoke(main, ["import-history", str(path)])
        assert first.exit_code == 0, first.output
        assert first.stdout.splitlines() == [
            f"imported history from {path}",
            f"  events read: {head}",
            f"  events written: {head} (positions 1..{head})",
            "  already there: 0",
            f"  chain links verified: {head}; not checkable: 0",
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
    zlib = {"COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor"}
    with (
        new_database("sqlite", tmp_path) as first,
        new_database("sqlite", tmp_path) as second,
        new_database("sqlite", tmp_path) as plain,
    ):
        apps = [Discussions(env={**db.library_env(), **zlib}) for db in (first, second)]
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
            assert_same_store(engines[0], engines[1], [thread_id])

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
