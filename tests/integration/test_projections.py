"""The read models against real stores (SQLite and PostgreSQL): what a reader sees.

Every test runs on both backends (the `database` fixture is parametrised). Events are
recorded through the application's commands, with explicit times where the test
checks times or orders, then the projections catch up and the queries are checked.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from domain.model import MODERATOR, OPERATOR_ID
from projections import queries
from projections.engine import iso
from projections.queries import REMOVED_BY_MODERATOR, RETRACTED_BY_AUTHOR, NotInView, PageRequest
from projections.registry import build_engine
from projections.setup import open_application
from tests.support import opened
from tests.support.databases import new_database
from tests.support.views import catch_up

T0 = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def engine(app, database):
    engine = build_engine(app, database)
    yield engine
    engine.store.close()


@pytest.fixture
def people(app):
    return make_people(app)


def post(app, who, thread_id, text, parent=None, seconds=0.0):
    return app.post_comment(who, thread_id, text, parent_id=parent, at=at(seconds)).comment_id


def by_id(nodes, found=None):
    """Every node of a nested comment list, by id."""
    found = {} if found is None else found
    for node in nodes:
        found[node["id"]] = node
        by_id(node["replies"], found)
    return found


def make_people(app):
    return {
        "ann": app.register_author("Ann", at=at(0)).author_id,
        "bob": app.register_author("Bob", at=at(0.5)).author_id,
        "mo": app.register_author("Mo", role=MODERATOR, at=at(0.7)).author_id,
    }


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def shared(request, tmp_path_factory):
    """One database per backend for the read-only tests: the tree, caught up."""
    with new_database(request.param, tmp_path_factory.mktemp("shared")) as database:
        application = open_application(database)
        engine = build_engine(application, database)
        people = make_people(application)
        ids = make_tree(application, people)
        catch_up(engine)
        yield SimpleNamespace(app=application, engine=engine, people=people, tree=ids)
        engine.store.close()
        application.close()


@pytest.fixture
def tree(app, people):
    return make_tree(app, people)


def make_tree(app, people):
    """A thread with three top-level comments and a chain of replies 5 deep:

    c1 (ann) ── r1 (bob) ── r2 (ann, retracted) ── r3 ── r4 ── r5
       └─ r1b (bob, hidden, edited while hidden, then restored)
    c2 (bob, edited twice)
    c3 (ann, hidden, restored)
    """
    ann, bob, mo = people["ann"], people["bob"], people["mo"]
    thread_id = app.open_thread(OPERATOR_ID, "Tree", key="pages/tree", at=at(1)).thread_id
    ids = {"thread": thread_id}
    ids["c1"] = post(app, ann, thread_id, "first", seconds=2)
    ids["c2"] = post(app, bob, thread_id, "second", seconds=3)
    ids["c3"] = post(app, ann, thread_id, "third", seconds=4)
    parent = ids["c1"]
    for depth in range(1, 6):
        who = bob if depth % 2 else ann
        parent = ids[f"r{depth}"] = post(app, who, thread_id, f"reply {depth}", parent, 4 + depth)
    ids["r1b"] = post(app, bob, thread_id, "another reply", ids["c1"], seconds=11)
    app.edit_comment(bob, ids["c2"], "second, edited", at=at(12))
    app.edit_comment(bob, ids["c2"], "second, edited again", reason="typo", at=at(13))
    app.retract_comment(ann, ids["r2"], reason="regret", at=at(14))
    app.hide_comment(mo, ids["c3"], "off topic", at=at(15))
    app.restore_comment(mo, ids["c3"], "on reflection, fine")
    app.hide_comment(mo, ids["r1b"], "rude", at=at(16))
    app.edit_comment(mo, ids["r1b"], "another reply (moderated)", at=at(17))
    return ids


def test_thread_row_counts_and_flags(shared):
    app, engine, tree = shared.app, shared.engine, shared.tree
    row = queries.thread_row(engine, str(tree["thread"]))
    assert (row["title"], row["thread_key"], row["locked"]) == ("Tree", "pages/tree", 0)
    assert row["comment_count"] == 9
    # r2 retracted, r1b hidden (c3 was restored): 7 visible
    assert row["visible_count"] == 7
    assert row["top_level_count"] == 3
    assert row["opened_at"] == iso(at(1))
    # The latest event time, not the last event's: c3 was restored "now" (no explicit
    # time) before the events dated in 2024 that follow it in the log.
    t = engine.tables("revisions")
    restored_at = (
        engine.store.reader()
        .execute(
            f"SELECT at FROM {t.revisions} WHERE comment_id = ? AND kind = 'restored'",
            (str(tree["c3"]),),
        )
        .scalar()
    )
    assert restored_at > iso(at(17))
    assert row["last_activity_at"] == restored_at
    assert row["last_position"] == app.head_position()
    assert queries.thread_id_for_key(engine, "pages/tree") == str(tree["thread"])
    with pytest.raises(NotInView):
        queries.thread_id_for_key(engine, "pages/none")
    with pytest.raises(NotInView):
        queries.thread_row(engine, "00000000-0000-0000-0000-000000000000")


def test_public_page_states_placeholders_and_counts(shared):
    engine, tree, people = shared.engine, shared.tree, shared.people
    page = queries.thread_page(engine, str(tree["thread"]), PageRequest())
    assert page["thread"]["comment_count"] == 9
    assert [c["id"] for c in page["comments"]] == [str(tree[k]) for k in ("c1", "c2", "c3")]
    nodes = by_id(page["comments"])
    assert len(nodes) == 9 == page["page"]["comments_on_page"]
    c1, c2, c3 = (nodes[str(tree[k])] for k in ("c1", "c2", "c3"))
    # counts
    assert (c1["reply_count"], c1["descendant_count"]) == (2, 6)
    assert [r["id"] for r in c1["replies"]] == [str(tree["r1"]), str(tree["r1b"])]
    chain = [nodes[str(tree[f"r{d}"])] for d in range(1, 6)]
    assert [n["depth"] for n in chain] == [1, 2, 3, 4, 5]
    assert [(n["reply_count"], n["descendant_count"]) for n in chain] == [
        (1, 4),
        (1, 3),
        (1, 2),
        (1, 1),
        (0, 0),
    ]
    assert chain[-1]["text"] == "reply 5" and chain[-1]["author"]["name"] == "Bob"
    # edits
    assert c2["text"] == "second, edited again"
    assert (c2["edited"], c2["edit_count"], c2["last_edited_at"]) == (True, 2, iso(at(13)))
    assert (c1["edited"], c1["edit_count"], c1["last_edited_at"]) == (False, 0, None)
    assert c2["version"] == 3
    # retracted: a placeholder with no text and no author, its reply keeps its place
    r2 = nodes[str(tree["r2"])]
    assert (r2["state"], r2["text"], r2["author"]) == ("retracted", None, None)
    assert r2["placeholder"] == RETRACTED_BY_AUTHOR and r2["state_reason"] == "regret"
    assert [r["id"] for r in r2["replies"]] == [str(tree["r3"])]
    # hidden: the public sees the moderator's placeholder, not the text, author or reason
    r1b = nodes[str(tree["r1b"])]
    assert (r1b["state"], r1b["text"], r1b["author"]) == ("hidden", None, None)
    assert r1b["placeholder"] == REMOVED_BY_MODERATOR and r1b["state_reason"] is None
    assert r1b["edit_count"] == 1
    # restored: text and author are back
    assert (c3["state"], c3["text"], c3["author"]["name"]) == ("visible", "third", "Ann")
    assert c3["placeholder"] is None
    assert c3["author"]["id"] == str(people["ann"])


def test_moderators_see_hidden_text_and_author(app, engine, tree, people):
    catch_up(engine)
    page = queries.thread_page(engine, str(tree["thread"]), PageRequest(moderator=True))
    r1b = by_id(page["comments"])[str(tree["r1b"])]
    assert r1b["state"] == "hidden" and r1b["placeholder"] == REMOVED_BY_MODERATOR
    assert r1b["text"] == "another reply (moderated)"  # edited while hidden
    assert r1b["author"] == {"id": str(people["bob"]), "name": "Bob", "role": "member"}
    assert r1b["state_reason"] == "rude"
    # and once restored, everyone sees the edited text with its author
    app.restore_comment(people["mo"], tree["r1b"], None)
    catch_up(engine)
    public = by_id(queries.thread_page(engine, str(tree["thread"]), PageRequest())["comments"])
    assert public[str(tree["r1b"])]["text"] == "another reply (moderated)"
    assert public[str(tree["r1b"])]["author"]["name"] == "Bob"
    assert queries.thread_row(engine, str(tree["thread"]))["visible_count"] == 8


def test_lock_unlock_and_retitle(app, engine, tree):
    app.lock_thread(OPERATOR_ID, tree["thread"], "cooling off", at=at(20))
    catch_up(engine)
    assert queries.thread_row(engine, str(tree["thread"]))["locked"] == 1
    assert queries.thread_page(engine, str(tree["thread"]), PageRequest())["thread"]["locked"]
    app.unlock_thread(OPERATOR_ID, tree["thread"])
    app.retitle_thread(OPERATOR_ID, tree["thread"], "Tree, renamed")
    catch_up(engine)
    row = queries.thread_row(engine, str(tree["thread"]))
    assert (row["locked"], row["title"]) == (0, "Tree, renamed")
    assert row["last_position"] == app.head_position()


def test_depth_cut_offs_and_more_replies_markers(shared):
    engine, tree = shared.engine, shared.tree
    page = queries.thread_page(engine, str(tree["thread"]), PageRequest(depth=2))
    nodes = by_id(page["comments"])
    assert str(tree["r3"]) not in nodes  # depth 3 > 2
    r2 = nodes[str(tree["r2"])]
    assert r2["replies"] == []
    assert r2["more_replies"] == {"replies": 1, "comments": 3, "continue_from": str(tree["r2"])}
    assert nodes[str(tree["r1"])]["more_replies"] is None
    # replies_limit: c1 has two replies; one is shown, the marker counts the rest
    page = queries.thread_page(engine, str(tree["thread"]), PageRequest(replies_limit=1))
    c1 = by_id(page["comments"])[str(tree["c1"])]
    assert [r["id"] for r in c1["replies"]] == [str(tree["r1"])]
    assert c1["more_replies"] == {"replies": 1, "comments": 1, "continue_from": str(tree["c1"])}
    # depth 0: only the top level, each with its marker
    page = queries.thread_page(engine, str(tree["thread"]), PageRequest(depth=0))
    assert page["page"]["comments_on_page"] == 3
    c1 = page["comments"][0]
    assert c1["more_replies"] == {"replies": 2, "comments": 6, "continue_from": str(tree["c1"])}


def test_comment_subtree(shared):
    engine, tree = shared.engine, shared.tree
    sub = queries.comment_subtree(engine, str(tree["r2"]), PageRequest(depth=1))
    assert sub["thread"]["id"] == str(tree["thread"])
    node = sub["comment"]
    assert (node["id"], node["state"], node["text"]) == (str(tree["r2"]), "retracted", None)
    r3 = node["replies"][0]
    assert r3["id"] == str(tree["r3"])
    r4 = r3["replies"][0]
    assert r4["id"] == str(tree["r4"]) and r4["replies"] == []
    assert r4["more_replies"] == {"replies": 1, "comments": 1, "continue_from": str(tree["r4"])}
    assert sub["page"] == {"next_cursor": None, "remaining_replies": 0, "comments_on_page": 2}
    # a page of direct replies
    sub = queries.comment_subtree(engine, str(tree["c1"]), PageRequest(limit=1, depth=0))
    assert [r["id"] for r in sub["comment"]["replies"]] == [str(tree["r1"])]
    assert sub["page"]["remaining_replies"] == 1
    cursor = sub["page"]["next_cursor"]
    sub = queries.comment_subtree(
        engine, str(tree["c1"]), PageRequest(limit=1, depth=0, cursor=cursor)
    )
    assert [r["id"] for r in sub["comment"]["replies"]] == [str(tree["r1b"])]
    assert sub["page"] == {"next_cursor": None, "remaining_replies": 0, "comments_on_page": 1}
    with pytest.raises(NotInView):
        queries.comment_subtree(engine, "00000000-0000-0000-0000-000000000000", PageRequest())


@pytest.mark.parametrize("sort", ["oldest", "newest"])
def test_keyset_pagination_with_remaining_counts(app, engine, people, sort):
    thread_id = app.open_thread(OPERATOR_ID, "Pages").thread_id
    tops = [post(app, people["ann"], thread_id, f"top {i}", seconds=i) for i in range(7)]
    post(app, people["bob"], thread_id, "a reply", tops[3], seconds=8)
    catch_up(engine)
    expected = [str(c) for c in (tops if sort == "oldest" else tops[::-1])]
    seen, remaining, cursor = [], [], None
    while True:
        page = queries.thread_page(
            engine, str(thread_id), PageRequest(limit=3, cursor=cursor, sort=sort)
        )
        seen += [c["id"] for c in page["comments"]]
        remaining.append(page["page"]["remaining_top_level"])
        cursor = page["page"]["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    assert remaining == [4, 1, 0]
    # replies stay under their comment whatever the sort
    nodes = by_id(queries.thread_page(engine, str(thread_id), PageRequest(sort=sort))["comments"])
    assert [r["text"] for r in nodes[str(tops[3])]["replies"]] == ["a reply"]


def test_list_threads_ordering_and_cursor(app, engine, people):
    opened = [app.open_thread(OPERATOR_ID, f"Thread {i}", at=at(i)).thread_id for i in range(5)]
    post(app, people["ann"], opened[1], "bump", seconds=30)  # thread 1 is now the latest
    catch_up(engine)
    first = queries.list_threads(engine, limit=2)
    titles = [t["title"] for t in first["threads"]]
    assert titles == ["Thread 1", "Thread 4"]
    assert first["threads"][0]["comment_count"] == 1
    second = queries.list_threads(engine, limit=2, cursor=first["next_cursor"])
    third = queries.list_threads(engine, limit=2, cursor=second["next_cursor"])
    assert [t["title"] for t in second["threads"]] == ["Thread 3", "Thread 2"]
    assert [t["title"] for t in third["threads"]] == ["Thread 0"]
    assert third["next_cursor"] is None


def test_revisions_rows(shared):
    engine, tree, people = shared.engine, shared.tree, shared.people
    t = engine.tables("revisions")
    rows = (
        engine.store.reader()
        .execute(
            f"SELECT version, kind, text, actor_id, at, reason, position FROM {t.revisions}"
            " WHERE comment_id = ? ORDER BY version",
            (str(tree["r1b"]),),
        )
        .all()
    )
    app = engine.app
    assert [(r["version"], r["kind"], opened(app, r["text"])) for r in rows] == [
        (1, "posted", "another reply"),
        (2, "hidden", None),
        (3, "edited", "another reply (moderated)"),
    ]
    assert opened(app, rows[1]["reason"]) == "rude" and rows[1]["actor_id"] == str(people["mo"])
    assert rows[0]["at"] == iso(at(11))
    assert [r["position"] for r in rows] == sorted(r["position"] for r in rows)
    kinds = (
        engine.store.reader()
        .execute(f"SELECT kind, COUNT(*) AS n FROM {t.revisions} GROUP BY kind ORDER BY kind")
        .all()
    )
    assert {r["kind"]: r["n"] for r in kinds} == {
        "posted": 9,
        "edited": 3,
        "retracted": 1,
        "hidden": 2,
        "restored": 1,
    }


def test_author_activity_counts(shared):
    engine = shared.engine
    t = engine.tables("authors")
    every = engine.store.reader().execute(f"SELECT * FROM {t.authors}").all()
    rows = {opened(engine.app, r["name"]): r for r in every}
    assert (rows["Ann"]["comments_posted"], rows["Ann"]["retractions"]) == (4, 1)
    assert (rows["Bob"]["comments_posted"], rows["Bob"]["edits_made"]) == (5, 2)
    assert (rows["Mo"]["comments_posted"], rows["Mo"]["edits_made"]) == (0, 1)
    assert rows["Mo"]["role"] == MODERATOR
    assert rows["Bob"]["last_active_at"] == iso(at(13))


def test_page_boundaries_do_not_change_the_result(app, engine, tree):
    """Applying one event per transaction gives the same rows as one big page."""
    from projections.rebuild import plan
    from tests.support.workload import dump

    catch_up(engine)
    for name in ("threads", "revisions", "authors"):
        generation = plan(engine, name).generation
        engine.catch_up(name, generation=generation, page_size=1)
        assert dump(engine, name, generation) == dump(engine, name)


def test_the_fast_decoder_builds_the_mappers_events(shared):
    """projections/decoding.py parses with orjson; it must give the mapper's objects."""
    from projections.decoding import EventDecoder

    app = shared.app
    decoder = EventDecoder(app.mapper)
    assert decoder.fast
    notifications = app.recorder.select_notifications(start=1, limit=10_000)
    assert len(notifications) >= 20
    kinds = set()
    for notification in notifications:
        fast, slow = decoder.decode(notification), app.mapper.to_domain_event(notification)
        assert type(fast) is type(slow)
        assert vars(fast) == vars(slow)
        assert {k: type(v) for k, v in vars(fast).items()} == {
            k: type(v) for k, v in vars(slow).items()
        }
        kinds.add(type(fast).__qualname__)
    assert {"Author.Registered", "Thread.Opened", "Comment.Posted", "Comment.Edited"} <= kinds
    assert {"Comment.Retracted", "Comment.Hidden", "Comment.Restored"} <= kinds
