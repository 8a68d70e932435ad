"""Reads across a rebuild's switch (projections/rebuild.py): the web keeps the thread
view's generation it saw last as a hint (web/api/reads.py) and checks it in the same
statement as the thread's row. A switch is picked up by the next read, a dropped
generation never yields an error, and ETags and read-your-writes hold across it."""

from __future__ import annotations

import pytest

from projections.rebuild import rebuild
from tests.api.conftest import API, post
from web.api import reads


@pytest.fixture
def engine(flask_app):
    return flask_app.extensions["discuss"].services.engine


@pytest.mark.parametrize("drop", [False, True], ids=["old-kept", "old-dropped"])
def test_reads_follow_a_rebuild_switch(client, engine, thread, member, drop):
    first = post(client, member, thread["id"], "before the rebuild")
    thread_url = f"{API}/threads/{thread['id']}"
    comment_url = f"{API}/comments/{first['comment']}"
    before = client.get(thread_url, query_string={"min_position": first["position"]})
    before_comment = client.get(comment_url)
    assert before.status_code == before_comment.status_code == 200

    done = rebuild(engine, "threads", grace=0, drop=drop)
    assert done.generation == done.old_generation + 1
    assert reads._serving_hint[engine] == done.old_generation  # what the next read checks

    # The hint still names the old generation: the read notices the switch (or, once
    # the old tables are gone, the missing table) and answers from the new tables.
    after = client.get(thread_url, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200, after.json
    assert after.json == before.json
    assert after.headers["ETag"] != before.headers["ETag"]  # other tables, other bytes' key
    after_comment = client.get(comment_url)
    assert after_comment.status_code == 200, after_comment.json
    assert after_comment.json == before_comment.json

    # Writes after the switch are read back from the new generation.
    second = post(client, member, thread["id"], "after the rebuild")
    read = client.get(thread_url, query_string={"min_position": second["position"]})
    assert read.status_code == 200
    assert [c["text"] for c in read.json["comments"]] == [
        "before the rebuild",
        "after the rebuild",
    ]
    unchanged = client.get(thread_url, headers={"If-None-Match": read.headers["ETag"]})
    assert unchanged.status_code == 304
