"""`discuss import wxr|disqus|remark42 FILE`: summary, exit status, one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from domain.settings import Database
from projections.setup import open_application
from workers.cli import main

FIXTURES = Path(os.environ.get("DISCUSS_FIXTURES", "/work/shared/fixtures")) / "import"
DISCUSS = Path(sys.executable).parent / "discuss"


@pytest.fixture
def run(sqlite_database: Database):
    runner = CliRunner(env={"DISCUSS_DATABASE_URL": sqlite_database.url})

    def invoke(*args: str):
        return runner.invoke(main, ["import", *args])

    return invoke


def head(database: Database) -> int | None:
    app = open_application(database)
    try:
        return app.recorder.max_notification_id()
    finally:
        app.close()


def test_wxr_prints_a_summary_and_a_second_run_records_nothing(run, sqlite_database):
    path = FIXTURES / "wordpress-a11y-unit-test-data.xml"
    first = run("wxr", str(path))

    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines() == [
        f"imported {path} (wxr)",
        "  threads: 5 (5 new, 0 extended, 0 unchanged)",
        "  comments imported: 25 (hidden 0, retracted 0, held for review 2); already there: 0",
        "  held for review: imported-no-status 1, imported-password-protected 1",
        "  authors registered: 8",
        "  skipped: pingback 4",
        "  notes: undated 1",
        "  orphans: 0: none",
        f"  recorded up to position {head(sqlite_database)}",
    ]
    before = head(sqlite_database)
    second = run("wxr", str(path))
    assert second.exit_code == 0
    assert "  threads: 5 (0 new, 0 extended, 5 unchanged)" in second.stdout
    assert (
        "  comments imported: 0 (hidden 0, retracted 0, held for review 0); already there: 25"
        in second.stdout
    )
    assert "  nothing new: no events recorded" in second.stdout
    assert head(sqlite_database) == before


def test_include_pings(run):
    result = run("wxr", "--include-pings", str(FIXTURES / "wordpress-a11y-unit-test-data.xml"))
    assert result.exit_code == 0
    assert (
        "  comments imported: 29 (hidden 0, retracted 0, held for review 2); already there: 0"
        in result.stdout
    )
    assert "  skipped: none" in result.stdout


def test_disqus_and_remark42_summaries(run):
    disqus = run("disqus", str(FIXTURES / "isso-disqus.xml"))
    assert disqus.exit_code == 0
    assert (
        "  comments imported: 5 (hidden 0, retracted 1, held for review 0); already there: 0"
        in disqus.stdout
    )
    assert "  orphans: 1\n    6 (line 66): thread missing\n" in disqus.stdout

    remark = run("remark42", str(FIXTURES / "remark42-comments.json"))
    assert remark.exit_code == 0
    assert "  threads: 1 (1 new, 0 extended, 0 unchanged)" in remark.stdout
    assert (
        "  comments imported: 58 (hidden 0, retracted 0, held for review 0); already there: 0"
        in remark.stdout
    )


def test_a_malformed_file_exits_1_with_one_line(run, sqlite_database, tmp_path):
    path = FIXTURES / "remark42-disqus.xml"
    result = run("disqus", str(path))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"error: {path}, line 1: XML syntax error at column 1: not well-formed (invalid token)\n"
    )
    assert head(sqlite_database) is None

    wrong = run("remark42", str(FIXTURES / "isso-disqus.xml"))
    assert wrong.exit_code == 2  # another format: says what it looks like
    assert wrong.stderr == (
        f"error: {FIXTURES / 'isso-disqus.xml'}: not Remark42 comment records:"
        " it looks like a Disqus export (root element <disqus>)\n"
    )


def test_a_missing_file_is_a_usage_error(run, tmp_path):
    result = run("wxr", str(tmp_path / "nope.xml"))
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_the_installed_command_imports(sqlite_database):
    """The console script, as an operator runs it (progress bar off: not a terminal)."""
    env = {**os.environ, "DISCUSS_DATABASE_URL": sqlite_database.url}
    done = subprocess.run(
        [str(DISCUSS), "import", "wxr", str(FIXTURES / "isso-wordpress.xml")],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "  comments imported: 8 (hidden 0, retracted 0, held for review 0)" in done.stdout
    assert done.stderr == ""
