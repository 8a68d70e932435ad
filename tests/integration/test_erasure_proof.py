"""Proofs that erasure truly removes content, on SQLite and on PostgreSQL.

Content is sealed (domain/sealing.py): the plaintext never reaches a file of the store,
before an erasure as after. Erasure destroys data keys (projections/keys.py); the proof
that it worked is that the WRAPPED keys' bytes are gone from every file the store
writes -- the SQLite files (WAL and free pages included), a `pg_dump`, the raw table
files of PostgreSQL's key table (old row versions included) and of pg_statistic --
while the same search still finds the keys of the author who was not erased (the
search is not blind). The chain still proves everything else: `discuss verify`
passes after erasures (tests/integration/test_tamper.py tampers after erasures too).
A store whose key table was lost still answers its API reads, with "content
unavailable" placeholders.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import subprocess
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from click.testing import CliRunner

from domain.model import MODERATOR, OPERATOR_ID
from domain.settings import Database
from projections import keys as keys_module
from projections import queries, visibility
from projections.queries import PageRequest
from projections.registry import build_engine
from projections.setup import initialise, open_application
from tests.api.conftest import API, make_app, stop_app
from tests.support.workload import dump
from workers.cli import main

PLAIN = "call me on 07700 900123 zebra-quokka"
REASON = "my zebra-quokka number was in it"
NAME = "Quokka Zebrafinch"
OTHER_NAME = "Steady Okapi"
COMMENTS = 150  # enough rows for the key table to span several pages
EVERYTHING = PageRequest(limit=10_000, depth=100, replies_limit=10_000, moderator=True)


@dataclass
class Written:
    author: UUID
    other: UUID
    moderator: UUID
    thread_id: UUID
    comments: list[UUID]
    other_comments: list[UUID]


def write_content(app: Any) -> Written:
    """An author with distinctive plaintext in comments, an edit (with a reason) and a
    name; another author and a moderator around them."""
    author = app.register_author(NAME).author_id
    other = app.register_author(OTHER_NAME).author_id
    moderator = app.register_author("Mod Proof", role=MODERATOR).author_id
    thread_id = app.open_thread(OPERATOR_ID, "Proof of forgetting", key="proof/erasure").thread_id
    comments, others = [], []
    for number in range(COMMENTS):
        comments.append(app.post_comment(author, thread_id, f"{PLAIN} #{number}").comment_id)
        if number % 10 == 0:
            reply = app.post_comment(
                other, thread_id, f"a reply of the okapi #{number}", parent_id=comments[-1]
            )
            others.append(reply.comment_id)
    app.edit_comment(author, comments[0], f"{PLAIN} (edited)", reason=REASON)
    app.hide_comment(moderator, comments[1], f"hidden: {PLAIN}")
    return Written(author, other, moderator, thread_id, comments, others)


def page_texts(engine: Any, thread_id: UUID) -> list[str | None]:
    found: list[str | None] = []

    def walk(nodes: list[dict]) -> None:
        for node in nodes:
            found.append(node["text"])
            walk(node["replies"])

    walk(queries.thread_page(engine, str(thread_id), EVERYTHING)["comments"])
    return found


def plaintexts() -> list[bytes]:
    return [PLAIN.encode(), REASON.encode(), NAME.encode(), b"zebra-quokka"]


def count(blobs: dict[str, bytes], needle: bytes) -> int:
    return sum(blob.count(needle) for blob in blobs.values())


def decompressed_cells(engine: Any) -> bytes:
    """Every zlib-compressed cell of every read model (time-travel checkpoints), opened:
    a compressed plaintext would not show in a search of the raw files."""
    found = []
    for name in engine.projections:
        for rows in dump(engine, name).values():
            for row in rows:
                for cell in row:
                    if isinstance(cell, (bytes, memoryview)):
                        with contextlib.suppress(zlib.error):
                            found.append(zlib.decompress(bytes(cell)))
    assert found  # checkpoints were there to search
    return b"\n".join(found)


# ---- SQLite ------------------------------------------------------------------------------


def store_files(directory: Path) -> dict[str, bytes]:
    """Every file of the store, raw: discuss.db and discuss-views.db with their -wal and
    -shm when present (and the master key file)."""
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def wrapped_keys_sqlite(path: Path, owner: UUID) -> list[bytes]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT wrapped FROM discuss_data_keys WHERE owner_id = ? AND wrapped IS NOT NULL",
            (str(owner),),
        ).fetchall()
    finally:
        conn.close()
    return [bytes(r[0]) for r in rows]


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[tuple[Database, Path]]:
    directory = tmp_path / "store"
    database = Database.from_url(f"sqlite:///{directory}/discuss.db")
    initialise(database)
    yield database, directory


def test_sqlite_files_hold_no_plaintext_and_no_destroyed_key(sqlite_store, capsys):
    database, directory = sqlite_store
    app = open_application(database)
    engine = build_engine(app, database)
    w = write_content(app)
    engine.catch_up_all()
    # Readable through the product...
    texts = page_texts(engine, w.thread_id)
    assert f"{PLAIN} (edited)" in texts and f"{PLAIN} #7" in texts
    assert visibility.author_names(engine, [str(w.author)]) == {str(w.author): NAME}
    wrapped = wrapped_keys_sqlite(directory / "discuss.db", w.author)
    kept = wrapped_keys_sqlite(directory / "discuss.db", w.other)
    assert len(wrapped) == COMMENTS + 2 + 1  # each post, the edit, the hide; the name
    # ...but the plaintext is in no file (sealed from the start), compressed or not.
    files = store_files(directory)
    assert {"discuss.db", "discuss-views.db"} <= set(files)
    for plain in plaintexts():
        assert count(files, plain) == 0, plain
        assert plain not in decompressed_cells(engine)
    # The wrapped keys are in the files before the erasure.
    before = [count(files, key) for key in wrapped]
    assert all(before), before

    erased = app.erase_author(w.author, w.author, "author_request")
    engine.catch_up_all()
    assert erased.position == app.head_position()
    assert app.vault.live_keys(owner_id=str(w.author)) == 0
    texts = page_texts(engine, w.thread_id)
    assert not any(t and "zebra-quokka" in t for t in texts)
    assert "a reply of the okapi #10" in texts  # the thread keeps its shape

    # Gone from every file, the store still open (after the erasure's scrub)...
    files = store_files(directory)
    open_after = [count(files, key) for key in wrapped]
    assert open_after == [0] * len(wrapped)
    assert all(count(files, key) for key in kept)  # the search still finds live keys
    engine.store.close()
    app.close()
    # ...and once everything is closed (WAL checkpointed and removed).
    files = store_files(directory)
    assert [count(files, key) for key in wrapped] == [0] * len(wrapped)
    for plain in plaintexts():
        assert count(files, plain) == 0, plain
    assert all(count(files, key) for key in kept)
    with capsys.disabled():
        print(
            f"\n[sqlite] {len(wrapped)} wrapped keys of the erased author: hits in the files"
            f" before {sum(before)} (each key {min(before)}-{max(before)}), after the erasure"
            f" {sum(open_after)} (open) and 0 (closed); plaintext hits 0 before and after;"
            f" files {sorted(files)}"
        )


def test_sqlite_a_reader_holding_the_wal_delays_the_scrub_until_it_ends(sqlite_store):
    """A TRUNCATE checkpoint cannot pass a reader that still uses an older snapshot: the
    erasure waits for it (up to SCRUB_WAIT_SECONDS), then the keys are gone."""
    database, directory = sqlite_store
    app = open_application(database)
    w = write_content(app)
    wrapped = wrapped_keys_sqlite(directory / "discuss.db", w.author)
    reader = sqlite3.connect(str(directory / "discuss.db"), check_same_thread=False)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM discuss_data_keys").fetchone()  # holds a snapshot
    timer = threading.Timer(1.5, reader.rollback)
    timer.start()
    try:
        started = time.monotonic()
        app.erase_author(OPERATOR_ID, w.author, "operator")
        waited = time.monotonic() - started
    finally:
        timer.join()
        reader.close()
    assert waited >= 1.0  # it waited for the reader
    files = store_files(directory)
    assert [count(files, key) for key in wrapped] == [0] * len(wrapped)
    app.close()


def test_sqlite_a_scrub_the_reader_outlasted_is_finished_later(sqlite_store, monkeypatch, caplog):
    """A reader that outlasts the wait: the erasure is recorded and the keys are NULLed,
    the log says the old bytes may remain, and the next scrub (or erasing again)
    removes them."""
    database, directory = sqlite_store
    monkeypatch.setattr(keys_module, "SCRUB_WAIT_SECONDS", 0.5)
    app = open_application(database)
    w = write_content(app)
    wrapped = wrapped_keys_sqlite(directory / "discuss.db", w.author)
    reader = sqlite3.connect(str(directory / "discuss.db"))
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM discuss_data_keys").fetchone()
    with caplog.at_level(logging.WARNING, logger="projections.keys"):
        app.erase_author(OPERATOR_ID, w.author, "operator")
    assert "may still be in the database's files" in caplog.text
    assert app.vault.live_keys(owner_id=str(w.author)) == 0
    assert sum(count(store_files(directory), key) for key in wrapped) > 0  # not yet
    reader.rollback()
    reader.close()
    assert app.vault.scrub()
    assert [count(store_files(directory), key) for key in wrapped] == [0] * len(wrapped)
    app.close()


# ---- PostgreSQL --------------------------------------------------------------------------


def pg_connect(database: Database) -> psycopg.Connection:
    return psycopg.connect(
        host=database.host,
        port=database.port,
        user=database.user,
        dbname=database.dbname,
        autocommit=True,
    )


def pg_dump(database: Database) -> bytes:
    return subprocess.run(
        [
            "pg_dump",
            "-h",
            database.host or "127.0.0.1",
            "-p",
            str(database.port),
            "-U",
            database.user or "postgres",
            database.dbname,
        ],
        capture_output=True,
        check=True,
    ).stdout


def in_dump(dumped: bytes, key: bytes) -> int:
    """Hits of a wrapped key in a dump: as raw bytes, and as pg_dump prints bytea in its
    COPY data (\\x and hex, the backslash escaped)."""
    return dumped.count(key) + dumped.count(b"\\\\x" + key.hex().encode())


class PgFiles:
    """The raw files of the key table and of pg_statistic (with its TOAST table), read
    after a CHECKPOINT so that what the server holds in memory is on disk."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn
        self.data = Path(conn.execute("SHOW data_directory").fetchone()[0])

    def path(self, relation: str, toast: bool = False) -> Path:
        column = "reltoastrelid" if toast else "oid"
        row = self.conn.execute(
            f"SELECT pg_relation_filepath({column}) FROM pg_class WHERE oid = %s::regclass",
            (relation,),
        ).fetchone()
        return self.data / row[0]

    def read(self, paths: Iterable[Path]) -> dict[str, bytes]:
        self.conn.execute("CHECKPOINT")
        found = {}
        for path in paths:
            # Segments of 1 GB: path, path.1, ...; a table this small has one.
            for part in sorted(path.parent.glob(path.name + "*")):
                if part.name == path.name or part.name.split(".")[-1].isdigit():
                    found[str(part)] = part.read_bytes() if part.exists() else b""
        return found

    def key_table(self) -> dict[str, bytes]:
        return self.read([self.path("discuss_data_keys")])

    def statistics(self) -> dict[str, bytes]:
        return self.read([self.path("pg_statistic"), self.path("pg_statistic", toast=True)])


def wrapped_keys_pg(conn: psycopg.Connection, owner: UUID) -> list[bytes]:
    rows = conn.execute(
        "SELECT wrapped FROM discuss_data_keys WHERE owner_id = %s AND wrapped IS NOT NULL",
        (str(owner),),
    ).fetchall()
    return [bytes(r[0]) for r in rows]


@pytest.mark.postgres
def test_postgres_dump_and_table_files_hold_no_destroyed_key(pg_database, capsys):
    database = pg_database
    app = open_application(database)
    engine = build_engine(app, database)
    conn = pg_connect(database)
    files = PgFiles(conn)
    try:
        w = write_content(app)
        engine.catch_up_all()
        assert f"{PLAIN} #7" in page_texts(engine, w.thread_id)
        wrapped, kept = wrapped_keys_pg(conn, w.author), wrapped_keys_pg(conn, w.other)
        assert len(wrapped) == COMMENTS + 2 + 1
        # The column's statistics are off from init-db on; a store whose table was made
        # before that (or an operator who turned them on) gets sampled values into
        # pg_statistic when autovacuum analyzes it, sooner or later:
        conn.execute("ALTER TABLE discuss_data_keys ALTER COLUMN wrapped SET STATISTICS -1")
        conn.execute("ANALYZE discuss_data_keys")
        assert conn.execute(
            "SELECT histogram_bounds IS NOT NULL FROM pg_stats"
            " WHERE tablename = 'discuss_data_keys' AND attname = 'wrapped'"
        ).fetchone() == (True,)

        dumped = pg_dump(database)
        for plain in plaintexts():
            assert dumped.count(plain) == 0, plain
        assert plaintexts()[0] not in decompressed_cells(engine)
        dump_before = [in_dump(dumped, key) for key in wrapped]
        assert all(dump_before), dump_before
        table_path = files.path("discuss_data_keys")
        table_before = [count(files.key_table(), key) for key in wrapped]
        assert all(table_before), table_before
        stats_before = sum(count(files.statistics(), key) for key in wrapped)
        assert stats_before > 0

        app.erase_author(w.author, w.author, "author_request")
        engine.catch_up_all()
        assert not any(t and "zebra-quokka" in t for t in page_texts(engine, w.thread_id))

        dumped = pg_dump(database)
        assert [in_dump(dumped, key) for key in wrapped] == [0] * len(wrapped)
        for plain in plaintexts():
            assert dumped.count(plain) == 0, plain
        assert all(in_dump(dumped, key) for key in kept)  # the search still finds
        # VACUUM FULL rewrote the table into a new file; the old one is emptied.
        assert files.path("discuss_data_keys") != table_path
        assert not table_path.exists() or table_path.stat().st_size == 0
        table = files.key_table()
        assert [count(table, key) for key in wrapped] == [0] * len(wrapped)
        assert all(count(table, key) for key in kept)
        assert sum(count(files.statistics(), key) for key in wrapped) == 0
        assert (
            conn.execute(
                "SELECT 1 FROM pg_stats WHERE tablename = 'discuss_data_keys'"
                " AND attname = 'wrapped'"
            ).fetchone()
            is None
        )
        conn.execute("ANALYZE discuss_data_keys")  # statistics stay off for the column
        assert sum(count(files.statistics(), key) for key in kept) == 0
        with capsys.disabled():
            print(
                f"\n[postgres] {len(wrapped)} wrapped keys of the erased author: pg_dump hits"
                f" before {sum(dump_before)}, after 0; key table file hits before"
                f" {sum(table_before)}, after 0 (new file {files.path('discuss_data_keys').name},"
                f" old {table_path.name} emptied); pg_statistic hits before {stats_before},"
                " after 0; plaintext hits 0 before and after"
            )
    finally:
        conn.close()
        engine.store.close()
        app.close()


@pytest.mark.postgres
def test_postgres_a_transaction_older_than_the_erasure_is_waited_for(pg_database):
    """VACUUM FULL copies the dead row versions that a running transaction might still
    see: while a snapshot older than the erasure lives, the rewritten table would hold
    the destroyed keys again. The scrub rewrites until no such version is kept."""
    database = pg_database
    app = open_application(database)
    conn, old = pg_connect(database), pg_connect(database)
    files = PgFiles(conn)
    try:
        w = write_content(app)
        wrapped = wrapped_keys_pg(conn, w.author)
        old.autocommit = False
        old.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        old.execute("SELECT txid_current()")  # a snapshot older than the erasure
        timer = threading.Timer(1.5, old.rollback)
        timer.start()
        try:
            started = time.monotonic()
            app.erase_author(OPERATOR_ID, w.author, "operator")
            waited = time.monotonic() - started
        finally:
            timer.join()
        table = files.key_table()
        assert [count(table, key) for key in wrapped] == [0] * len(wrapped)
        assert [in_dump(pg_dump(database), key) for key in wrapped] == [0] * len(wrapped)
        assert waited >= 1.0  # it rewrote again until the old snapshot was gone
    finally:
        old.close()
        conn.close()
        app.close()


# ---- the chain still proves everything else ----------------------------------------------


def test_verify_passes_after_erasures(database: Database):
    app = open_application(database)
    engine = build_engine(app, database)
    try:
        w = write_content(app)
        app.edit_comment(w.other, w.other_comments[0], "the okapi, edited")
        app.erase_revision(w.moderator, w.other_comments[0], 1, "personal_data")
        app.erase_comment(w.moderator, w.other_comments[1], "legal")
        app.erase_author(OPERATOR_ID, w.author, "operator")
        app.erase_author(OPERATOR_ID, w.author, "operator")  # again: nothing changes
        engine.catch_up_all()
        result = CliRunner().invoke(
            main,
            ["verify", "--no-progress"],
            env={"DISCUSS_DATABASE_URL": database.url},
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.output
        head = app.head_position()
        assert f"OK: intact: {head} events verified up to position {head}" in result.output
    finally:
        engine.store.close()
        app.close()


# ---- a store whose key table was lost ----------------------------------------------------


def lose_the_key_table(database: Database) -> int:
    """DELETE every data key but the master key's check value (an operator's mistake, a
    partial restore): returns how many were deleted."""
    statement = "DELETE FROM discuss_data_keys WHERE key_id <> 'master-key-check'"
    if database.backend == "sqlite":
        conn = sqlite3.connect(database.path)
        try:
            deleted = conn.execute(statement).rowcount
            conn.commit()
        finally:
            conn.close()
        return deleted
    with pg_connect(database) as conn:
        return conn.execute(statement).rowcount


def test_a_lost_key_table_reads_as_content_unavailable(database: Database, monkeypatch):
    monkeypatch.setenv("DISCUSS_SECRET_KEY", "test-secret")
    app = open_application(database)
    engine = build_engine(app, database)
    w = write_content(app)
    moderator_token = app.register_author("Token Mod", role=MODERATOR).token
    retracted = app.post_comment(w.other, w.thread_id, "soon taken back").comment_id
    app.retract_comment(w.other, retracted, reason="my mistake")
    engine.catch_up_all()
    position = app.head_position()
    engine.store.close()
    app.close()
    assert lose_the_key_table(database) > COMMENTS

    flask_app = make_app(database)
    try:
        client = flask_app.test_client()
        for headers in ({}, {"Authorization": f"Bearer {moderator_token}"}):
            thread = client.get(
                f"{API}/threads/{w.thread_id}?min_position={position}", headers=headers
            )
            assert thread.status_code == 200, thread.data[:300]
            comments = thread.json["comments"]
            assert comments and all(c["text"] is None for c in comments)
            assert {c["placeholder"] for c in comments} >= {visibility.UNAVAILABLE_NOTE}
            comment = client.get(f"{API}/comments/{w.comments[5]}", headers=headers)
            assert comment.status_code == 200, comment.data[:300]
            assert b"content unavailable" in comment.data
            assert comment.json["comment"]["text"] is None
            history = client.get(f"{API}/comments/{w.comments[0]}/history", headers=headers)
            assert history.status_code == 200, history.data[:300]
            assert b"content unavailable" in history.data
            assert b"zebra-quokka" not in thread.data + comment.data + history.data
            for url in (
                f"{API}/threads/by-key/proof/erasure",
                f"{API}/threads/{w.thread_id}?at={position - 5}",
                f"{API}/threads/{w.thread_id}/timeline",
                f"{API}/threads/{w.thread_id}/changes?from=0&to={position}",
                f"{API}/comments/{w.comments[0]}/diff?from=1&to=2",
                f"{API}/comments/{retracted}/history",
                f"{API}/audit",
                f"{API}/authors/{w.author}",
            ):
                response = client.get(url, headers=headers)
                assert response.status_code < 500, (url, response.status_code, response.data[:300])
    finally:
        stop_app(flask_app)
