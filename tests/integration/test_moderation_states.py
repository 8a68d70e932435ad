"""Comments held for review (issue 13): the states as events, and every view of them.

A comment held before it was ever approved is absent for readers (no placeholder, not
counted) on the live thread page, as of any position, in the history and the audit;
its author and moderators see it in the record. An approved comment whose edit is held
shows readers the approved revision until the edit is approved. The live rows, the
rows rebuilt in memory and the time-travel checkpoints agree at every position.
"""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import AwaitingReview, CommentRejected, NotPending, PermissionDenied
from domain.model import MODERATOR, OPERATOR, OPERATOR_ID, Comment
from domain.settings import Database
from projections import history, queries, time_travel
from projections.db import ViewStore
from projections.engine import Engine
from projections.queries import PageRequest
from projections.registry import all_projections
from projections.time_travel import ThreadState, TimeTravel
from projections.visibility import ANONYMOUS, Viewer
from tests.support.views import live_rows

LINKS = "see http://a.example http://b.example http://c.example"


def make_engine(app, database: Database, k: int) -> Engine:
    projections = [
        TimeTravel(checkpoint_every=k) if p.name == "time_travel" else p for p in all_projections()
    ]
    return Engine(app, ViewStore(database), projections)


def scenario(app) -> dict[str, Any]:
    ann = app.register_author("Ann").author_id
    bob = app.register_author("Bob").author_id
    mo = app.register_author("Mo", role=MODERATOR).author_id
    t1 = app.open_thread(OPERATOR_ID, "Held", key="held/one").thread_id
    c1 = app.post_comment(ann, t1, "first, published").comment_id
    held = app.post_comment(bob, t1, LINKS, held_by=["new-author", "links"]).comment_id
    reply = app.post_comment(bob, t1, "a reply held", parent_id=c1, held_by=["links"]).comment_id
    app.edit_comment(bob, held, LINKS + " (edited while held)")
    app.post_comment(ann, t1, "third, published")
    app.edit_comment(ann, c1, "first, edited with links", held_by=["links"])
    approved_at = app.approve_comment(mo, held, "fine").position
    rejected = app.post_comment(bob, t1, "spam spam", held_by=["words"]).comment_id
    app.reject_comment(mo, rejected, "spam")
    app.reject_comment(mo, c1, "no links please")
    app.edit_comment(ann, c1, "first, edited again, clean")
    app.post_comment(ann, t1, "a reply to the approved one", parent_id=held)
    # An import: a comment pending at the source, and a reply to it that waits with it.
    parent = Comment.post(thread_id=t1, parent_id=None, author_id=bob, text="imported, pending")
    parent.hold(["imported-pending"], OPERATOR)
    child = Comment.post(thread_id=t1, parent_id=parent.id, author_id=ann, text="its reply")
    app.save(parent, child)
    app.post_comment(ann, t1, "after the import")
    app.approve_comment(mo, parent.id)
    return {
        "thread": str(t1),
        "ann": ann,
        "bob": bob,
        "mo": mo,
        "c1": str(c1),
        "held": str(held),
        "reply": str(reply),
        "rejected": str(rejected),
        "approved_at": approved_at,
        "imported": str(parent.id),
        "imported_reply": str(child.id),
    }


def held_rows(engine: Engine, thread_id: str) -> dict[str, tuple[dict, bool]]:
    import orjson

    t = engine.tables("threads")
    rows = engine.store.reader().execute(f"SELECT * FROM {t.held}").all()
    found = {}
    for r in rows:
        row = orjson.loads(r["row_json"])
        if row["thread_id"] == thread_id:
            found[r["comment_id"]] = (row, bool(r["held"]))
    return found


REQUESTS = [PageRequest(), PageRequest(moderator=True), PageRequest(limit=1, depth=0)]


def test_live_rebuilt_and_as_of_agree_at_every_position(app, database):
    ids = scenario(app)
    thread_id = ids["thread"]
    engine = make_engine(app, database, k=3)
    for name in ("time_travel", "decisions", "revisions"):
        engine.catch_up(name)
    head = app.head_position()
    notifications = app.recorder.select_notifications(start=1, limit=head)
    events = [(n.id, engine.decoder.decode(n)) for n in notifications]
    for position in range(1, head + 1):
        engine.catch_up("threads", page_size=1, max_pages=1)
        scratch = ThreadState(thread_id)
        for p, event in events[:position]:
            scratch.apply(event, p)
        live = live_rows(engine, thread_id)
        if live[0] is None:
            continue
        # The live rows (one event at a time), the rows rebuilt from nothing and the
        # checkpoints + replay agree, the rows kept out for review too.
        assert scratch.thread == live[0] and scratch.comment_rows() == live[1], position
        assert held_rows(engine, thread_id) == scratch.held, position
        stored = time_travel.state_at(engine, thread_id, position)
        assert stored.comment_rows() == live[1] and stored.thread == live[0], position
        assert stored.held == scratch.held, position
        for req in REQUESTS:
            page = time_travel.thread_page_as_of(engine, thread_id, req, position)
            page.pop("as_of")
            assert page == queries.thread_page(engine, thread_id, req), (position, req)
            assert ids["rejected"] not in _ids(page["comments"])
            assert ids["reply"] not in _ids(page["comments"])
    # At the end, the approved import is back with the reply that waited for it.
    page = queries.thread_page(engine, thread_id, PageRequest(depth=5))
    shown = _ids(page["comments"])
    assert ids["imported"] in shown and ids["imported_reply"] in shown
    assert page["thread"]["comment_count"] == len(shown)


def _ids(nodes: list[dict]) -> list[str]:
    return [n["id"] for n in nodes] + [i for n in nodes for i in _ids(n["replies"])]


def _texts(nodes: list[dict]) -> dict[str, str | None]:
    found = {n["id"]: n["text"] for n in nodes}
    for n in nodes:
        found.update(_texts(n["replies"]))
    return found


def test_readers_see_nothing_held_and_the_approved_revision_of_a_held_edit(app, database):
    ann = app.register_author("Ann").author_id
    bob = app.register_author("Bob").author_id
    mo = app.register_author("Mo", role=MODERATOR).author_id
    t = app.open_thread(OPERATOR_ID, "T", key="held/two").thread_id
    c1 = app.post_comment(ann, t, "plain words").comment_id
    held = app.post_comment(bob, t, LINKS, held_by=["links"]).comment_id
    engine = make_engine(app, database, k=100)
    engine.catch_up_all()
    page = queries.thread_page(engine, str(t), PageRequest())
    assert _ids(page["comments"]) == [str(c1)]
    assert page["thread"]["comment_count"] == 1 and page["thread"]["visible_count"] == 1
    # Not even a placeholder for moderators' pages: they see it in the queue.
    mod_page = queries.thread_page(engine, str(t), PageRequest(moderator=True))
    assert _ids(mod_page["comments"]) == [str(c1)]
    # A reply to a comment awaiting review is refused (nobody else can see it).
    with pytest.raises(AwaitingReview):
        app.post_comment(ann, t, "reply", parent_id=held)

    # An approved comment edited into links: readers keep the approved revision.
    app.edit_comment(ann, c1, "now with " + LINKS, held_by=["links"])
    engine.catch_up_all()
    page = queries.thread_page(engine, str(t), PageRequest())
    assert _texts(page["comments"]) == {str(c1): "plain words"}
    mod_page = queries.thread_page(engine, str(t), PageRequest(moderator=True))
    assert _texts(mod_page["comments"])[str(c1)] == "now with " + LINKS

    # History: the reader sees the approved revision, the pending one withheld; the
    # author and moderators see both.
    assert _readable(engine, c1, ANONYMOUS) == ["plain words", None]
    assert _readable(engine, c1, Viewer(str(ann))) == ["plain words", "now with " + LINKS]
    # The held comment's whole record: its author and moderators only; unknown to others.
    with pytest.raises(history.UnknownComment):
        _readable(engine, held, ANONYMOUS)
    with pytest.raises(history.UnknownComment):
        _readable(engine, held, Viewer(str(ann)))
    assert _readable(engine, held, Viewer(str(bob))) == [LINKS]
    assert _readable(engine, held, Viewer(str(mo), True)) == [LINKS]
    assert (
        history.comment_history(engine, str(held), Viewer(str(bob)), restricted=False)["state"]
        == "pending"
    )

    # Approved: everyone sees the comment and the new revision.
    app.approve_comment(mo, c1)
    app.approve_comment(mo, held, "ok")
    engine.catch_up_all()
    page = queries.thread_page(engine, str(t), PageRequest())
    assert _texts(page["comments"]) == {str(c1): "now with " + LINKS, str(held): LINKS}
    assert page["thread"]["comment_count"] == 2
    assert _readable(engine, held, ANONYMOUS) == [LINKS]


def _readable(engine: Engine, comment_id, viewer: Viewer) -> list[str | None]:
    record = history.comment_history(engine, str(comment_id), viewer, restricted=False)
    return [e["text"] for e in record["entries"] if e["kind"] in ("posted", "edited")]


def test_review_decisions_and_their_refusals(app):
    ann = app.register_author("Ann").author_id
    mo = app.register_author("Mo", role=MODERATOR).author_id
    t = app.open_thread(OPERATOR_ID, "T").thread_id
    c = app.post_comment(ann, t, "plain").comment_id
    head = app.head_position()
    with pytest.raises(NotPending):
        app.approve_comment(mo, c)
    with pytest.raises(NotPending):
        app.reject_comment(mo, c, "no")
    held = app.post_comment(ann, t, LINKS, held_by=["links"]).comment_id
    head = app.head_position()
    with pytest.raises(PermissionDenied):
        app.approve_comment(ann, held)
    assert app.head_position() == head
    app.reject_comment(mo, held, "spam")
    with pytest.raises(NotPending):
        app.approve_comment(mo, held)
    with pytest.raises(CommentRejected):
        app.edit_comment(ann, held, "let me try again")
    # An import brings a comment in pending: the hold names the rule.
    imported = app.post_comment(
        OPERATOR_ID, t, "from the old site", author_id=ann, held_by=["imported-pending"]
    )
    comment = app.get_comment(imported.comment_id)
    assert comment.awaiting_review and comment.unpublished
