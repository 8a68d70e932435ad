"""A thread's current state as the seed file's simple nested JSON
(projections/thread_export.py) and `discuss export-thread`: as the public sees it,
through the visibility policy (anonymous viewer, THREAD surface), names and texts
opened, withheld comments as placeholders with the policy's words."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from click.testing import CliRunner

from domain.model import MODERATOR, OPERATOR_ID
from domain.settings import Database
from projections import visibility
from projections.registry import build_engine
from projections.setup import open_application
from projections.thread_export import export_thread_state
from tests.integration.test_history_roundtrip import (
    ERASED_AUTHOR_TEXT,
    ERASED_COMMENT,
    ERASED_REVISION,
    Scenario,
    change_demo_thread,
    forget_some,
)
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


def expected_after(engine, s: Scenario) -> dict:
    data = copy.deepcopy(seed_data())
    nodes = depth_first(data["comments"])
    for index, text in s.texts.items():
        nodes[index]["text"] = text
    decided = visibility.decisions_for(engine, map(str, s.ids))
    for index, state in s.states.items():
        replies = nodes[index]["replies"]
        since = decided[str(s.ids[index])].state_at
        nodes[index].clear()
        nodes[index].update(
            author=None,
            text=None,
            state=state,
            placeholder=visibility.placeholder(state, since),
            replies=replies,
        )
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
        engine.catch_up("decisions")
        exported = export_thread_state(engine, s.thread_id, site=SITE)
        assert exported == expected_after(engine, s)
        nodes = depth_first(exported["comments"])
        # Edited twice: the latest text.
        assert nodes[1]["text"].endswith("edited by a moderator.")
        # Retracted with replies: a placeholder that keeps them in place, with the
        # policy's words (why, and since when).
        assert nodes[8] == {
            "author": None,
            "text": None,
            "state": "retracted",
            "placeholder": nodes[8]["placeholder"],
            "replies": [nodes[9], nodes[12]],
        }
        assert nodes[8]["placeholder"].startswith("retracted by its author on ")
        assert [n["author"] for n in nodes[8]["replies"]] == ["David Pavett", "Tim Barlow"]
        # Hidden and restored: back as it was, with its replies.
        assert nodes[14]["author"] == "C MacMackin" and len(nodes[14]["replies"]) == 3
        # Hidden and still hidden (edited meanwhile): no text, not even the new one.
        assert nodes[25]["state"] == "hidden" and nodes[25]["text"] is None
        assert nodes[25]["author"] is None
        assert nodes[25]["placeholder"].startswith("removed by a moderator on ")
        assert nodes[25]["replies"][0]["author"] == "John Walsh"
        assert "Edited while hidden." not in json.dumps(exported)
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


def test_erased_and_suppressed_content_is_not_exported(database: Database):
    """After erasures (a revision, a comment, an author) and a suppressed text, the
    export shows what the public sees: placeholders in place, replies kept, and none of
    the erased or suppressed plaintext."""
    app = open_application(database)
    engine = build_engine(app, database)
    try:
        s = change_demo_thread(app)
        forget_some(app, s)
        mo = app.register_author("Another Mod", role=MODERATOR).author_id
        # A suppressed current text: withheld from the public, its author still named.
        app.suppress_revision(mo, s.ids[0], 1, text=True, reason="an address in it")
        engine.catch_up_all()
        second = export_thread_state(engine, s.second_id)
        text = json.dumps(second, ensure_ascii=False)
        for erased in (ERASED_REVISION, ERASED_COMMENT, ERASED_AUTHOR_TEXT, "Leaving Okapi"):
            assert erased not in text, erased
        nodes = depth_first(second["comments"])
        by_text = {n["text"]: n for n in nodes if n["text"]}
        # The erased revision was replaced by an edit: the current text is readable.
        assert by_text["Please ignore my last."]["author"] == "James Martin"
        erased = [n for n in nodes if n.get("state") == "erased"]
        assert len(erased) == 2  # the takedown, and the erased author's comment
        for node in erased:
            assert (node["author"], node["text"]) == (None, None)
            assert node["placeholder"].startswith("erased on ")
        assert [r["text"] for r in erased[0]["replies"]] == ["A reply to a takedown."]
        assert [r["text"] for r in erased[1]["replies"]] == ["Replying to someone who left."]

        first = depth_first(export_thread_state(engine, s.thread_id)["comments"])
        assert first[0] == {
            "author": "Bazza",
            "text": None,
            "state": "visible",
            "placeholder": first[0]["placeholder"],
            "replies": first[0]["replies"],
        }
        assert first[0]["placeholder"].startswith("withheld by a moderator on ")
        assert "Whoaah! Beautiful!" not in json.dumps(first, ensure_ascii=False)
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
