"""Tamper evidence: direct SQL on the stored events is caught by `discuss verify`.

Every test runs on SQLite and on PostgreSQL. The store is changed behind the library's
back with the raw driver (the events table is `stored_events` with `rowid` as the
position on SQLite, `discussions_events` with `notification_id` on PostgreSQL): a
modified payload, a deleted event, an inserted event, a reordered pair. Each must be
reported at the right position with exit code 1; an intact store verifies with exit
code 0; and a checkpoint taken earlier is honoured, even after the attacker rebuilt
the chain table to match the altered log.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from click.testing import CliRunner

from domain.model import MODERATOR, OPERATOR_ID
from domain.settings import Database
from projections import hash_chain
from projections.registry import build_engine
from projections.setup import open_application
from workers.cli import main


@dataclass
class Store:
    database: Database
    app: Any
    engine: Any
    positions: dict[str, int]

    @property
    def table(self) -> str:
        return self.app.recorder.events_table_name

    @property
    def pos(self) -> str:
        return "rowid" if self.database.backend == "sqlite" else "notification_id"

    @contextmanager
    def raw(self) -> Iterator[Any]:
        """A raw driver connection to the event store, committed on the way out."""
        db = self.database
        if db.backend == "sqlite":
            conn = sqlite3.connect(db.path)
            try:
                yield conn
                conn.commit()
            finally:
                conn.close()
        else:
            with psycopg.connect(
                host=db.host, port=db.port, user=db.user, dbname=db.dbname
            ) as conn:
                yield conn

    def execute(self, statement: str, params: tuple = ()) -> list[tuple]:
        if self.database.backend == "postgres":
            statement = statement.replace("?", "%s")
        with self.raw() as conn:
            cur = conn.execute(statement, params)
            return list(cur.fetchall()) if cur.description else []

    def row(self, position: int) -> tuple:
        return self.execute(
            f"SELECT originator_id, originator_version, topic, state FROM {self.table}"
            f" WHERE {self.pos} = ?",
            (position,),
        )[0]

    def head(self) -> int:
        return self.app.recorder.max_notification_id()

    def chain(self) -> None:
        self.engine.catch_up("chain")


@pytest.fixture
def store(database: Database) -> Iterator[Store]:
    app = open_application(database)
    engine = build_engine(app, database)
    ann = app.register_author("Ann").author_id
    mo = app.register_author("Mo", role=MODERATOR).author_id
    thread_id = app.open_thread(OPERATOR_ID, "Tamper").thread_id
    first = app.post_comment(ann, thread_id, "the first comment")
    reply = app.post_comment(mo, thread_id, "a reply", parent_id=first.comment_id)
    edit = app.edit_comment(ann, first.comment_id, "the first comment, edited", reason="typo")
    hide = app.hide_comment(mo, reply.comment_id, "off topic")
    last = app.post_comment(ann, thread_id, "the last comment")
    positions = {
        "opened": 3,
        "first": first.position,
        "reply": reply.position,
        "edit": edit.position,
        "hide": hide.position,
        "last": last.position,
    }
    engine.catch_up_all()
    yield Store(database, app, engine, positions)
    engine.store.close()
    app.close()


def verify(store: Store, *args: str):
    runner = CliRunner()
    return runner.invoke(
        main,
        ["verify", "--no-progress", *args],
        env={"DISCUSS_DATABASE_URL": store.database.url},
        catch_exceptions=False,
    )


def assert_tampered(result, position: int, problem: str) -> str:
    assert result.exit_code == 1, result.output
    text = result.output + (result.stderr or "")
    assert f"TAMPERED at position {position} ({problem})" in text, text
    return text


# ---- intact --------------------------------------------------------------------------------


def test_an_intact_store_verifies(store):
    result = verify(store)
    assert result.exit_code == 0, result.output
    head = hash_chain.head(store.engine)
    assert head["position"] == store.head() == store.positions["last"]
    assert f"OK: intact: {store.head()} events verified up to position {store.head()}" in (
        result.output
    )
    assert f"head: {head['position']}:{head['hash']}" in result.output


def test_events_not_chained_yet_are_reported_not_failed(store):
    store.app.post_comment(OPERATOR_ID, store.app.open_thread(OPERATOR_ID, "Later").thread_id, "x")
    result = verify(store)
    assert result.exit_code == 0, result.output
    assert f"2 positions after {store.positions['last']} not chained yet" in result.output


# ---- each kind of tampering ----------------------------------------------------------------


def test_a_modified_payload_is_caught_at_its_position(store):
    p = store.positions["edit"]
    state = bytes(store.row(p)[3])
    assert b"the first comment, edited" in state
    forged = state.replace(b"the first comment, edited", b"something else entirely")
    store.execute(f"UPDATE {store.table} SET state = ? WHERE {store.pos} = ?", (forged, p))
    text = assert_tampered(verify(store), p, "modified")
    assert "payload or type was modified" in text


def test_a_modified_type_is_caught(store):
    p = store.positions["hide"]
    store.execute(
        f"UPDATE {store.table} SET topic = ? WHERE {store.pos} = ?",
        ("domain.model:Comment.Restored", p),
    )
    assert_tampered(verify(store), p, "modified")


def test_a_deleted_event_is_caught_at_its_position(store):
    p = store.positions["reply"]
    store.execute(f"DELETE FROM {store.table} WHERE {store.pos} = ?", (p,))
    text = assert_tampered(verify(store), p, "deleted")
    assert "missing from the log" in text


def test_the_last_event_deleted_is_caught(store):
    p = store.positions["last"]
    store.execute(f"DELETE FROM {store.table} WHERE {store.pos} = ?", (p,))
    assert_tampered(verify(store), p, "deleted")


def _shift_up(store: Store, from_position: int) -> None:
    """Make room at `from_position`: every later event moves one position up (two steps,
    through negative numbers, so the unique position never collides)."""
    store.execute(
        f"UPDATE {store.table} SET {store.pos} = -{store.pos} - 1 WHERE {store.pos} >= ?",
        (from_position,),
    )
    store.execute(f"UPDATE {store.table} SET {store.pos} = -{store.pos} WHERE {store.pos} < 0")


def _forge_like(store: Store, position: int) -> tuple:
    """A plausible forged record: a copy of the event at `position` for a new comment."""
    _, version, topic, state = store.row(position)
    new_id = uuid4()
    forged_id = new_id.hex if store.database.backend == "sqlite" else new_id
    return forged_id, version, topic, bytes(state)


def test_an_event_inserted_between_others_is_caught(store):
    p = store.positions["reply"]
    forged = _forge_like(store, store.positions["first"])
    _shift_up(store, p)
    store.execute(
        f"INSERT INTO {store.table} (originator_id, originator_version, topic, state, {store.pos})"
        " VALUES (?, ?, ?, ?, ?)",
        (*forged, p),
    )
    assert store.head() == store.positions["last"] + 1
    text = assert_tampered(verify(store), p, "replaced")
    assert "inserted" in text


def test_a_reordered_pair_is_caught_at_the_first_of_the_two(store):
    p, q = store.positions["first"], store.positions["last"]
    a, b = store.row(p), store.row(q)
    # Swap the two rows' type and payload (ids and versions stay: a quiet reorder).
    for position, (_, _, topic, state) in ((p, b), (q, a)):
        store.execute(
            f"UPDATE {store.table} SET topic = ?, state = ? WHERE {store.pos} = ?",
            (topic, bytes(state), position),
        )
    assert_tampered(verify(store), p, "modified")


def test_two_events_swapping_places_is_caught(store):
    p, q = store.positions["reply"], store.positions["edit"]
    # Move whole rows: p -> -1, q -> p, -1 -> q.
    store.execute(f"UPDATE {store.table} SET {store.pos} = -1 WHERE {store.pos} = ?", (p,))
    store.execute(f"UPDATE {store.table} SET {store.pos} = ? WHERE {store.pos} = ?", (p, q))
    store.execute(f"UPDATE {store.table} SET {store.pos} = ? WHERE {store.pos} = -1", (q,))
    text = assert_tampered(verify(store), p, "replaced")
    assert "reordered" in text


def test_an_event_inserted_in_a_gap_of_the_log_is_caught(store):
    """PostgreSQL leaves a gap in the positions when a write fails after taking its
    number; a forged event put in such a gap is caught as inserted. On SQLite a gap
    is made by deleting the last event and writing two after it."""
    app = store.app
    if store.database.backend == "postgres":
        from domain.errors import ThreadKeyTaken

        app.open_thread(OPERATOR_ID, "Keyed", key="gap/key")
        with pytest.raises(ThreadKeyTaken):
            app.open_thread(OPERATOR_ID, "Again", key="gap/key")  # takes a number, fails
        after = app.open_thread(OPERATOR_ID, "After the gap").position
        gap = after - 1
    else:
        app.open_thread(OPERATOR_ID, "Keyed", key="gap/key")
        gap = store.head() + 1
        app.open_thread(OPERATOR_ID, "Soon deleted")
        after = app.open_thread(OPERATOR_ID, "After the gap").position
        store.execute(f"DELETE FROM {store.table} WHERE {store.pos} = ?", (gap,))
    assert not store.execute(f"SELECT 1 FROM {store.table} WHERE {store.pos} = ?", (gap,))
    store.chain()
    assert verify(store).exit_code == 0
    forged = _forge_like(store, store.positions["first"])
    store.execute(
        f"INSERT INTO {store.table} (originator_id, originator_version, topic, state, {store.pos})"
        " VALUES (?, ?, ?, ?, ?)",
        (*forged, gap),
    )
    text = assert_tampered(verify(store), gap, "inserted")
    assert "never recorded" in text
    assert after > gap


def test_the_first_of_several_changes_is_reported(store):
    late, early = store.positions["last"], store.positions["reply"]
    store.execute(f"DELETE FROM {store.table} WHERE {store.pos} = ?", (late,))
    store.execute(
        f"UPDATE {store.table} SET state = ? WHERE {store.pos} = ?",
        (b'{"not": "the original"}', early),
    )
    assert_tampered(verify(store), early, "modified")


# ---- checkpoints ---------------------------------------------------------------------------


def test_a_checkpoint_from_before_is_honoured(store):
    head = hash_chain.head(store.engine)
    checkpoint = f"{head['position']}:{head['hash']}"
    # The log grows after the checkpoint was taken: it still matches.
    thread_id = store.app.open_thread(OPERATOR_ID, "Later").thread_id
    store.app.post_comment(OPERATOR_ID, thread_id, "a later comment")
    store.chain()
    result = verify(store, "--checkpoint", checkpoint)
    assert result.exit_code == 0, result.output
    assert f"checkpoint {head['position']}: matches" in result.output

    # An attacker changes an old event AND rebuilds the chain table to match it.
    p = store.positions["edit"]
    store.execute(
        f"UPDATE {store.table} SET state = ? WHERE {store.pos} = ?",
        (bytes(store.row(p)[3]).replace(b"edited", b"forged"), p),
    )
    # (A fresh engine, as the attacker's process would use: an engine keeps the latest
    # stretch of the log it read in memory.)
    attacker = build_engine(store.app, store.database)
    generation = attacker.generation("chain")
    with attacker.store.transaction() as sql:
        sql.execute(f"DELETE FROM {attacker.tables('chain').links}")
        sql.execute(
            "UPDATE projection_tracking SET position = 0 WHERE name = ? AND generation = ?",
            ("chain", generation),
        )
    attacker.catch_up("chain")
    attacker.store.close()
    # The rebuilt chain agrees with the altered log...
    assert verify(store).exit_code == 0
    # ...but not with the checkpoint kept elsewhere.
    text = assert_tampered(
        verify(store, "--checkpoint", checkpoint), head["position"], "checkpoint"
    )
    assert "does not match checkpoint" in text


def test_a_wrong_checkpoint_fails_and_a_malformed_one_is_a_usage_error(store):
    p = store.positions["hide"]
    assert_tampered(verify(store, "--checkpoint", f"{p}:{'0' * 64}"), p, "checkpoint")
    beyond = store.head() + 5
    assert_tampered(verify(store, "--checkpoint", f"{beyond}:{'a' * 64}"), beyond, "checkpoint")
    for bad in ("12", "x:abc", f"0:{'a' * 64}", "3:xyz"):
        result = verify(store, "--checkpoint", bad)
        assert result.exit_code == 2, (bad, result.output)
        assert "checkpoint" in result.output.lower()


def test_verify_api_reports_the_recomputed_head(store):
    result = hash_chain.verify(store.app, store.engine)
    assert result.ok
    assert result.checked == store.head()
    assert result.head_link == hash_chain.head(store.engine)["hash"]
    # The chain is the documented function of the stored records.
    link = hash_chain.GENESIS
    for n in store.app.recorder.select_notifications(start=1, limit=100):
        link = hash_chain.next_link(link, hash_chain.notification_bytes(n))
    assert link.hex() == result.head_link
