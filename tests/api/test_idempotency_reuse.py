"""An Idempotency-Key names one request: a retry with the same key and the same body
answers 200 with the original comment; the same key with a different body is a
client's mistake, 422 idempotency_key_reused (the stored request is compared, as
Stripe does), and a body that is not valid is refused before any replay. Found by
probing (issue 12): the different body was answered 200 "replayed" and its text
silently dropped, and empty or over-long texts were never validated."""

from __future__ import annotations

import pytest

from tests.api.conftest import API, assert_error, post


def _events(app) -> int:
    return app.recorder.max_notification_id() or 0


def _post(client, caller, thread_id, body, key="retry-1"):
    return client.post(
        f"{API}/threads/{thread_id}/comments",
        json=body,
        headers={**caller.headers, "Idempotency-Key": key},
    )


def test_the_same_key_and_body_replays_the_original(client, app, thread, member):
    first = _post(client, member, thread["id"], {"text": "Hello"})
    assert first.status_code == 201
    before = _events(app)
    again = _post(client, member, thread["id"], {"text": "  Hello  "})  # the same once trimmed
    assert again.status_code == 200 and again.json["replayed"] is True
    assert again.json["comment"] == first.json["comment"]
    assert _events(app) == before


def test_the_same_key_with_another_text_is_refused(client, app, thread, member):
    first = _post(client, member, thread["id"], {"text": "Hello"})
    assert first.status_code == 201
    before = _events(app)
    reused = _post(client, member, thread["id"], {"text": "Something else entirely"})
    error = assert_error(reused, 422, "idempotency_key_reused")
    assert "Idempotency-Key" in error["message"]
    assert _events(app) == before
    shown = client.get(
        f"{API}/comments/{first.json['comment']}?min_position={first.json['position']}",
        headers=member.headers,
    )
    assert shown.status_code == 200, shown.json
    assert shown.json["comment"]["text"] == "Hello"


def test_the_same_key_for_a_reply_elsewhere_is_refused(client, app, thread, member):
    parent = post(client, member, thread["id"], "A parent")
    first = _post(client, member, thread["id"], {"text": "Hello"})
    assert first.status_code == 201
    before = _events(app)
    reused = _post(client, member, thread["id"], {"text": "Hello", "parent_id": parent["comment"]})
    assert_error(reused, 422, "idempotency_key_reused")
    assert _events(app) == before


@pytest.mark.parametrize("text", ["", "   ", "x" * 20001])
def test_a_retry_with_a_text_that_is_not_valid_is_refused_not_replayed(
    client, app, thread, member, text
):
    first = _post(client, member, thread["id"], {"text": "Hello"})
    assert first.status_code == 201
    before = _events(app)
    refused = _post(client, member, thread["id"], {"text": text})
    error = assert_error(refused, 422)
    assert error["code"] != "idempotency_key_reused"
    assert "text" in error.get("fields", {}), error
    assert _events(app) == before


def test_an_edited_comment_still_replays_its_original_request(client, app, thread, member):
    first = _post(client, member, thread["id"], {"text": "Hello"})
    edited = client.patch(
        f"{API}/comments/{first.json['comment']}",
        json={"text": "Hello, edited"},
        headers={**member.headers, "If-Match": '"1"'},
    )
    assert edited.status_code == 200
    again = _post(client, member, thread["id"], {"text": "Hello"})
    assert again.status_code == 200 and again.json["replayed"] is True


def test_the_same_key_in_another_thread_or_by_another_author_is_a_new_comment(
    client, thread, member, other_member
):
    first = _post(client, member, thread["id"], {"text": "Hello"})
    other = _post(client, other_member, thread["id"], {"text": "Something else"})
    assert first.status_code == 201 and other.status_code == 201
    assert first.json["comment"] != other.json["comment"]
