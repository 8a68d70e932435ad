"""`discuss import isso comments.db`: a real Isso 0.14 database (made through Isso's own
HTTP API, see shared/fixtures/import/isso-0.14-source), checked against that database
read here: every comment's thread, parent, date, state and author."""

from __future__ import annotations

import os
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from domain.model import RETRACTED, VISIBLE, Comment, Thread
from projections import queries
from projections.queries import PageRequest
from tests.support.store import author_name, readable, stored_events
from tests.support.views import close, fresh_engine
from workers.cli import main
from workers.importing.run import import_file
from workers.importing.specs import ImportFormatError
from workers.importing.writer import RETRACTED_TEXT, comment_id

FIXTURES = Path(os.environ.get("DISCUSS_FIXTURES", "/work/shared/fixtures")) / "import"
ISSO_DB = FIXTURES / "isso-0.14-comments.db"
BASE = "http://blog.example.org"


def isso_rows() -> tuple[dict[int, sqlite3.Row], list[sqlite3.Row]]:
    """Isso's own tables, as Isso wrote them."""
    db = sqlite3.connect(f"file:{ISSO_DB}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        threads = {r["id"]: r for r in db.execute("SELECT * FROM threads")}
        comments = list(db.execute("SELECT * FROM comments ORDER BY id"))
    finally:
        db.close()
    return threads, comments


def test_every_isso_comment_keeps_thread_parent_date_state_and_author(sqlite_app):
    threads, comments = isso_rows()
    assert len(comments) == 12 and {c["mode"] for c in comments} == {1, 2, 4}

    summary = import_file(sqlite_app, ISSO_DB, "isso", base_url=BASE)

    assert (summary.threads_created, summary.comments, summary.retracted) == (3, 12, 1)
    assert summary.held == {"imported-pending": 2}
    assert summary.orphans == []
    for thread in threads.values():
        stored = sqlite_app.repository.get(Thread.id_for_key(BASE + thread["uri"]))
        assert stored.title == thread["title"]
    for row in comments:
        key = BASE + threads[row["tid"]]["uri"]
        item = readable(
            sqlite_app, sqlite_app.repository.get(comment_id("isso", key, str(row["id"])))
        )
        assert item.thread_id == Thread.id_for_key(key)
        parent = comment_id("isso", key, str(row["parent"])) if row["parent"] else None
        assert item.parent_id == parent, row["id"]
        assert item.created_on == datetime.fromtimestamp(row["created"], UTC), row["id"]
        assert author_name(sqlite_app, item) == (row["author"] or "Anonymous"), row["id"]
        if row["mode"] == 1:
            assert (item.state, item.awaiting_review, item.text) == (VISIBLE, False, row["text"])
        elif row["mode"] == 2:
            assert item.awaiting_review and item.unpublished, row["id"]
            held = stored_events(sqlite_app, item.id)[-1]
            assert isinstance(held, Comment.Held) and held.rules == ["imported-pending"]
            assert item.text == row["text"]
        else:  # 4: deleted in Isso, kept because it has replies
            assert (item.state, item.text) == (RETRACTED, RETRACTED_TEXT), row["id"]

    # The tombstone's reply keeps its place under it.
    tombstone = next(r for r in comments if r["mode"] == 4)
    replies = [r for r in comments if r["parent"] == tombstone["id"]]
    assert replies


def test_readers_see_accepted_comments_and_the_tombstone_not_the_pending_ones(
    sqlite_app, sqlite_database
):
    threads, comments = isso_rows()
    import_file(sqlite_app, ISSO_DB, "isso", base_url=BASE)
    engine = fresh_engine(sqlite_database)
    try:
        engine.catch_up_all()
        for tid, thread in threads.items():
            key = BASE + thread["uri"]
            page = queries.thread_page(engine, str(Thread.id_for_key(key)), PageRequest())
            shown = set(_ids(page["comments"]))
            expected = {
                str(comment_id("isso", key, str(r["id"])))
                for r in comments
                if r["tid"] == tid and r["mode"] in (1, 4)
            }
            assert shown == expected, thread["uri"]
    finally:
        close(engine)


def _ids(nodes: list[dict]) -> list[str]:
    return [n["id"] for n in nodes] + [i for n in nodes for i in _ids(n["replies"])]


def test_a_second_run_is_unchanged_and_records_nothing(sqlite_database):
    runner = CliRunner(env={"DISCUSS_DATABASE_URL": sqlite_database.url})
    first = runner.invoke(main, ["import", "isso", str(ISSO_DB)])
    assert first.exit_code == 0, first.output
    assert "  threads: 3 (3 new, 0 extended, 0 unchanged)" in first.stdout
    assert "  held for review: imported-pending 2" in first.stdout
    assert "website not kept 2" in first.stdout  # reported, not silently dropped

    second = runner.invoke(main, ["import", "isso", str(ISSO_DB)])
    assert second.exit_code == 0
    assert "  threads: 3 (0 new, 0 extended, 3 unchanged)" in second.stdout
    assert "  nothing new: no events recorded" in second.stdout


def test_votes_are_reported_as_skipped(sqlite_app, tmp_path):
    copy = tmp_path / "comments.db"
    shutil.copy(ISSO_DB, copy)
    db = sqlite3.connect(copy)
    db.execute("UPDATE comments SET likes = 3, dislikes = 1 WHERE id = 1")
    db.commit()
    db.close()

    summary = import_file(sqlite_app, copy, "isso")

    assert summary.skipped == {"likes (no votes here)": 3, "dislikes (no votes here)": 1}


def test_a_locked_database_is_a_clear_error(sqlite_app, tmp_path):
    copy = tmp_path / "comments.db"
    shutil.copy(ISSO_DB, copy)
    isso = sqlite3.connect(copy)
    isso.execute("BEGIN EXCLUSIVE")  # Isso in the middle of a write
    try:
        with pytest.raises(ImportFormatError) as error:
            import_file(sqlite_app, copy, "isso")
    finally:
        isso.rollback()
        isso.close()
    assert "the database is locked" in str(error.value)
    assert sqlite_app.recorder.max_notification_id() is None


def test_a_database_that_is_not_isso_exits_2(sqlite_database, tmp_path):
    other = tmp_path / "other.db"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE posts (id INTEGER)")
    db.commit()
    db.close()
    runner = CliRunner(env={"DISCUSS_DATABASE_URL": sqlite_database.url})

    result = runner.invoke(main, ["import", "isso", str(other)])

    assert result.exit_code == 2
    assert "not an Isso database: it looks like a SQLite database with tables posts" in (
        result.stderr
    )
