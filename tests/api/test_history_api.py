"""The audit trail and time travel API: comment history and diffs (with the history
policy), a thread as of a position or a moment (immutable permalinks), a thread's
timeline and changes, the audit log (moderators) and the hash chain's head.

Most tests run on SQLite only (the SQL underneath is covered on both backends by
tests/integration/test_audit.py and test_time_travel.py); the history and the as-of
reads run on PostgreSQL too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.model import OPERATOR_ID
from projections import hash_chain
from tests.api.conftest import API, Caller, assert_error

SQLITE_ONLY = pytest.mark.parametrize("database", ["sqlite"], indirect=True)
IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass
class Story:
    thread: str
    c1: str  # Ada's comment, edited twice (versions 1..3)
    c2: str  # Brian's reply, hidden by Mo
    c3: str  # Brian's comment, retracted
    positions: dict[str, int]
    head: int


@pytest.fixture
def story(app, member: Caller, other_member: Caller, moderator: Caller) -> Story:
    p: dict[str, int] = {}
    opened = app.open_thread(moderator.id, "History", key="history/1", body="The post.")
    t = opened.thread_id
    p["opened"] = opened.position
    c1 = app.post_comment(member.id, t, "first version")
    p["c1"] = c1.position
    p["edit1"] = app.edit_comment(
        member.id, c1.comment_id, "second version", reason="typo"
    ).position
    c2 = app.post_comment(other_member.id, t, "something rude", parent_id=c1.comment_id)
    p["c2"] = c2.position
    p["edit2"] = app.edit_comment(
        member.id, c1.comment_id, "third version\nwith a new line"
    ).position
    p["hide"] = app.hide_comment(moderator.id, c2.comment_id, "rude").position
    c3 = app.post_comment(other_member.id, t, "will be retracted")
    p["c3"] = c3.position
    p["retract"] = app.retract_comment(other_member.id, c3.comment_id, "oops").position
    return Story(
        str(t), str(c1.comment_id), str(c2.comment_id), str(c3.comment_id), p, p["retract"]
    )


def get(client, path: str, caller: Caller | None = None, story: Story | None = None, **query):
    if story is not None:
        query.setdefault("min_position", story.head)
    headers = caller.headers if caller else {}
    return client.get(f"{API}{path}", query_string=query, headers=headers)


# ---- comment history -----------------------------------------------------------------------


def test_history_lists_every_revision_and_change(client, story, member, moderator):
    response = get(client, f"/comments/{story.c1}/history", story=story)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["comment_id"] == story.c1 and body["thread_id"] == story.thread
    assert body["author"] == {"id": str(member.id), "name": member.name}
    assert (body["state"], body["text_withheld"], body["revisions"]) == ("visible", False, 3)
    assert [(e["version"], e["kind"], e["text"], e["reason"]) for e in body["entries"]] == [
        (1, "posted", "first version", None),
        (2, "edited", "second version", "typo"),
        (3, "edited", "third version\nwith a new line", None),
    ]
    assert [e["position"] for e in body["entries"]] == [
        story.positions["c1"],
        story.positions["edit1"],
        story.positions["edit2"],
    ]
    assert body["entries"][1]["actor"] == {"id": str(member.id), "name": member.name}
    assert response.headers["ETag"]
    again = client.get(
        f"{API}/comments/{story.c1}/history", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304

    retracted = get(client, f"/comments/{story.c3}/history", story=story).json
    assert retracted["state"] == "retracted"
    assert [(e["kind"], e["reason"]) for e in retracted["entries"]] == [
        ("posted", None),
        ("retracted", "oops"),
    ]
    # A retracted comment's texts are for its author and moderators only (issue 11).
    assert retracted["entries"][0]["text"] is None
    assert retracted["entries"][0]["withheld"].startswith("retracted by its author on ")
    assert retracted["entries"][1]["text"] is None


@SQLITE_ONLY
def test_hidden_texts_and_reasons_are_for_moderators(client, story, member, moderator):
    for caller in (None, member):
        body = get(client, f"/comments/{story.c2}/history", caller, story=story).json
        assert body["state"] == "hidden" and body["text_withheld"] is True
        assert [e["text"] for e in body["entries"]] == [None, None]
        assert body["entries"][1] == {
            **body["entries"][1],
            "kind": "hidden",
            "reason": None,
            "actor": {"id": str(moderator.id), "name": moderator.name},
        }
        error = assert_error(
            get(client, f"/comments/{story.c2}/diff", caller, story=story), 403, "permission_denied"
        )
        assert "moderators only" in error["message"]
    body = get(client, f"/comments/{story.c2}/history", moderator, story=story).json
    assert body["text_withheld"] is False
    assert [e["text"] for e in body["entries"]] == ["something rude", None]
    assert body["entries"][1]["reason"] == "rude"
    assert get(client, f"/comments/{story.c2}/diff", moderator, story=story).status_code == 200


@SQLITE_ONLY
def test_a_comment_retracted_while_hidden_keeps_its_texts_withheld(
    client, app, story, other_member, moderator
):
    retracted = app.retract_comment(other_member.id, UUID(story.c2), "sorry")
    body = get(client, f"/comments/{story.c2}/history", min_position=retracted.position).json
    assert body["state"] == "retracted" and body["text_withheld"] is True
    assert all(e["text"] is None for e in body["entries"])
    moderators_view = get(client, f"/comments/{story.c2}/history", moderator).json
    assert moderators_view["entries"][0]["text"] == "something rude"


@SQLITE_ONLY
def test_restricted_policy_author_and_moderators_only(
    app_factory, story, member, other_member, moderator
):
    client = app_factory(history_policy="restricted").test_client()
    for path in (f"/comments/{story.c1}/history", f"/comments/{story.c1}/diff"):
        error = assert_error(get(client, path, story=story), 403, "permission_denied")
        assert "author and moderators only" in error["message"]
        assert_error(get(client, path, other_member, story=story), 403, "permission_denied")
        assert get(client, path, member, story=story).status_code == 200
        ok = get(client, path, moderator, story=story)
        assert ok.status_code == 200
        assert ok.headers["Cache-Control"].startswith("private")


@SQLITE_ONLY
def test_unknown_comments_are_404(client, story):
    missing = uuid4()
    for path in (f"/comments/{missing}/history", f"/comments/{missing}/diff"):
        error = assert_error(get(client, path, story=story), 404, "not_found")
        assert str(missing) in error["message"]
    assert_error(get(client, "/comments/not-a-uuid/history"), 404)


# ---- diffs ---------------------------------------------------------------------------------


@SQLITE_ONLY
def test_diff_between_versions(client, story):
    body = get(client, f"/comments/{story.c1}/diff", story=story).json
    assert (body["from"]["version"], body["to"]["version"]) == (2, 3)
    assert "-second version\n" in body["unified"]
    assert "+third version\n" in body["unified"]
    assert "--- version 2" in body["unified"]
    assert "".join(s["text"] for s in body["spans"] if s["op"] != "insert") == "second version"
    assert "".join(s["text"] for s in body["spans"] if s["op"] != "delete") == (
        "third version\nwith a new line"
    )
    assert body["from"]["reason"] == "typo"

    explicit = get(client, f"/comments/{story.c1}/diff", story=story, **{"from": 1, "to": 2}).json
    assert explicit["spans"] == [
        {"op": "delete", "text": "first "},
        {"op": "insert", "text": "second "},
        {"op": "equal", "text": "version"},
    ]
    same = get(client, f"/comments/{story.c1}/diff", story=story, **{"from": 3, "to": 3}).json
    assert same["unified"] == "" and same["spans"] == [
        {"op": "equal", "text": "third version\nwith a new line"}
    ]


@SQLITE_ONLY
def test_diff_errors_name_the_field(client, story):
    path = f"/comments/{story.c1}/diff"
    error = assert_error(get(client, path, story=story, to=9), 404, "not_found")
    assert "to" in error["fields"] and "no version 9" in error["fields"]["to"][0]
    error = assert_error(get(client, path, story=story, **{"from": 7}), 404, "not_found")
    assert "from" in error["fields"]
    # Version 2 of the retracted comment is its retraction: no text to compare.
    error = assert_error(get(client, f"/comments/{story.c3}/diff", story=story, **{"from": 2}), 422)
    assert "change of state" in error["fields"]["from"][0]
    error = assert_error(get(client, path, story=story, to="two"), 422, "validation_failed")
    assert "to" in error["fields"]
    error = assert_error(get(client, path, story=story, **{"from": 0}), 422)
    assert "from" in error["fields"]
    error = assert_error(get(client, path, story=story, color="red"), 422)
    assert "color" in error["fields"]


# ---- a thread as of a position or a moment -------------------------------------------------


def _without_as_of(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "as_of"}


def test_thread_at_a_position(client, story):
    path = f"/threads/{story.thread}"
    at = story.positions["edit1"]
    response = get(client, path, story=story, at=at)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["as_of"]["position"] == at
    assert body["thread"]["position"] == at
    assert [(c["text"], c["version"]) for c in body["comments"]] == [("second version", 2)]
    # Past views apply today's decisions: never immutable, revalidated by ETag (issue 11).
    assert "immutable" not in response.headers["Cache-Control"]
    etag = response.headers["ETag"]
    # A position between two of the thread's events is the same view: same ETag.
    assert get(client, path, at=at).headers["ETag"] == etag
    assert (
        client.get(
            f"{API}{path}", query_string={"at": at}, headers={"If-None-Match": etag}
        ).status_code
        == 304
    )

    # At the head: the live page, plus as_of.
    live = get(client, path, story=story).json
    at_head = get(client, path, at=story.head).json
    assert _without_as_of(at_head) == live
    assert at_head["as_of"]["position"] == story.head
    # In the future: the latest state, not immutable.
    future = get(client, path, at=story.head + 1000)
    assert _without_as_of(future.json) == live
    assert future.headers["Cache-Control"] != IMMUTABLE
    assert "immutable" not in future.headers["Cache-Control"]

    # Before the thread existed: 404 with a clear message.
    error = assert_error(get(client, path, at=story.positions["opened"] - 1), 404, "not_found")
    assert "did not exist yet" in error["message"]
    assert f"opened at position {story.positions['opened']}" in error["message"]
    assert_error(get(client, f"/threads/{uuid4()}", at=5), 404, "not_found")


@SQLITE_ONLY
def test_as_of_pages_like_the_live_thread(client, story, moderator):
    path = f"/threads/{story.thread}"
    at = story.head
    for query in ({"limit": 1}, {"limit": 1, "sort": "newest"}, {"depth": 0}):
        live = get(client, path, story=story, **query).json
        past = get(client, path, at=at, **query).json
        assert _without_as_of(past) == live
        cursor = past["page"]["next_cursor"]
        if cursor is not None:
            live_next = get(client, path, cursor=cursor, **query).json
            past_next = get(client, path, at=at, cursor=cursor, **query).json
            assert _without_as_of(past_next) == live_next
    # Moderators see hidden texts as of then too, and the response is private.
    response = get(client, path, moderator, at=story.positions["hide"])
    reply = response.json["comments"][0]["replies"][0]
    assert (reply["state"], reply["text"]) == ("hidden", "something rude")
    assert response.headers["Cache-Control"].startswith("private")
    anonymous = get(client, path, at=story.positions["hide"]).json["comments"][0]["replies"][0]
    assert anonymous["text"] is None


def test_thread_as_of_a_moment(client, story):
    path = f"/threads/{story.thread}"
    timeline = get(client, f"/threads/{story.thread}/timeline", story=story).json["entries"]
    moments = {e["position"]: e["at"] for e in timeline}
    edit2_at = moments[story.positions["edit2"]]
    response = get(client, path, as_of=edit2_at)
    assert response.status_code == 200, response.json
    assert response.json["as_of"] == {"position": story.positions["edit2"], "at": edit2_at}
    assert response.json["comments"][0]["text"] == "third version\nwith a new line"
    assert "immutable" not in response.headers["Cache-Control"]  # never, since issue 11
    # The same view as the permalink by position.
    assert (
        response.headers["ETag"] == get(client, path, at=story.positions["edit2"]).headers["ETag"]
    )

    error = assert_error(get(client, path, as_of="2001-01-01T00:00:00Z"), 404, "not_found")
    assert "did not exist yet at 2001-01-01T00:00:00" in error["message"]
    future = get(client, path, as_of="2999-01-01T00:00:00+02:00")
    assert future.status_code == 200
    assert future.json["as_of"]["position"] == story.head
    assert "immutable" not in future.headers["Cache-Control"]

    error = assert_error(get(client, path, as_of="yesterday"), 422, "validation_failed")
    assert "as_of" in error["fields"]
    error = assert_error(get(client, path, as_of="0001-01-01T00:00:00+01:00"), 422)
    assert error["fields"]["as_of"] == ["the date-time is out of range"]
    assert_error(get(client, path, as_of="0001-01-01T00:00:00Z"), 404, "not_found")
    error = assert_error(get(client, path, as_of=edit2_at, at=3), 422)
    assert "at" in error["fields"]
    error = assert_error(get(client, path, at=-1), 422)
    assert "at" in error["fields"]


# ---- timeline and changes ------------------------------------------------------------------


@SQLITE_ONLY
def test_timeline_pages(client, story, moderator):
    path = f"/threads/{story.thread}/timeline"
    entries, cursor = [], None
    while True:
        query = {"limit": 3} if cursor is None else {"limit": 3, "cursor": cursor}
        body = get(client, path, story=story, **query).json
        entries += body["entries"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [e["position"] for e in entries] == sorted(story.positions.values())
    assert [e["kind"] for e in entries[:3]] == ["Thread.Opened", "Comment.Posted", "Comment.Edited"]
    hide = next(e for e in entries if e["kind"] == "Comment.Hidden")
    assert hide["summary"] == f"hid comment {story.c2}"  # no reason for the public
    assert hide["reason"] is None
    moderated = get(client, path, moderator, story=story, limit=500).json["entries"]
    # The summary names ids only; the reason is its own field, for moderators.
    moderated_hide = next(e for e in moderated if e["kind"] == "Comment.Hidden")
    assert (moderated_hide["summary"], moderated_hide["reason"]) == (
        f"hid comment {story.c2}",
        "rude",
    )
    assert_error(get(client, f"/threads/{uuid4()}/timeline"), 404, "not_found")
    assert_error(get(client, path, limit=0), 422)
    assert_error(get(client, path, limit=501), 422)


@SQLITE_ONLY
def test_changes_between_two_points(client, story):
    path = f"/threads/{story.thread}/changes"
    body = get(client, path, story=story, **{"from": story.positions["c1"]}).json
    assert body["from"] == story.positions["c1"] and body["to"] == story.head
    assert [a["comment_id"] for a in body["added"]] == [story.c2, story.c3]
    assert [
        (e["comment_id"], e["from_version"], e["to_version"], e["edits"]) for e in body["edited"]
    ] == [(story.c1, 1, 3, 2)]
    assert [h["comment_id"] for h in body["hidden"]] == [story.c2]
    assert body["hidden"][0]["reason"] is None
    assert [(r["comment_id"], r["reason"]) for r in body["retracted"]] == [(story.c3, "oops")]
    assert body["restored"] == [] and body["thread"] == []

    window = get(
        client, path, **{"from": story.positions["edit1"], "to": story.positions["hide"]}
    ).json
    assert [e["to_version"] for e in window["edited"]] == [3]
    assert window["edited"][0]["from_version"] == 2
    everything = get(client, path).json
    assert everything["from"] == 0
    assert [c["kind"] for c in everything["thread"]] == ["Thread.Opened"]

    timeline = get(client, f"/threads/{story.thread}/timeline").json["entries"]
    at = {e["position"]: e["at"] for e in timeline}
    by_time = get(
        client, path, **{"from": at[story.positions["c1"]], "to": at[story.positions["hide"]]}
    ).json
    assert (by_time["from"], by_time["to"]) == (story.positions["c1"], story.positions["hide"])
    error = assert_error(get(client, path, **{"from": 9, "to": 3}), 422)
    assert "to" in error["fields"]
    assert_error(get(client, path, **{"from": "soon"}), 422)
    assert_error(get(client, f"/threads/{uuid4()}/changes"), 404)


# ---- the audit log and the chain head ------------------------------------------------------


@SQLITE_ONLY
def test_the_audit_log_is_for_moderators(client, story, member, moderator):
    assert_error(get(client, "/audit"), 401, "unauthenticated")
    assert_error(get(client, "/audit", member), 403, "permission_denied")
    response = get(client, "/audit", moderator, story=story)
    assert response.status_code == 200
    assert response.headers["Cache-Control"].startswith("private")
    entries = response.json["entries"]
    assert entries[0]["position"] == story.head  # newest first
    assert entries[0]["type"] == "Comment.Retracted"
    hide = next(e for e in entries if e["type"] == "Comment.Hidden")
    assert hide["reason"] == "rude" and hide["summary"] == f"hid comment {story.c2}"


@SQLITE_ONLY
def test_audit_filters_and_pages(client, story, member, moderator):
    seen, cursor = [], None
    while True:
        query: dict[str, Any] = {"limit": 2, "order": "oldest", "thread": story.thread}
        if cursor is not None:
            query["cursor"] = cursor
        body = get(client, "/audit", moderator, story=story, **query).json
        seen += [e["position"] for e in body["entries"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(story.positions.values())
    edits = get(
        client, "/audit", moderator, story=story, actor=str(member.id), type="Comment.Edited"
    ).json["entries"]
    assert [e["version"] for e in edits] == [3, 2]
    several = get(client, "/audit", moderator, type="Comment.Hidden,Comment.Retracted").json[
        "entries"
    ]
    assert [e["type"] for e in several] == ["Comment.Retracted", "Comment.Hidden"]
    operator = get(client, "/audit", moderator, actor=str(OPERATOR_ID)).json["entries"]
    assert operator == []
    assert get(client, "/audit", moderator, until="2001-01-01T00:00:00Z").json["entries"] == []
    recent = get(client, "/audit", moderator, since="2001-01-01T00:00:00Z", limit=500).json
    assert len(recent["entries"]) == story.head
    for query, field in (
        ({"type": "edited"}, "type"),
        ({"since": "not a time"}, "since"),
        ({"thread": "nope"}, "thread"),
        ({"limit": 0}, "limit"),
        ({"order": "random"}, "order"),
        ({"since": "2020-01-02T00:00:00Z", "until": "2020-01-01T00:00:00Z"}, "until"),
        ({"whatever": "1"}, "whatever"),
    ):
        error = assert_error(get(client, "/audit", moderator, **query), 422, "validation_failed")
        assert field in error["fields"], (query, error)


@SQLITE_ONLY
def test_audit_head_is_the_chain_head(client, flask_app, story):
    body = get(client, "/audit/head", story=story).json  # waits for the projections
    services = flask_app.extensions["discuss"].services
    assert body == hash_chain.head(services.engine)
    assert body["position"] == story.head and len(body["hash"]) == 64
    assert get(client, "/audit/head").headers["Cache-Control"].startswith("public")


@SQLITE_ONLY
def test_the_new_endpoints_are_documented(client):
    spec = client.get(f"{API}/openapi.json").json
    for path in (
        "/api/v1/comments/{comment_id}/history",
        "/api/v1/comments/{comment_id}/diff",
        "/api/v1/threads/{thread_id}/timeline",
        "/api/v1/threads/{thread_id}/changes",
        "/api/v1/audit",
        "/api/v1/audit/head",
    ):
        assert "get" in spec["paths"][path], path
    assert "403" in spec["paths"]["/api/v1/comments/{comment_id}/history"]["get"]["responses"]
