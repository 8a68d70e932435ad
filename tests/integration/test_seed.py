"""`discuss load-demo`: the demo thread of workers/data/seed-thread.json in the event store.

The tree is rebuilt from what was stored (Comment.Posted events in log order, and
the Comment aggregates) and compared with the file, nesting and order included.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from uuid import UUID

from domain.application import Discussions
from domain.model import Comment, Thread
from domain.settings import Database
from projections.setup import initialise, open_application
from tests.support import opened
from workers.seed import DEMO_KEY, SEED_FILE, load_seed, seed_author_id, seed_schedule

DISCUSS = Path(sys.executable).parent / "discuss"


def seed_data() -> dict:
    return json.loads(SEED_FILE.read_text(encoding="utf-8"))


def file_tree(comments: list[dict]) -> list[tuple]:
    return [(c["author"], c["text"], file_tree(c.get("replies", []))) for c in comments]


def count(tree: list[tuple]) -> int:
    return sum(1 + count(children) for _, _, children in tree)


def stored_tree(app: Discussions, thread_id: UUID) -> list[tuple]:
    """The thread's comments as stored: parent links, in log order, with author names."""
    notifications = app.recorder.select_notifications(start=1, limit=10_000)
    posted: list[tuple[int, Comment.Posted]] = []
    for notification in notifications:
        event = app.mapper.to_domain_event(notification)
        if isinstance(event, Comment.Posted) and event.thread_id == thread_id:
            posted.append((notification.id, event))
    children: dict[UUID | None, list[tuple[int, Comment.Posted]]] = {}
    for position, event in posted:
        children.setdefault(event.parent_id, []).append((position, event))

    def build(parent_id: UUID | None) -> list[tuple]:
        nodes = []
        for _, event in sorted(children.get(parent_id, []), key=lambda item: item[0]):
            comment = app.get_comment(event.originator_id)  # the aggregate agrees
            assert (comment.thread_id, comment.parent_id, comment.author_id, comment.text) == (
                thread_id,
                event.parent_id,
                event.author_id,
                event.text,
            )
            name = app.display_name(app.get_author(event.author_id))
            nodes.append((name, opened(app, event.text), build(event.originator_id)))
        return nodes

    tree = build(None)
    assert count(tree) == len(posted), "every stored comment hangs from the thread's root"
    return tree


def test_seed_file_has_28_comments():
    assert count(file_tree(seed_data()["comments"])) == 28


def test_load_demo_stores_the_file_exactly_and_only_once(app):
    data = seed_data()
    result = load_seed(app)
    assert result.created
    assert result.comments == 28
    assert result.thread_id == Thread.id_for_key(DEMO_KEY)
    assert result.position == app.recorder.max_notification_id()

    thread = app.get_thread(result.thread_id)
    assert (thread.title, thread.body, thread.key) == (data["title"], data["body"], DEMO_KEY)
    assert stored_tree(app, result.thread_id) == file_tree(data["comments"])

    authors = {c[0] for c in _walk(file_tree(data["comments"]))}
    for name in authors:
        assert app.display_name(app.get_author(seed_author_id(name))) == name

    # A name's claim is written with its registration, at the same time.
    times = [(kind, at) for kind, at in event_times(app) if not kind.startswith("NameClaim.")]
    assert times[0][0] == "Thread.Opened"
    assert [kind for kind, _ in times].count("Comment.Posted") == 28
    stamps = [at for _, at in times]
    assert all(a < b for a, b in pairwise(stamps)), "times strictly increase in log order"
    # Distinct to the second, as the time slider shows them.
    assert len({at.replace(microsecond=0) for at in stamps}) == len(stamps)
    posted = [at for kind, at in times if kind == "Comment.Posted"]
    assert posted[-1] - posted[0] > timedelta(days=1), "the comments span days, not a second"
    assert posted[0] - stamps[0] > timedelta(hours=1), "the first comment comes after the post"
    # Laid out backwards from the load: the last comment an hour ago, not in the future.
    last_before_load = datetime.now(UTC) - posted[-1]
    assert timedelta(minutes=59) <= last_before_load <= timedelta(minutes=62)

    before = app.recorder.max_notification_id()
    again = load_seed(app)
    assert (again.created, again.comments, again.thread_id) == (False, 0, result.thread_id)
    assert again.position == before
    assert app.recorder.max_notification_id() == before, "a second load recorded something"


def event_times(app: Discussions) -> list[tuple[str, datetime]]:
    """(kind, timestamp) of every stored event, in log order."""
    out = []
    for notification in app.recorder.select_notifications(start=1, limit=10_000):
        event = app.mapper.to_domain_event(notification)
        out.append((type(event).__qualname__, event.timestamp))
    return out


def test_the_demo_timeline_is_the_same_on_every_load(tmp_path):
    """The gaps between events never change; `opened_at` pins every timestamp."""

    def load(name: str, **kwargs) -> list[tuple[str, datetime]]:
        database = Database.from_url(f"sqlite:///{tmp_path}/{name}/discuss.db")
        initialise(database)
        application = open_application(database)
        try:
            load_seed(application, **kwargs)
            return event_times(application)
        finally:
            application.close()

    def offsets(times: list[tuple[str, datetime]]) -> list[tuple[str, timedelta]]:
        return [(kind, at - times[0][1]) for kind, at in times]

    opened = datetime(2016, 8, 12, 8, 30, tzinfo=UTC)
    pinned = load("one", opened_at=opened)
    assert pinned == load("two", opened_at=opened)
    assert pinned[0] == ("Thread.Opened", opened)
    assert offsets(load("three")) == offsets(pinned)
    gaps = [at - pinned[0][1] for kind, at in pinned if kind == "Comment.Posted"]
    assert gaps == seed_schedule(seed_data()["comments"])


def _walk(tree: list[tuple]):
    for node in tree:
        yield node
        yield from _walk(node[2])


def run_cli(*args: str, url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DISCUSS_DATABASE_URL": url}
    return subprocess.run(
        [str(DISCUSS), *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_cli_init_db_and_load_demo(tmp_path):
    url = f"sqlite:///{tmp_path}/cli/discuss.db"
    thread_id = Thread.id_for_key(DEMO_KEY)

    init = run_cli("init-db", url=url)
    assert (init.returncode, init.stdout, init.stderr) == (0, "initialised sqlite store\n", "")

    load = run_cli("load-demo", url=url)
    assert load.returncode == 0, load.stderr
    assert load.stdout == f"demo thread {thread_id}: loaded 28 comments\n"

    again = run_cli("load-demo", url=url)
    assert again.returncode == 0, again.stderr
    assert again.stdout == f"demo thread {thread_id}: already loaded\n"

    # A domain error: one clear line on stderr, exit code 1, no traceback.
    taken = run_cli("open-thread", "Again", "--key", DEMO_KEY, url=url)
    assert taken.returncode == 1
    assert taken.stdout == ""
    assert taken.stderr == f"error: a thread with key {DEMO_KEY!r} exists already\n"

    app = open_application(Database.from_url(url))
    try:
        assert stored_tree(app, thread_id) == file_tree(seed_data()["comments"])
        assert app.get_thread(thread_id).title == seed_data()["title"]
    finally:
        app.close()
