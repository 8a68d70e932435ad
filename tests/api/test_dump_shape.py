"""The thread and comment reads dump the query layer's dicts with orjson directly,
without marshmallow (web/api/threads.py, web/api/comments.py): this pins that the
schemas, which stay the contract (and the OpenAPI document), dump those dicts to the
very same bytes, for every state a comment can be in and every kind of page."""

from __future__ import annotations

import orjson
import pytest

from domain.model import OPERATOR_ID
from projections import queries
from projections.queries import PageRequest
from projections.registry import build_engine
from tests.integration.test_projections import at, make_people, make_tree
from tests.support.views import catch_up
from web.schemas import CommentPage, ThreadPage

REQUESTS = [
    PageRequest(),
    PageRequest(moderator=True),
    PageRequest(limit=1),
    PageRequest(limit=2, sort="newest"),
    PageRequest(depth=0),
    PageRequest(depth=2, moderator=True),
    PageRequest(replies_limit=1),
]


@pytest.fixture
def engine(app, database):
    engine = build_engine(app, database)
    yield engine
    engine.store.close()


def same_bytes(schema, page) -> bool:
    return orjson.dumps(schema.dump(page)) == orjson.dumps(page)


def test_thread_pages_are_what_the_schema_dumps(app, engine):
    people = make_people(app)
    tree = make_tree(app, people)
    bare = app.open_thread(OPERATOR_ID, "No key, no body", at=at(20)).thread_id
    app.lock_thread(people["mo"], bare, "closed")
    catch_up(engine)
    for thread_id in (tree["thread"], bare):
        for req in REQUESTS:
            page = queries.thread_page(engine, str(thread_id), req)
            assert same_bytes(ThreadPage(), page), req
            if page["page"]["next_cursor"] is not None:
                after = PageRequest(limit=req.limit, cursor=page["page"]["next_cursor"])
                assert same_bytes(ThreadPage(), queries.thread_page(engine, str(thread_id), after))


def test_comment_pages_are_what_the_schema_dumps(app, engine):
    tree = make_tree(app, make_people(app))
    catch_up(engine)
    for name in ("c1", "r1", "r2", "r1b", "c3", "r5"):
        for req in REQUESTS:
            page = queries.comment_subtree(engine, str(tree[name]), req)
            assert same_bytes(CommentPage(), page), (name, req)


def test_the_first_pages_rest_is_counted_with_retracted_and_hidden_tops(app, engine):
    """page_of_thread takes the first page's remaining_top_level from the thread's
    count (no COUNT query): it must match the rows, whatever their state."""
    people = make_people(app)
    tree = make_tree(app, people)  # c3 was hidden and restored
    app.retract_comment(people["ann"], tree["c1"], reason="gone")
    app.hide_comment(people["mo"], tree["c2"], "off topic")
    catch_up(engine)
    rows = queries.SqlRows(engine)
    for sort in ("oldest", "newest"):
        for limit in (1, 2):
            req = PageRequest(limit=limit, sort=sort)
            page = queries.thread_page(engine, str(tree["thread"]), req)
            last = page["page"]["next_cursor"]
            counted = rows.remaining(str(tree["thread"]), None, last, req)
            assert page["page"]["remaining_top_level"] == counted == 3 - limit


def test_past_thread_pages_are_what_the_schema_dumps(app, engine):
    """The as-of read dumps with orjson too (web/api/history.py), at every position."""
    from projections import time_travel
    from web.schemas_history import ThreadAsOfPage

    tree = make_tree(app, make_people(app))
    engine.catch_up_all()  # time travel and today's decisions too
    thread_id = str(tree["thread"])
    opened = time_travel.thread_span(engine, thread_id)["opened_position"]
    for position in range(opened, app.head_position() + 1):
        for req in REQUESTS:
            page = time_travel.thread_page_as_of(engine, thread_id, req, position)
            assert same_bytes(ThreadAsOfPage(), page), (position, req)
