"""The master key at start-up (projections/setup.py, domain/sealing.py).

- A wrong master key: `open_application` raises MasterKeyError with a message that says
  what to do, and nothing is written (the event count and the key table unchanged).
- PostgreSQL without DISCUSS_MASTER_KEY: a clear error (the key must come from the
  environment: several machines share the store).
- SQLite without DISCUSS_MASTER_KEY (the embedded default): `init-db` generates the file
  `master-key` beside the store, owner-only (0600), and the application opens with it,
  again after a restart; without the file it stops with a clear error.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from domain.model import OPERATOR_ID
from domain.sealing import MasterKey, MasterKeyError, is_sealed
from domain.settings import Database
from projections import visibility
from projections.registry import build_engine
from projections.setup import MASTER_KEY_FILE, initialise, open_application
from workers.cli import main


def key_rows(database: Database) -> int:
    statement = "SELECT COUNT(*) FROM discuss_data_keys"
    if database.backend == "sqlite":
        conn = sqlite3.connect(database.path)
        try:
            return conn.execute(statement).fetchone()[0]
        finally:
            conn.close()
    with psycopg.connect(
        host=database.host, port=database.port, user=database.user, dbname=database.dbname
    ) as conn:
        return conn.execute(statement).fetchone()[0]


def written(database: Database) -> tuple[int, int]:
    """(events, data keys) in the store, read with the right key."""
    app = open_application(database)
    try:
        return app.head_position(), key_rows(database)
    finally:
        app.close()


def test_a_wrong_master_key_stops_start_up_and_writes_nothing(database: Database, monkeypatch):
    app = open_application(database)
    app.register_author("Ann")
    app.open_thread(OPERATOR_ID, "Sealed")
    app.close()
    before = written(database)
    assert before[0] == 3  # the author, its name's claim, the thread

    monkeypatch.setenv("DISCUSS_MASTER_KEY", MasterKey.generate_text())  # another store's
    with pytest.raises(MasterKeyError) as error:
        open_application(database)
    message = str(error.value)
    assert "DISCUSS_MASTER_KEY is not the master key this store was written with" in message
    assert "nothing was written" in message
    # Not even through the command line: it stops before writing (a non-zero exit).
    result = CliRunner().invoke(
        main, ["register", "Mallory"], env={"DISCUSS_DATABASE_URL": database.url}
    )
    assert result.exit_code == 1
    said = result.output + (result.stderr or "") + str(result.exception or "")
    assert "is not the master key this store was written with" in said

    for malformed, words in (("not base64 at all!", "not base64"), ("c2hvcnQ=", "32 bytes")):
        monkeypatch.setenv("DISCUSS_MASTER_KEY", malformed)
        with pytest.raises(MasterKeyError, match=words):
            open_application(database)
    monkeypatch.undo()
    assert written(database) == before


@pytest.mark.postgres
def test_postgres_without_a_master_key_is_a_clear_error(pg_database: Database, monkeypatch):
    monkeypatch.delenv("DISCUSS_MASTER_KEY")
    for start in (open_application, initialise):
        with pytest.raises(MasterKeyError) as error:
            start(pg_database)
        message = str(error.value)
        assert message.startswith("DISCUSS_MASTER_KEY is not set")
        assert "a PostgreSQL store needs its master key in the environment" in message
        assert "discuss new-master-key" in message
    monkeypatch.undo()
    assert written(pg_database) == (0, 1)  # the check value only


def test_sqlite_without_a_master_key_generates_one_beside_the_store(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("DISCUSS_MASTER_KEY")
    store = tmp_path / "var" / "discuss.db"
    url = f"sqlite:///{store}"
    database = Database.from_url(url)
    old_umask = os.umask(0o002)  # a permissive umask: the file is owner-only anyway
    try:
        result = CliRunner().invoke(main, ["init-db"], env={"DISCUSS_DATABASE_URL": url})
    finally:
        os.umask(old_umask)
    assert result.exit_code == 0, result.output
    key_file = store.parent / MASTER_KEY_FILE
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    MasterKey.from_text(key_file.read_text())  # a valid key
    generated = key_file.read_bytes()

    app = open_application(database)
    engine = build_engine(app, database)
    try:
        ann = app.register_author("Ann Sealed").author_id
        thread_id = app.open_thread(OPERATOR_ID, "Sealed by the file's key").thread_id
        app.post_comment(ann, thread_id, "sealed with the generated key")
        engine.catch_up_all()
        assert is_sealed(app.get_author(ann).name)
        assert visibility.author_names(engine, [str(ann)]) == {str(ann): "Ann Sealed"}
    finally:
        engine.store.close()
        app.close()
    # init-db again keeps the key; a restart opens with it.
    assert CliRunner().invoke(main, ["init-db"], env={"DISCUSS_DATABASE_URL": url}).exit_code == 0
    assert key_file.read_bytes() == generated
    app = open_application(database)
    try:
        assert app.display_name(app.get_author(ann)) == "Ann Sealed"
    finally:
        app.close()
    # Without the file (and without the variable) it stops, saying what is missing.
    key_file.rename(tmp_path / "kept-elsewhere")
    with pytest.raises(MasterKeyError) as error:
        open_application(database)
    assert f"DISCUSS_MASTER_KEY is not set and {key_file} does not exist" in str(error.value)
    # With the variable set to the same key, it opens again.
    monkeypatch.setenv("DISCUSS_MASTER_KEY", (tmp_path / "kept-elsewhere").read_text())
    app = open_application(database)
    try:
        assert app.display_name(app.get_author(ann)) == "Ann Sealed"
    finally:
        app.close()


def test_the_cli_says_a_wrong_master_key_in_one_line(tmp_path, monkeypatch):
    """`discuss` with the wrong key: one clear line on stderr, exit 1, no traceback."""
    from workers.cli import main

    url = f"sqlite:///{tmp_path}/store.db"
    monkeypatch.setenv("DISCUSS_DATABASE_URL", url)
    initialise(Database.from_url(url))
    monkeypatch.setenv("DISCUSS_MASTER_KEY", MasterKey.generate_text())
    result = CliRunner().invoke(main, ["register", "Ann"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "error: DISCUSS_MASTER_KEY is not the master key this store was written with" in (
        result.output
    )


@pytest.mark.postgres
def test_the_key_table_gathers_no_statistics_from_the_start(pg_database):
    """ANALYZE never samples wrapped keys into pg_statistic, even before any erasure."""
    app = open_application(pg_database)
    try:
        for n in range(50):
            app.register_author(f"Author {n}")
    finally:
        app.close()
    with psycopg.connect(
        host=pg_database.host,
        port=pg_database.port,
        user=pg_database.user,
        dbname=pg_database.dbname,
        autocommit=True,
    ) as conn:
        conn.execute("ANALYZE discuss_data_keys")
        sampled = conn.execute(
            "SELECT 1 FROM pg_stats WHERE tablename = 'discuss_data_keys' AND attname = 'wrapped'"
        ).fetchone()
    assert sampled is None
