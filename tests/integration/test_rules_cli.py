"""`discuss rules check|try` (issue 13): a rule file's mistakes name the line; `try`
replays the demo thread and an imported WordPress file through a candidate rule set,
reports per rule with examples, and changes nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from domain.settings import Database
from projections.setup import open_application
from workers.cli import main

FIXTURES = Path(os.environ.get("DISCUSS_FIXTURES", "/work/shared/fixtures")) / "import"
RULES = """
[[rule]]
name = "newcomers"
kind = "first-comments"
count = 1

[[rule]]
name = "linky"
kind = "links"
max = 0

[[rule]]
name = "labour"
kind = "words"
words = ["labour"]
action = "refuse"
"""


@pytest.fixture
def run(sqlite_database: Database):
    runner = CliRunner(env={"DISCUSS_DATABASE_URL": sqlite_database.url})
    return lambda *args: runner.invoke(main, list(args))


def head(database: Database) -> int:
    app = open_application(database)
    try:
        return app.recorder.max_notification_id() or 0
    finally:
        app.close()


def test_rules_try_on_the_demo_and_an_imported_file(run, sqlite_database, tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    assert run("load-demo").exit_code == 0
    demo_head = head(sqlite_database)
    imported = run("import", "wxr", str(FIXTURES / "wordpress-a11y-unit-test-data.xml"))
    assert imported.exit_code == 0, imported.output
    before = head(sqlite_database)

    result = run("rules", "try", str(rules))
    assert result.exit_code == 0, result.output
    assert "Nothing was changed." in result.output
    assert "newcomers (hold): held" in result.output
    report = json.loads(run("rules", "try", str(rules), "--json").output)
    by_name = {r["name"]: r for r in report["rules"]}
    assert report["checked"] == 28 + 25  # the demo's comments and the file's
    assert by_name["labour"]["fired"] > 0 and by_name["labour"]["examples"]
    assert "labour" in by_name["labour"]["examples"][0]["excerpt"].lower()
    assert by_name["newcomers"]["fired"] > 0 and by_name["linky"]["fired"] > 0
    assert report["refused"] + report["held"] + report["passed"] == report["checked"]
    assert head(sqlite_database) == before  # nothing recorded

    # --since: only what came after (the import), with the facts from the start.
    since = demo_head + 1  # the import's first event
    later = json.loads(run("rules", "try", str(rules), "--since", str(since), "--json").output)
    assert later["since"] == since and later["checked"] == 25
    dated = run("rules", "try", str(rules), "--since", "2100-01-01", "--json")
    assert json.loads(dated.output)["checked"] == 0


def test_rules_check_names_the_line(run, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rule]]\nname = "a"\nkind = "links"\nmax = 1\naction = "delete"\n')
    result = run("rules", "check", str(bad))
    assert result.exit_code == 2
    assert f"{bad}, line 5: rule 'a': action must be 'hold' or 'refuse'" in result.output
    good = tmp_path / "good.toml"
    good.write_text(RULES)
    result = run("rules", "check", str(good))
    assert result.exit_code == 0 and "newcomers: first-comments, hold" in result.output
