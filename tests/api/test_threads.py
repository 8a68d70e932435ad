"""Threads: open (moderators), list with an opaque keyset cursor, read (by id and by
key) with ETag/304 and read-your-writes, lock and unlock."""

from __future__ import annotations

import base64

from tests.api.conftest import API, assert_error, post, sqlite_only


def test_a_moderator_opens_a_thread_others_may_not(client, moderator, member):
    body = {"title": "News", "key": "news/1", "body": "Text"}
    assert_error(client.post(f"{API}/threads", json=body), 401, "unauthenticated")
    assert_error(
        client.post(f"{API}/threads", json=body, headers=member.headers), 403, "permission_denied"
    )
    response = client.post(f"{API}/threads", json=body, headers=moderator.headers)
    assert response.status_code == 201
    opened = response.json
    assert response.headers["Location"] == f"{API}/threads/{opened['id']}"
    assert opened["key"] == "news/1" and opened["position"] > 0

    read = client.get(
        response.headers["Location"], query_string={"min_position": opened["position"]}
    )
    assert read.status_code == 200
    assert read.json["thread"]["title"] == "News"
    assert read.json["thread"]["body"] == "Text"
    assert read.json["comments"] == []

    taken = client.post(f"{API}/threads", json=body, headers=moderator.headers)
    assert_error(taken, 409, "thread_key_taken")


def test_reads_by_key_and_by_id_agree(client, thread):
    by_id = client.get(
        f"{API}/threads/{thread['id']}", query_string={"min_position": thread["position"]}
    )
    by_key = client.get(f"{API}/threads/by-key/posts/a-thread")
    assert by_id.status_code == by_key.status_code == 200
    assert by_id.json == by_key.json
    assert_error(client.get(f"{API}/threads/by-key/no/such/key"), 404, "not_found")
    assert_error(client.get(f"{API}/threads/by-key/nul%00key"), 404)
    assert_error(client.get(f"{API}/threads/by-key/caf%C3%A9%C2%A0menu"), 404)  # no such key


def test_reads_carry_an_etag_that_changes_exactly_with_the_thread(client, thread, member):
    url = f"{API}/threads/{thread['id']}"
    first = client.get(url, query_string={"min_position": thread["position"]})
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "public, max-age=0, must-revalidate"
    assert "Authorization" in first.headers["Vary"]

    unchanged = client.get(url, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.data == b""
    assert unchanged.headers["ETag"] == etag

    posted = post(client, member, thread["id"], "news")
    changed = client.get(
        url, headers={"If-None-Match": etag}, query_string={"min_position": posted["position"]}
    )
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert changed.json["comments"][0]["text"] == "news"
    # A different page of the same thread is a different representation.
    other = client.get(url, query_string={"limit": 1}, headers={"If-None-Match": etag})
    assert other.status_code == 200


@sqlite_only
def test_read_your_writes_waits_then_gives_up_with_503(app_factory, flask_app, thread, member):
    slow_app = app_factory(read_wait_seconds=0.2)
    client = slow_app.test_client()
    posted = post(client, member, thread["id"], "hello")
    seen = client.get(
        f"{API}/threads/{thread['id']}", query_string={"min_position": posted["position"]}
    )
    assert seen.status_code == 200 and seen.json["thread"]["comment_count"] == 1

    future = client.get(
        f"{API}/threads/{thread['id']}", query_string={"min_position": posted["position"] + 1000}
    )
    assert "min_position" in assert_error(future, 422, "validation_failed")["fields"]

    # A real position the projections have not reached: stop the apps' runners.
    for each in (slow_app, flask_app):
        each.extensions["discuss"].runner.stop()
    later = post(client, member, thread["id"], "unseen")
    waited = client.get(
        f"{API}/threads/{thread['id']}", query_string={"min_position": later["position"]}
    )
    assert_error(waited, 503, "not_yet_visible")
    assert waited.headers["Retry-After"] == "1"


def test_thread_pages_follow_the_cursor(client, thread, member):
    for n in range(5):
        last = post(client, member, thread["id"], f"comment {n}")
    url = f"{API}/threads/{thread['id']}"
    seen, cursor = [], None
    while True:
        query = {"limit": 2, "min_position": last["position"]}
        if cursor is not None:
            query["cursor"] = cursor
        page = client.get(url, query_string=query).json
        seen += [c["text"] for c in page["comments"]]
        cursor = page["page"]["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"comment {n}" for n in range(5)]
    newest = client.get(url, query_string={"sort": "newest", "limit": 1}).json
    assert newest["comments"][0]["text"] == "comment 4"
    assert newest["page"]["remaining_top_level"] == 4


@sqlite_only
def test_thread_query_is_validated_by_field(client, thread):
    url = f"{API}/threads/{thread['id']}"
    for query, field in [
        ({"limit": 0}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"depth": 99}, "depth"),
        ({"sort": "best"}, "sort"),
        ({"cursor": -1}, "cursor"),
        ({"cursor": 2**70}, "cursor"),
        ({"min_position": "x"}, "min_position"),
        ({"colour": "red"}, "colour"),
    ]:
        error = assert_error(client.get(url, query_string=query), 422, "validation_failed")
        assert list(error["fields"]) == [field], (query, error)
    assert_error(client.get(f"{API}/threads/{'0' * 32}"), 404)
    assert_error(client.get(f"{API}/threads/not-a-uuid"), 404)


def test_the_thread_list_pages_with_an_opaque_cursor(client, moderator):
    positions = []
    for n in range(5):
        response = client.post(f"{API}/threads", json={"title": f"T{n}"}, headers=moderator.headers)
        positions.append(response.json["position"])
    first = client.get(f"{API}/threads", query_string={"limit": 2, "min_position": positions[-1]})
    assert first.status_code == 200
    assert first.headers["ETag"] and first.headers["Cache-Control"]
    titles = [t["title"] for t in first.json["threads"]]
    cursor = first.json["next_cursor"]
    assert isinstance(cursor, str) and "=" not in cursor
    while cursor:
        page = client.get(f"{API}/threads", query_string={"limit": 2, "cursor": cursor}).json
        titles += [t["title"] for t in page["threads"]]
        cursor = page["next_cursor"]
    assert titles == ["T4", "T3", "T2", "T1", "T0"]  # most recent activity first

    again = client.get(
        f"{API}/threads",
        query_string={"limit": 2},
        headers={"If-None-Match": first.headers["ETag"]},
    )
    assert again.status_code == 304


@sqlite_only
def test_a_malformed_list_cursor_is_a_422_naming_the_field(client):
    forged = base64.urlsafe_b64encode(b'["yesterday", "not-a-uuid"]').decode()
    for cursor in ["zzz", "!!", forged, base64.urlsafe_b64encode(b"{}").decode(), ""]:
        error = assert_error(
            client.get(f"{API}/threads", query_string={"cursor": cursor}), 422, "validation_failed"
        )
        assert "cursor" in error["fields"], error


def test_moderators_lock_and_unlock(client, thread, moderator, member):
    url = f"{API}/threads/{thread['id']}"
    assert_error(client.post(f"{url}/lock"), 401)
    assert_error(client.post(f"{url}/lock", headers=member.headers), 403, "permission_denied")

    locked = client.post(f"{url}/lock", json={"reason": "off topic"}, headers=moderator.headers)
    assert locked.status_code == 200
    assert set(locked.json) == {"id", "version", "position"}
    assert_error(client.post(f"{url}/lock", headers=moderator.headers), 409, "invalid_transition")
    refused = client.post(f"{url}/comments", json={"text": "hi"}, headers=member.headers)
    assert_error(refused, 409, "thread_locked")
    view = client.get(url, query_string={"min_position": locked.json["position"]}).json
    assert view["thread"]["locked"] is True

    unlocked = client.post(f"{url}/unlock", headers=moderator.headers)  # no body at all
    assert unlocked.status_code == 200
    assert unlocked.json["version"] == locked.json["version"] + 1
    assert_error(client.post(f"{url}/unlock", headers=moderator.headers), 409, "invalid_transition")
    post(client, member, thread["id"], "open again")


@sqlite_only
def test_locking_an_unknown_thread_is_404(client, moderator):
    missing = "00000000-0000-4000-8000-000000000000"
    response = client.post(f"{API}/threads/{missing}/lock", headers=moderator.headers)
    assert_error(response, 404, "thread_not_found")
