"""`discuss erase-author`, `discuss erase-comment` and `discuss new-master-key`, run
in-process through the CLI's `main` (and the console script once), on SQLite and
PostgreSQL: what they print, what they record, idempotency, one-line errors, and the
hash chain still verifying afterwards."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path
from uuid import uuid4

import pytest
from click.testing import CliRunner

from domain.errors import NotAuthenticated
from domain.model import MEMBER, MODERATOR, OPERATOR_ID
from domain.settings import Database
from projections.registry import build_engine
from projections.visibility import open_one
from workers.cli import main

DISCUSS = Path(sys.executable).parent / "discuss"
PHONE = "07700 900123"


@pytest.fixture
def run(database: Database):
    runner = CliRunner(env={"DISCUSS_DATABASE_URL": database.url})

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(main, list(args), input=input)

    return invoke


@pytest.fixture
def writings(app):
    """A thread with two authors: Ada's comments (one with a phone number), and a reply
    of Brian's under one of them."""
    ada = app.register_author("Ada", MEMBER)
    brian = app.register_author("Brian", MEMBER)
    app.register_author("Mo", MODERATOR)
    thread = app.open_thread(OPERATOR_ID, "A thread", key="posts/a-thread")
    first = app.post_comment(ada.author_id, thread.thread_id, f"call me on {PHONE}")
    app.edit_comment(ada.author_id, first.comment_id, f"call me on {PHONE} after six")
    second = app.post_comment(ada.author_id, thread.thread_id, "second thought")
    reply = app.post_comment(
        brian.author_id, thread.thread_id, "a reply", parent_id=first.comment_id
    )
    return {
        "ada": ada,
        "brian": brian,
        "thread": thread,
        "comments": [first, second],
        "reply": reply,
    }


def opened(app, value: str | None) -> str | None:
    """A sealed value of an aggregate opened (None once its key is destroyed)."""
    plain = app.opener.open(value)
    return plain if isinstance(plain, str) else None


def lines(output: str) -> dict[str, str]:
    found = {}
    for line in output.splitlines():
        name, sep, value = line.partition(": ")
        if sep:
            found[name.strip()] = value.strip()
    return found


def test_erase_author_prints_what_it_erased_and_is_idempotent(run, app, writings):
    ada = writings["ada"]
    before = app.head_position()
    result = run("erase-author", str(ada.author_id), "--basis", "legal", "--yes")
    assert result.exit_code == 0, result.output
    printed = lines(result.stdout)
    assert result.stdout.splitlines()[0] == f"erased author {ada.author_id}"
    assert printed["comments"] == "2"
    # The name's key, two posts and one edit.
    assert printed["keys destroyed"] == "4"
    assert printed["basis"] == "legal"
    # 2 comments, the name released, the account
    assert int(printed["position"]) == app.head_position() == before + 4

    with pytest.raises(NotAuthenticated):
        app.authenticate(ada.token)
    author = app.get_author(ada.author_id)
    assert author.erased and app.display_name(author) is None
    for posted in writings["comments"]:
        comment = app.get_comment(posted.comment_id)
        assert comment.erased and opened(app, comment.text) is None
    reply = app.get_comment(writings["reply"].comment_id)
    assert not reply.erased and opened(app, reply.text) == "a reply"

    again = run("erase-author", str(ada.author_id), "--basis", "legal", "--yes")
    assert again.exit_code == 0, again.output
    assert "erased already" in again.stdout
    assert lines(again.stdout)["keys destroyed"] == "0"
    assert app.head_position() == before + 4

    verify = run("verify")
    assert verify.exit_code == 0, verify.output


def test_erase_author_asks_first_without_yes(run, app, writings):
    ada = writings["ada"]
    before = app.head_position()
    refused = run("erase-author", str(ada.author_id), "--basis", "operator", input="n\n")
    assert refused.exit_code == 1
    assert "Erase author" in refused.output and "Ada" in refused.output
    assert "2 comments" in refused.output
    assert app.head_position() == before
    assert app.authenticate(ada.token).id == ada.author_id

    confirmed = run("erase-author", str(ada.author_id), "--basis", "operator", input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert lines(confirmed.stdout)["comments"] == "2"
    assert app.head_position() == before + 4  # 2 comments, the name released, the account


def test_erase_author_refuses_bad_input_in_one_line(run, app, writings):
    before = app.head_position()
    unknown = run("erase-author", str(uuid4()), "--basis", "legal", "--yes")
    assert unknown.exit_code == 1
    assert unknown.output.startswith("error: no author with id")
    assert "Traceback" not in unknown.output
    bad_basis = run("erase-author", str(writings["ada"].author_id), "--basis", "because", "--yes")
    assert bad_basis.exit_code == 2 and "because" in bad_basis.output
    for basis in ("author_request", "legal", "personal_data", "operator"):
        assert basis in bad_basis.output
    no_basis = run("erase-author", str(writings["ada"].author_id), "--yes")
    assert no_basis.exit_code == 2 and "--basis" in no_basis.output
    not_an_id = run("erase-author", "ada", "--basis", "legal", "--yes")
    assert not_an_id.exit_code == 2 and "is not a UUID" in not_an_id.output
    assert app.head_position() == before


def test_erase_comment_is_a_takedown_by_the_operator(run, app, writings):
    first = writings["comments"][0]
    before = app.head_position()
    result = run("erase-comment", str(first.comment_id), "--basis", "personal_data")
    assert result.exit_code == 0, result.output
    printed = lines(result.stdout)
    assert result.stdout.splitlines()[0] == f"erased comment {first.comment_id}"
    assert printed["keys destroyed"] == "2"  # the post and the edit
    assert int(printed["position"]) == app.head_position() == before + 1
    comment = app.get_comment(first.comment_id)
    assert comment.erased
    # Its author keeps the account and the other comment.
    assert app.authenticate(writings["ada"].token)
    second = app.get_comment(writings["comments"][1].comment_id)
    assert opened(app, second.text) == "second thought"

    again = run("erase-comment", str(first.comment_id), "--basis", "personal_data")
    assert again.exit_code == 0 and "erased already" in again.stdout
    assert app.head_position() == before + 1
    unknown = run("erase-comment", str(uuid4()), "--basis", "legal")
    assert unknown.exit_code == 1 and unknown.output.startswith("error: no comment with id")
    assert run("verify").exit_code == 0


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_new_master_key_prints_a_fresh_key_and_says_to_keep_it_safe(run):
    first, second = run("new-master-key"), run("new-master-key")
    assert first.exit_code == 0
    key = first.stdout.strip()
    assert len(first.stdout.splitlines()) == 1  # only the key on standard output
    assert len(base64.urlsafe_b64decode(key)) == 32
    assert key != second.stdout.strip()
    assert "Keep it safe" in first.stderr


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_the_console_script_erases_an_author(database: Database, app, writings):
    env = {**os.environ, "DISCUSS_DATABASE_URL": database.url}
    ada = writings["ada"]
    done = subprocess.run(
        [str(DISCUSS), "erase-author", str(ada.author_id), "--basis", "author_request", "--yes"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert lines(done.stdout)["comments"] == "2"
    with pytest.raises(NotAuthenticated):
        app.authenticate(ada.token)
    # The read models follow: the views hold no opened text of Ada's after a catch-up.
    engine = build_engine(app, database)
    engine.catch_up_all()
    rows = (
        engine.store.reader()
        .execute(
            f"SELECT text FROM {engine.tables('threads').comments} WHERE comment_id = ?",
            (str(writings["comments"][0].comment_id),),
        )
        .all()
    )
    assert [open_one(engine, r["text"]) for r in rows] == [None]
