"""Tamper evidence: direct SQL on the stored events is caught by `discuss verify`.

Every test runs on SQLite and on PostgreSQL. The store is changed behind the library's
back with the raw driver (the events table is `stored_events` with `rowid` as the
position on SQLite, `discussions_events` with `notification_id` on PostgreSQL): a
modified payload, a deleted event, an inserted event, a reordered pair. Each must be
reported at the right position with exit code 1; an intact store verifies with exit
code 0; and a checkpoint taken earlier is honoured, even after the attacker rebuilt
the chain table to match the altered log. Erasure modifies and deletes no stored event:
a store that has had erasures (a revision, a comment, an author) verifies, and the same
tampering is caught there, at the first bad position.

Comment texts are sealed in the stored state (domain/sealing.py): a forger who writes
a text of their own into the state changes the stored bytes all the same.
"""

from __future__ import annotations

import re
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


def forge_text(state: bytes, forged: str) -> bytes:
    """A stored state with its (sealed) text replaced by a forger's plaintext."""
    new, found = re.subn(rb'"text":"[^"]*"', b'"text":"' + forged.encode() + b'"', state, count=1)
    assert found == 1, state
    return new


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
    assert b"the first comment, edited" not in state  # sealed
    forged = forge_text(state, "something else entirely")
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
        (forge_text(bytes(store.row(p)[3]), "forged"), p),
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


# ---- after erasures -------------------------------------------------------------------------


def event_at(store: Store, position: int) -> Any:
    notification = store.app.recorder.select_notifications(start=position, limit=1)[0]
    return store.app.mapper.to_domain_event(notification)


@pytest.fixture
def erased(store: Store) -> Store:
    """The store after erasures: the first comment's first revision (a moderator's
    takedown of its original text), the hidden reply (a comment), and Ann's whole
    account (her comments, her name); then one more comment. It verifies."""
    app = store.app
    first, reply = (
        event_at(store, store.positions["first"]),
        event_at(store, store.positions["reply"]),
    )
    ann, mo = first.author_id, reply.author_id
    positions = store.positions
    positions["revision_erased"] = app.erase_revision(
        mo, first.originator_id, 1, "personal_data"
    ).position
    positions["comment_erased"] = app.erase_comment(mo, reply.originator_id, "legal").position
    positions["author_erased"] = app.erase_author(ann, ann, "author_request").position
    later = app.open_thread(OPERATOR_ID, "After").thread_id
    positions["after"] = app.post_comment(mo, later, "after the erasures").position
    assert app.vault.live_keys(owner_id=str(ann)) == 0
    store.chain()
    result = verify(store)
    assert result.exit_code == 0, result.output
    return store


def flip_one_byte(state: bytes) -> bytes:
    """A stored state with one byte changed, still valid JSON: in the ciphertext of its
    first sealed value, or else in the basis of an erasure."""
    sealed = b"\\u001es1:"
    if sealed in state:
        at = state.index(sealed) + len(sealed) + 33  # past the key id and its colon
    else:
        at = state.index(b'"basis":"') + len(b'"basis":"')
    changed = b"A" if state[at : at + 1] != b"A" else b"B"
    return state[:at] + changed + state[at + 1 :]


@pytest.mark.parametrize(
    "target", ["first", "reply", "edit", "revision_erased", "comment_erased", "after"]
)
def test_after_erasures_one_changed_byte_is_caught_at_its_position(erased, target):
    """One byte of a stored event's state changed: in the sealed text of an erased
    comment (its key destroyed: nobody can read it, the chain still covers its bytes),
    in an erasure event itself, or in an event written after the erasures."""
    p = erased.positions[target]
    state = bytes(erased.row(p)[3])
    forged = flip_one_byte(state)
    assert len(forged) == len(state)
    assert sum(a != b for a, b in zip(forged, state, strict=True)) == 1
    erased.execute(f"UPDATE {erased.table} SET state = ? WHERE {erased.pos} = ?", (forged, p))
    text = assert_tampered(verify(erased), p, "modified")
    assert "payload or type was modified" in text


@pytest.mark.parametrize("target", ["reply", "comment_erased", "author_erased", "after"])
def test_after_erasures_a_deleted_event_is_caught_at_its_position(erased, target):
    p = erased.positions[target]
    erased.execute(f"DELETE FROM {erased.table} WHERE {erased.pos} = ?", (p,))
    text = assert_tampered(verify(erased), p, "deleted")
    assert "missing from the log" in text


def test_after_erasures_the_first_of_several_changes_is_reported(erased):
    early, late = erased.positions["edit"], erased.positions["author_erased"]
    erased.execute(f"DELETE FROM {erased.table} WHERE {erased.pos} = ?", (late,))
    erased.execute(
        f"UPDATE {erased.table} SET state = ? WHERE {erased.pos} = ?",
        (flip_one_byte(bytes(erased.row(early)[3])), early),
    )
    assert_tampered(verify(erased), early, "modified")


def test_after_erasures_a_checkpoint_still_catches_a_rebuilt_chain(erased):
    head = hash_chain.head(erased.engine)
    checkpoint = f"{head['position']}:{head['hash']}"
    assert verify(erased, "--checkpoint", checkpoint).exit_code == 0
    p = erased.positions["comment_erased"]
    erased.execute(f"DELETE FROM {erased.table} WHERE {erased.pos} = ?", (p,))
    attacker = build_engine(erased.app, erased.database)
    generation = attacker.generation("chain")
    with attacker.store.transaction() as sql:
        sql.execute(f"DELETE FROM {attacker.tables('chain').links}")
        sql.execute(
            "UPDATE projection_tracking SET position = 0 WHERE name = ? AND generation = ?",
            ("chain", generation),
        )
    attacker.catch_up("chain")
    attacker.store.close()
    assert verify(erased).exit_code == 0  # the rebuilt chain agrees with the altered log
    assert_tampered(verify(erased, "--checkpoint", checkpoint), head["position"], "checkpoint")
