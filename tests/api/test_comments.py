"""Comments: post and reply (Idempotency-Key), read one with its subtree (ETag/304),
edit with If-Match (412/428), retract, hide and restore; who may do what."""

from __future__ import annotations

import pytest

from tests.api.conftest import API, assert_error, post, sqlite_only


def read(client, path: str, position: int, **kwargs):
    query = {"min_position": position, **kwargs.pop("query", {})}
    response = client.get(f"{API}{path}", query_string=query, **kwargs)
    assert response.status_code == 200, response.json
    return response


def test_post_reply_and_read_a_subtree(client, thread, member, other_member):
    top = post(client, member, thread["id"], "top")
    assert set(top) == {"comment", "thread_id", "version", "position", "replayed", "held_by"}
    assert top["thread_id"] == thread["id"] and top["version"] == 1 and not top["replayed"]
    one = post(client, other_member, thread["id"], "one", parent_id=top["comment"])
    two = post(client, member, thread["id"], "two", parent_id=one["comment"])
    three = post(client, other_member, thread["id"], "three", parent_id=two["comment"])

    page = read(client, f"/threads/{thread['id']}", three["position"]).json
    node = page["comments"][0]
    texts = []
    while node:
        texts.append((node["text"], node["author"]["name"], node["depth"]))
        node = node["replies"][0] if node["replies"] else None
    assert texts == [
        ("top", "Ada", 0),
        ("one", "Brian", 1),
        ("two", "Ada", 2),
        ("three", "Brian", 3),
    ]

    shallow = read(client, f"/threads/{thread['id']}", 0, query={"depth": 1}).json
    cut = shallow["comments"][0]["replies"][0]
    assert cut["replies"] == [] and cut["more_replies"]["continue_from"] == one["comment"]

    response = read(client, f"/comments/{one['comment']}", 0)
    sub = response.json
    assert sub["thread"]["id"] == thread["id"]
    assert sub["comment"]["text"] == "one"
    assert sub["comment"]["replies"][0]["text"] == "two"
    assert sub["comment"]["replies"][0]["replies"][0]["text"] == "three"
    assert sub["page"] == {"next_cursor": None, "remaining_replies": 0, "comments_on_page": 2}


def test_the_comment_etag_follows_changes_anywhere_in_its_thread(client, thread, member):
    top = post(client, member, thread["id"], "top")
    url = f"/comments/{top['comment']}"
    first = read(client, url, top["position"])
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "public, max-age=0, must-revalidate"
    assert client.get(f"{API}{url}", headers={"If-None-Match": etag}).status_code == 304

    reply = post(client, member, thread["id"], "reply", parent_id=top["comment"])
    changed = read(client, url, reply["position"], headers={"If-None-Match": etag})
    assert changed.headers["ETag"] != etag
    assert changed.json["comment"]["reply_count"] == 1


@sqlite_only
def test_an_unknown_comment_is_404(client, thread):
    assert_error(client.get(f"{API}/comments/{thread['id']}"), 404, "not_found")


def test_idempotency_key_makes_retries_safe(client, thread, member, other_member):
    headers = {"Idempotency-Key": "post-42"}
    first = post(client, member, thread["id"], "once", headers=headers)
    url = f"{API}/threads/{thread['id']}/comments"
    retry = client.post(url, json={"text": "once"}, headers={**member.headers, **headers})
    assert retry.status_code == 200  # always 200 for a replay, never a second 201
    assert retry.json["comment"] == first["comment"] and retry.json["replayed"] is True
    assert retry.headers["Location"] == f"{API}/comments/{first['comment']}"
    # The key is per author: another author's identical key is a new comment.
    theirs = post(client, other_member, thread["id"], "once", headers=headers)
    assert theirs["comment"] != first["comment"]
    page = read(client, f"/threads/{thread['id']}", theirs["position"]).json
    assert page["thread"]["comment_count"] == 2

    for bad in ["", "x" * 201, "has space"]:
        response = client.post(
            url, json={"text": "x"}, headers={**member.headers, "Idempotency-Key": bad}
        )
        error = assert_error(response, 422, "validation_failed")
        assert "Idempotency-Key" in error["fields"]


@sqlite_only
def test_replies_must_name_a_live_parent_in_the_same_thread(client, thread, moderator, member):
    other = client.post(f"{API}/threads", json={"title": "Other"}, headers=moderator.headers).json
    elsewhere = post(client, member, other["id"], "elsewhere")
    url = f"{API}/threads/{thread['id']}/comments"
    response = client.post(
        url, json={"text": "x", "parent_id": elsewhere["comment"]}, headers=member.headers
    )
    error = assert_error(response, 422, "parent_not_found")
    assert "parent_id" in error["fields"]
    bad = client.post(url, json={"text": "x", "parent_id": "nope"}, headers=member.headers)
    assert "parent_id" in assert_error(bad, 422)["fields"]

    top = post(client, member, thread["id"], "top")
    client.delete(f"{API}/comments/{top['comment']}", headers=member.headers)
    refused = client.post(
        url, json={"text": "x", "parent_id": top["comment"]}, headers=member.headers
    )
    assert_error(refused, 409, "comment_retracted")


@sqlite_only
@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "text"), ({"text": "   "}, "text"), ({"text": 5}, "text"), ({"text": "a\x00b"}, "text")],
)
def test_comment_text_is_validated(client, thread, member, body, field):
    response = client.post(
        f"{API}/threads/{thread['id']}/comments", json=body, headers=member.headers
    )
    assert field in assert_error(response, 422)["fields"]


@sqlite_only
def test_posting_needs_a_signed_in_author_and_a_thread(client, thread, member):
    url = f"{API}/threads/{thread['id']}/comments"
    assert_error(client.post(url, json={"text": "x"}), 401, "unauthenticated")
    missing = "00000000-0000-4000-8000-000000000000"
    response = client.post(
        f"{API}/threads/{missing}/comments", json={"text": "x"}, headers=member.headers
    )
    assert_error(response, 404, "thread_not_found")


@sqlite_only
@pytest.mark.parametrize("if_match", ['"1"', "1", 'W/"1"', " 1 "])
def test_edit_with_if_match_in_any_usual_spelling(client, thread, member, if_match):
    posted = post(client, member, thread["id"], "draft")
    response = client.patch(
        f"{API}/comments/{posted['comment']}",
        json={"text": "final", "reason": "typo"},
        headers={**member.headers, "If-Match": if_match},
    )
    assert response.status_code == 200, response.json
    assert response.json == {
        "id": posted["comment"],
        "version": 2,
        "position": response.json["position"],
        "held_by": [],
    }
    assert response.headers["ETag"] == '"2"'
    view = read(client, f"/comments/{posted['comment']}", response.json["position"]).json
    assert view["comment"]["text"] == "final" and view["comment"]["edited"] is True


def test_edits_are_conditional(client, thread, member):
    posted = post(client, member, thread["id"], "draft")
    url = f"{API}/comments/{posted['comment']}"
    missing = client.patch(url, json={"text": "x"}, headers=member.headers)
    assert_error(missing, 428, "precondition_required")

    ok = client.patch(url, json={"text": "v2"}, headers={**member.headers, "If-Match": '"1"'})
    assert ok.status_code == 200
    stale = client.patch(url, json={"text": "v3"}, headers={**member.headers, "If-Match": '"1"'})
    assert_error(stale, 412, "version_conflict")
    assert stale.headers["ETag"] == '"2"'  # the current version, to reload and retry

    for bad in ["abc", '"1", "2"', "-1", ""]:
        response = client.patch(
            url, json={"text": "x"}, headers={**member.headers, "If-Match": bad}
        )
        assert "If-Match" in assert_error(response, 422)["fields"], bad

    anything = client.patch(url, json={"text": "v3"}, headers={**member.headers, "If-Match": "*"})
    assert anything.status_code == 200 and anything.json["version"] == 3


@sqlite_only
def test_only_the_author_or_a_moderator_edits_and_retracts(
    client, thread, member, other_member, moderator
):
    posted = post(client, member, thread["id"], "mine")
    url = f"{API}/comments/{posted['comment']}"
    theirs = {**other_member.headers, "If-Match": "1"}
    assert_error(client.patch(url, json={"text": "x"}, headers=theirs), 403, "permission_denied")
    assert_error(client.delete(url, headers=other_member.headers), 403, "permission_denied")
    assert_error(client.patch(url, json={"text": "x"}, headers={"If-Match": "1"}), 401)
    assert_error(client.delete(url), 401)

    by_moderator = client.patch(
        url, json={"text": "moderated"}, headers={**moderator.headers, "If-Match": "1"}
    )
    assert by_moderator.status_code == 200


def test_retract_with_or_without_a_body(client, thread, member, moderator):
    first = post(client, member, thread["id"], "first")
    second = post(client, member, thread["id"], "second")
    response = client.delete(f"{API}/comments/{first['comment']}", headers=member.headers)
    assert response.status_code == 200 and response.json["version"] == 2
    with_reason = client.delete(
        f"{API}/comments/{second['comment']}",
        json={"reason": "changed my mind"},
        headers=moderator.headers,
    )
    assert with_reason.status_code == 200

    again = client.delete(f"{API}/comments/{first['comment']}", headers=member.headers)
    assert_error(again, 409, "comment_retracted")
    edit = client.patch(
        f"{API}/comments/{first['comment']}",
        json={"text": "x"},
        headers={**member.headers, "If-Match": "2"},
    )
    assert_error(edit, 409, "comment_retracted")

    page = read(client, f"/threads/{thread['id']}", with_reason.json["position"]).json
    placeholder = page["comments"][1]
    assert placeholder["state"] == "retracted" and placeholder["text"] is None
    assert placeholder["author"] is None and placeholder["state_reason"] == "changed my mind"


def test_moderators_hide_and_restore(client, thread, member, other_member, moderator):
    posted = post(client, member, thread["id"], "rude words")
    url = f"{API}/comments/{posted['comment']}"
    assert_error(client.post(f"{url}/hide", json={"reason": "rude"}), 401)
    assert_error(client.post(f"{url}/hide", json={"reason": "rude"}, headers=member.headers), 403)
    no_reason = client.post(f"{url}/hide", json={}, headers=moderator.headers)
    assert "reason" in assert_error(no_reason, 422)["fields"]
    blank = client.post(f"{url}/hide", json={"reason": "  "}, headers=moderator.headers)
    assert "reason" in assert_error(blank, 422)["fields"]
    assert_error(client.post(f"{url}/hide", headers=moderator.headers), 415)

    hidden = client.post(f"{url}/hide", json={"reason": "rude"}, headers=moderator.headers)
    assert hidden.status_code == 200
    position = hidden.json["position"]

    public = read(client, f"/comments/{posted['comment']}", position)
    assert public.json["comment"]["state"] == "hidden"
    assert public.json["comment"]["text"] is None
    assert public.json["comment"]["placeholder"].startswith("removed by a moderator on ")
    assert public.json["comment"]["state_reason"] is None
    as_member = read(
        client, f"/comments/{posted['comment']}", position, headers=other_member.headers
    )
    assert as_member.json["comment"]["text"] is None
    as_moderator = read(
        client, f"/comments/{posted['comment']}", position, headers=moderator.headers
    )
    assert as_moderator.json["comment"]["text"] == "rude words"
    assert as_moderator.json["comment"]["state_reason"] == "rude"
    assert as_moderator.headers["Cache-Control"].startswith("private")
    assert as_moderator.headers["ETag"] != public.headers["ETag"]
    thread_view = read(client, f"/threads/{thread['id']}", position, headers=moderator.headers)
    assert thread_view.headers["Cache-Control"].startswith("private")
    assert thread_view.json["comments"][0]["text"] == "rude words"

    again = client.post(f"{url}/hide", json={"reason": "rude"}, headers=moderator.headers)
    assert_error(again, 409, "invalid_transition")
    edit = client.patch(url, json={"text": "nice"}, headers={**member.headers, "If-Match": "2"})
    assert_error(edit, 409, "comment_hidden")

    assert_error(client.post(f"{url}/restore", headers=member.headers), 403)
    restored = client.post(f"{url}/restore", headers=moderator.headers)
    assert restored.status_code == 200 and restored.json["version"] == 3
    assert_error(
        client.post(f"{url}/restore", headers=moderator.headers), 409, "invalid_transition"
    )
    view = read(client, f"/comments/{posted['comment']}", restored.json["position"]).json
    assert view["comment"]["text"] == "rude words" and view["comment"]["state"] == "visible"
