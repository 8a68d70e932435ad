"""A thread's current state as the seed file's simple nested JSON
(projections/thread_export.py) and `discuss export-thread`."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from click.testing import CliRunner

from domain.model import OPERATOR_ID
from domain.settings import Database
from projections.registry import build_engine
from projections.setup import open_application
from projections.thread_export import export_thread_state
from tests.integration.test_history_roundtrip import Scenario, change_demo_thread
from tests.support.databases import new_database
from workers.cli import main
from workers.seed import DEMO_KEY, SEED_FILE, load_seed

SITE = "Left Futures"


def seed_data() -> dict:
    return json.loads(SEED_FILE.read_text(encoding="utf-8"))


def depth_first(comments: list[dict]) -> list[dict]:
    """The seed file's comments in posting order (the loader posts depth-first)."""
    found = []
    for comment in comments:
        found.append(comment)
        found += depth_first(comment["replies"])
    return found


def expected_after(s: Scenario) -> dict:
    data = copy.deepcopy(seed_data())
    nodes = depth_first(data["comments"])
    for index, text in s.texts.items():
        nodes[index]["text"] = text
    for index, state in s.states.items():
        replies = nodes[index]["replies"]
        nodes[index].clear()
        nodes[index].update(author=None, text=None, state=state, replies=replies)
    return data


def test_the_fresh_demo_thread_exports_as_its_seed_file(database: Database, tmp_path: Path):
    app = open_application(database)
    engine = build_engine(app, database)
    try:
        thread_id = load_seed(app).thread_id
        engine.catch_up("threads")
        exported = export_thread_state(engine, thread_id, site=SITE)
        assert exported["comments"] == seed_data()["comments"]  # authors, texts, nesting, order
        assert exported == seed_data()
        assert export_thread_state(engine, thread_id)["site"] is None
    finally:
        engine.store.close()
        app.close()

    # What is exported loads as a demo thread again, and exports the same.
    path = tmp_path / "exported.json"
    path.write_text(json.dumps(exported, ensure_ascii=False), encoding="utf-8")
    with new_database("sqlite", tmp_path) as other:
        app = open_application(other)
        engine = build_engine(app, other)
        try:
            again = load_seed(app, path, key="copy/of-the-demo")
            engine.catch_up("threads")
            assert export_thread_state(engine, again.thread_id, site=SITE) == exported
        finally:
            engine.store.close()
            app.close()


def test_after_changes_the_current_texts_and_placeholders(database: Database):
    app = open_application(database)
    engine = build_engine(app, database)
    try:
        s = change_demo_thread(app)
        engine.catch_up("threads")
        exported = export_thread_state(engine, s.thread_id, site=SITE)
        assert exported == expected_after(s)
        nodes = depth_first(exported["comments"])
        # Edited twice: the latest text.
        assert nodes[1]["text"].endswith("edited by a moderator.")
        # Retracted with replies: a placeholder that keeps them in place.
        assert nodes[8] == {
            "author": None,
            "text": None,
            "state": "retracted",
            "replies": [nodes[9], nodes[12]],
        }
        assert [n["author"] for n in nodes[8]["replies"]] == ["David Pavett", "Tim Barlow"]
        # Hidden and restored: back as it was, with its replies.
        assert nodes[14]["author"] == "C MacMackin" and len(nodes[14]["replies"]) == 3
        # Hidden and still hidden (edited meanwhile): no text, not even the new one.
        assert nodes[25]["state"] == "hidden" and nodes[25]["text"] is None
        assert nodes[25]["replies"][0]["author"] == "John Walsh"
        assert export_thread_state(engine, s.second_id) == {
            "site": None,
            "title": "Second thread",
            "body": None,
            "comments": [
                {
                    "author": "James Martin",
                    "text": "A first word elsewhere, edited.",
                    "replies": [{"author": "Martin Read", "text": "And a reply.", "replies": []}],
                }
            ],
        }
        empty = app.open_thread(OPERATOR_ID, "Nobody here yet").thread_id
        engine.catch_up("threads")
        assert export_thread_state(engine, empty)["comments"] == []
    finally:
        engine.store.close()
        app.close()


def test_export_thread_command(sqlite_database: Database, tmp_path: Path):
    app = open_application(sqlite_database)
    try:
        thread_id = load_seed(app).thread_id  # the view is not caught up: the command does it
    finally:
        app.close()
    runner = CliRunner(env={"DISCUSS_DATABASE_URL": sqlite_database.url})
    out = tmp_path / "thread.json"

    by_key = runner.invoke(main, ["export-thread", DEMO_KEY, "--site", SITE, "-o", str(out)])
    assert by_key.exit_code == 0, by_key.output
    assert by_key.stderr == f"exported thread {thread_id} to {out}\n"
    # The seed file itself, byte for byte (but for a final newline).
    assert out.read_text(encoding="utf-8") == SEED_FILE.read_text(encoding="utf-8").rstrip() + "\n"

    by_id = runner.invoke(main, ["export-thread", str(thread_id)])
    assert by_id.exit_code == 0, by_id.output
    assert json.loads(by_id.stdout) == {**seed_data(), "site": None}

    for unknown in ("no/such/page", "00000000-0000-0000-0000-000000000000"):
        missing = runner.invoke(main, ["export-thread", unknown])
        assert missing.exit_code == 1
        assert missing.stderr == f"error: no thread with id or key {unknown!r}\n"
