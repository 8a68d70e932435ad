"""`discuss import commento FILE`: a Commento/Commento++ export (version 1).

The fixture tests/fixtures/import/commento-export.json is written in the shape of
Commento's own export (api/domain_export.go of adtac/commento: Go's encoding/json of
`dataExport{version, comments, commenters}`, compact, one line; see the docstring of
workers/importing/commento.py for where each field and value comes from)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from domain.model import RETRACTED, VISIBLE, Comment, Thread
from domain.settings import Database
from tests.support.store import author_name, readable, stored_events
from workers.cli import main
from workers.importing.dates import iso_date
from workers.importing.run import import_file
from workers.importing.specs import ImportFormatError
from workers.importing.writer import RETRACTED_TEXT, comment_id

EXPORT = Path(__file__).resolve().parents[1] / "fixtures" / "import" / "commento-export.json"


def export() -> dict:
    return json.loads(EXPORT.read_text(encoding="utf-8"))


def key_of(record: dict) -> str:
    return f"https://{record['domain']}{record['url']}"


def test_every_comment_keeps_its_page_parent_date_state_and_author(sqlite_app):
    data = export()
    names = {c["commenterHex"]: c["name"] for c in data["commenters"]}

    summary = import_file(sqlite_app, EXPORT, "commento")

    assert (summary.threads_created, summary.comments, summary.retracted) == (3, 8, 1)
    assert summary.held == {"imported-pending": 2}
    assert summary.skipped["spam"] == 1 and summary.orphans == []
    for record in data["comments"]:
        key = key_of(record)
        cid = comment_id("commento", key, record["commentHex"])
        if record["state"] == "flagged":
            assert cid not in sqlite_app.repository
            continue
        item = readable(sqlite_app, sqlite_app.repository.get(cid))
        assert item.thread_id == Thread.id_for_key(key)
        parent = record["parentHex"]
        expected_parent = None if parent == "root" else comment_id("commento", key, parent)
        assert item.parent_id == expected_parent
        assert item.created_on == iso_date(record["creationDate"])
        if record["markdown"] == "[deleted]":
            assert (item.state, item.text) == (RETRACTED, RETRACTED_TEXT)
            continue
        assert item.text == record["markdown"]
        assert author_name(sqlite_app, item) == names.get(record["commenterHex"], "Anonymous")
        if record["state"] == "approved":
            assert (item.state, item.awaiting_review) == (VISIBLE, False)
        else:
            held = stored_events(sqlite_app, item.id)[-1]
            assert isinstance(held, Comment.Held) and held.rules == ["imported-pending"]


def test_a_second_run_is_unchanged(sqlite_database: Database):
    runner = CliRunner(env={"DISCUSS_DATABASE_URL": sqlite_database.url})
    first = runner.invoke(main, ["import", "commento", str(EXPORT)])
    assert first.exit_code == 0, first.output
    second = runner.invoke(main, ["import", "commento", str(EXPORT)])
    assert second.exit_code == 0
    assert "  threads: 3 (0 new, 0 extended, 3 unchanged)" in second.stdout
    assert "  nothing new: no events recorded" in second.stdout


def test_base_url_names_the_pages(sqlite_app):
    import_file(sqlite_app, EXPORT, "commento", base_url="https://www.example.org/")
    assert Thread.id_for_key("https://www.example.org/posts/hello-world/") in sqlite_app.repository


def test_a_truncated_export_names_the_line_and_keeps_earlier_threads(sqlite_app, tmp_path):
    pretty = tmp_path / "pretty.json"
    text = json.dumps(export(), indent=1)
    pretty.write_text(text[: text.index('"Only comment here')], encoding="utf-8")

    with pytest.raises(ImportFormatError) as error:
        import_file(sqlite_app, pretty, "commento")

    assert error.value.line == len(pretty.read_text().splitlines())
    assert "JSON syntax error" in error.value.message
    # The comments are spooled before any thread is written: nothing half-done.
    assert sqlite_app.recorder.max_notification_id() is None


def test_another_version_is_refused(sqlite_app, tmp_path):
    other = tmp_path / "v2.json"
    data = export()
    data["version"] = 2
    other.write_text(json.dumps(data))
    with pytest.raises(ImportFormatError, match="version 2; this importer reads version 1"):
        import_file(sqlite_app, other, "commento")
