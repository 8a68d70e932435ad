"""The audit log projection (every event: who, what, when, where), a thread's timeline
and changes, and `discuss export` (JSON Lines with each event's chain link), on SQLite
and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import orjson
import pytest
from click.testing import CliRunner

from domain.model import MODERATOR, OPERATOR_ID
from domain.sealing import is_sealed
from domain.settings import Database
from projections import audit_log, hash_chain
from projections.engine import iso
from projections.registry import build_engine
from projections.setup import open_application
from workers.cli import main

PAST = datetime(2016, 7, 14, 9, 30, tzinfo=UTC)


@pytest.fixture
def world(database: Database):
    app = open_application(database)
    engine = build_engine(app, database)
    ann = app.register_author("Ann").author_id
    mo = app.register_author("Mo", role=MODERATOR).author_id
    t1 = app.open_thread(OPERATOR_ID, "Audited", key="audit/1").thread_id
    t2 = app.open_thread(OPERATOR_ID, "Imported", at=PAST).thread_id
    c1 = app.post_comment(ann, t1, "hello").comment_id
    c2 = app.post_comment(mo, t1, "a reply", parent_id=c1).comment_id
    app.post_comment(ann, t2, "elsewhere")
    app.edit_comment(ann, c1, "hello, world", reason="typo")
    app.edit_comment(ann, c1, "hello, world!")
    app.hide_comment(mo, c2, "rude words")
    app.restore_comment(mo, c2, "on reflection")
    app.retract_comment(ann, c1, "no longer true")
    app.lock_thread(OPERATOR_ID, t1, "closed")
    engine.catch_up_all()
    yield {
        "app": app,
        "engine": engine,
        "database": database,
        "ann": str(ann),
        "mo": str(mo),
        "t1": str(t1),
        "t2": str(t2),
        "c1": str(c1),
        "c2": str(c2),
    }
    engine.store.close()
    app.close()


def all_entries(engine, **filters) -> list[dict]:
    entries, cursor = [], None
    while True:
        page = audit_log.audit_page(engine, cursor=cursor, limit=3, **filters)
        entries += page["entries"]
        cursor = page["next_cursor"]
        if cursor is None:
            return entries


def test_every_event_is_in_the_audit_log(world):
    engine, app = world["engine"], world["app"]
    entries = all_entries(engine)
    assert [e["position"] for e in entries] == list(range(app.head_position(), 0, -1))
    by_position = {e["position"]: e for e in entries}
    types = [by_position[p]["type"] for p in sorted(by_position)]
    assert types == [
        "Author.Registered",
        "NameClaim.Claimed",  # each registration claims its name in the same write
        "Author.Registered",
        "NameClaim.Claimed",
        "Thread.Opened",
        "Thread.Opened",
        "Comment.Posted",
        "Comment.Posted",
        "Comment.Posted",
        "Comment.Edited",
        "Comment.Edited",
        "Comment.Hidden",
        "Comment.Restored",
        "Comment.Retracted",
        "Thread.Locked",
    ]
    edit = by_position[10]
    assert edit["actor"] == {"id": world["ann"], "name": "Ann"}
    assert (edit["thread_id"], edit["comment_id"], edit["version"]) == (
        world["t1"],
        world["c1"],
        2,
    )
    # Summaries name things by id only; the reason is its own field, opened at read.
    assert edit["summary"] == f"edited comment {world['c1']} (now version 2)"
    assert edit["reason"] == "typo"
    hidden = by_position[12]
    assert hidden["summary"] == f"hid comment {world['c2']}"
    assert hidden["reason"] == "rude words"
    locked = by_position[15]
    assert locked["actor"] == {"id": str(OPERATOR_ID), "name": "operator"}
    assert locked["thread_id"] == world["t1"] and locked["comment_id"] is None
    assert by_position[6]["at"] == iso(PAST)  # the event's own (imported) time
    registered = by_position[1]
    assert registered["summary"] == f"registered author {world['ann']} (member)"
    assert registered["actor"] == {"id": world["ann"], "name": "Ann"}
    assert registered["thread_id"] is None


def test_filters_and_keyset_pages(world):
    engine = world["engine"]
    everything = all_entries(engine)
    oldest_first = []
    cursor = None
    while True:
        page = audit_log.audit_page(engine, cursor=cursor, limit=4, newest_first=False)
        oldest_first += page["entries"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert oldest_first == everything[::-1]

    by_thread = all_entries(engine, thread_id=world["t1"])
    assert by_thread == [e for e in everything if e["thread_id"] == world["t1"]]
    by_actor = all_entries(engine, actor_id=world["mo"])
    assert {e["type"] for e in by_actor} == {
        "Author.Registered",  # a registration is its own author's act
        "Comment.Posted",
        "Comment.Hidden",
        "Comment.Restored",
    }
    by_types = all_entries(engine, types=["Comment.Edited", "Thread.Locked"])
    assert [e["position"] for e in by_types] == [15, 11, 10]
    # Time filters work on the events' own times: the imported thread's opening is old.
    old = all_entries(engine, until=iso(PAST + timedelta(days=1)))
    assert [e["position"] for e in old] == [6]
    recent = all_entries(engine, since=iso(PAST + timedelta(days=1)))
    assert len(recent) == len(everything) - 1
    both = all_entries(
        engine, thread_id=world["t1"], actor_id=world["ann"], types=["Comment.Edited"]
    )
    assert [e["version"] for e in both] == [3, 2]


def test_moderation_reasons_are_for_moderators(world):
    engine = world["engine"]
    public = {e["position"]: e for e in all_entries(engine, moderator=False)}
    assert public[12]["summary"] == f"hid comment {world['c2']}"
    assert public[12]["reason"] is None
    assert public[13]["reason"] is None
    assert public[14]["reason"] == "no longer true"  # a retraction's reason is public


def test_timeline_and_changes(world):
    engine = world["engine"]
    timeline, cursor = [], None
    while True:
        page = audit_log.timeline(engine, world["t1"], cursor=cursor, limit=2)
        timeline += page["entries"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [e["position"] for e in timeline] == [5, 7, 8, 10, 11, 12, 13, 14, 15]
    assert timeline[0]["kind"] == "Thread.Opened"

    changes = audit_log.changes(engine, world["t1"], 7, 15)
    assert [a["comment_id"] for a in changes["added"]] == [world["c2"]]
    assert changes["edited"] == [
        {
            "comment_id": world["c1"],
            "from_version": 1,
            "to_version": 3,
            "edits": 2,
            "first_position": 10,
            "last_position": 11,
            "last_at": changes["edited"][0]["last_at"],
        }
    ]
    assert [r["comment_id"] for r in changes["retracted"]] == [world["c1"]]
    assert [h["position"] for h in changes["hidden"]] == [12]
    assert [r["position"] for r in changes["restored"]] == [13]
    assert [c["kind"] for c in changes["thread"]] == ["Thread.Locked"]
    assert changes["events"] == 7  # positions 8, 10..15
    assert audit_log.changes(engine, world["t1"], 15, 15)["events"] == 0
    assert audit_log.thread_known(engine, world["t1"])
    assert not audit_log.thread_known(engine, world["c1"])


def export(world, *args: str):
    return CliRunner().invoke(
        main,
        ["export", "--no-progress", *args],
        env={"DISCUSS_DATABASE_URL": world["database"].url},
        catch_exceptions=False,
    )


def test_export_writes_every_event_as_json_lines(world, tmp_path):
    app, engine = world["app"], world["engine"]
    # An event after the chain's head: exported with a null link.
    app.post_comment(UUID(world["mo"]), UUID(world["t2"]), "not chained yet")
    path = tmp_path / "events.jsonl"
    result = export(world, "-o", str(path))
    assert result.exit_code == 0, result.output
    assert f"exported {app.head_position()} events of the log to {path}" in result.output
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [line["position"] for line in lines] == list(range(1, app.head_position() + 1))
    links = {r["position"]: r["link"] for r in hash_chain.recorded_links(engine)}
    for line in lines[:-1]:
        assert line["link"] == links[line["position"]]
    assert lines[-1]["link"] is None
    edit = lines[9]
    assert edit["type"] == "Comment.Edited"
    assert (edit["actor"], edit["thread"], edit["comment"]) == (
        world["ann"],
        world["t1"],
        world["c1"],
    )
    # The stored event as stored: its content sealed (an export holds no plaintext)...
    assert is_sealed(edit["payload"]["text"]) and is_sealed(edit["payload"]["reason"])
    assert b"hello, world" not in path.read_bytes()
    assert edit["payload"]["originator_version"] == 2
    # ...and the operator's --open export carries it opened beside it.
    opened = [orjson.loads(x) for x in export(world, "--open").stdout.splitlines()]
    assert opened[9]["opened"] == {"text": "hello, world", "reason": "typo"}
    assert opened[9]["payload"] == edit["payload"]
    assert edit["topic"] == "domain.model:Comment.Edited"
    assert lines[5]["time"] == iso(PAST)
    assert set(lines[0]) >= {
        "position",
        "time",
        "actor",
        "type",
        "thread",
        "comment",
        "originator_id",
        "originator_version",
        "topic",
        "payload",
        "link",
    }


def test_export_one_thread_to_standard_output(world):
    result = export(world, "--thread", world["t2"])
    assert result.exit_code == 0, result.output
    lines = [orjson.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    assert [(x["position"], x["type"]) for x in lines] == [
        (6, "Thread.Opened"),
        (9, "Comment.Posted"),
    ]
    assert all(x["thread"] == world["t2"] for x in lines)
    bad = export(world, "--thread", "not-a-uuid")
    assert bad.exit_code == 2
    assert "is not a UUID" in bad.output


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_export_of_a_damaged_store_flags_the_event_and_fails(world, tmp_path):
    import sqlite3

    with sqlite3.connect(world["database"].path) as conn:
        conn.execute("UPDATE stored_events SET state = ? WHERE rowid = 6", (b"not json",))
    path = tmp_path / "events.jsonl"
    result = export(world, "-o", str(path))
    assert result.exit_code == 1
    assert "1 stored events could not be decoded (positions 6)" in result.output
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert len(lines) == world["app"].head_position()
    damaged = lines[5]
    assert damaged["position"] == 6 and damaged["payload"] is None
    assert damaged["error"].startswith("cannot decode the stored event")
    assert "error" not in lines[4] and "error" not in lines[6]
