"""Withheld content stays withheld in every view of the past: a comment hidden by a
moderator or retracted by its author does not come back through `?at=` permalinks,
cached past views, or its history and diffs.

Visibility is decided today: a past view shows the structure as it was (the comment at
its place) with today's state, and only moderators (and, for a retraction, the author)
still read the text. These tests reproduce leaks found when the product was tried.
"""

from __future__ import annotations

from tests.api.conftest import API, Caller, post

PHONE = "07700 900123"
TEXT = f"call me on {PHONE}"
KEY = "posts/a-thread"  # the `thread` fixture's key


def get(client, path: str, caller: Caller | None = None, **query):
    headers = caller.headers if caller else {}
    return client.get(f"{API}{path}", query_string=query, headers=headers)


def hide(client, moderator: Caller, comment_id: str) -> int:
    response = client.post(
        f"{API}/comments/{comment_id}/hide",
        json={"reason": "phone number"},
        headers=moderator.headers,
    )
    assert response.status_code == 200, response.json
    return response.json["position"]


def retract(client, author: Caller, comment_id: str) -> int:
    response = client.delete(f"{API}/comments/{comment_id}", headers=author.headers)
    assert response.status_code == 200, response.json
    return response.json["position"]


def edit(client, author: Caller, comment_id: str, text: str, version: int) -> int:
    response = client.patch(
        f"{API}/comments/{comment_id}",
        json={"text": text},
        headers={**author.headers, "If-Match": f'"{version}"'},
    )
    assert response.status_code == 200, response.json
    return response.json["position"]


def comment_in(body: dict, comment_id: str) -> dict:
    """The top-level comment `comment_id` of a thread page (it must be there)."""
    found = [c for c in body["comments"] if c["id"] == comment_id]
    assert len(found) == 1, [c["id"] for c in body["comments"]]
    return found[0]


def assert_withheld_past_view(response, comment_id: str, position: int, state: str) -> None:
    assert response.status_code == 200, response.data[:500]
    assert PHONE not in response.get_data(as_text=True)
    assert response.json["as_of"]["position"] == position
    past = comment_in(response.json, comment_id)  # the structure is kept
    assert (past["state"], past["text"]) == (state, None)


def test_past_view_by_id_withholds_a_comment_hidden_since(client, thread, member, moderator):
    """Leak: `GET /threads/{id}?at=` shows a comment's text that a moderator has hidden since."""
    posted = post(client, member, thread["id"], TEXT)
    hid = hide(client, moderator, posted["comment"])
    path, at = f"/threads/{thread['id']}", posted["position"]
    for query in ({"at": at, "min_position": hid}, {"at": at}):
        response = get(client, path, **query)
        assert_withheld_past_view(response, posted["comment"], at, "hidden")
        assert comment_in(response.json, posted["comment"])["author"] is None
    # Moderators still read it as of then (no over-withholding).
    as_moderator = get(client, path, moderator, at=at, min_position=hid)
    assert comment_in(as_moderator.json, posted["comment"])["text"] == TEXT


def test_past_view_by_key_withholds_a_comment_hidden_since(client, thread, member, moderator):
    """Leak: `GET /threads/by-key/{key}?at=` shows a comment's text hidden since."""
    posted = post(client, member, thread["id"], TEXT)
    hid = hide(client, moderator, posted["comment"])
    path, at = f"/threads/by-key/{KEY}", posted["position"]
    for query in ({"at": at, "min_position": hid}, {"at": at}):
        response = get(client, path, **query)
        assert_withheld_past_view(response, posted["comment"], at, "hidden")
        assert comment_in(response.json, posted["comment"])["author"] is None


def test_past_view_of_a_since_hidden_comment_is_not_immutable(client, thread, member, moderator):
    """Leak: a past view is served `immutable`, so caches keep the text after a hide."""
    posted = post(client, member, thread["id"], TEXT)
    hid = hide(client, moderator, posted["comment"])
    response = get(client, f"/threads/{thread['id']}", at=posted["position"], min_position=hid)
    assert response.status_code == 200, response.json
    assert "immutable" not in response.headers["Cache-Control"]


def test_a_past_view_read_before_a_hide_is_not_served_again_after_it(
    client, thread, member, moderator
):
    """Leak: the past view's old ETag (and cached bytes) keep serving the text after a hide."""
    posted = post(client, member, thread["id"], TEXT)
    path = f"/threads/{thread['id']}"
    query = {"at": posted["position"], "min_position": posted["position"]}
    before = get(client, path, **query)
    assert before.status_code == 200 and PHONE in before.get_data(as_text=True)
    old_etag = before.headers["ETag"]

    hid = hide(client, moderator, posted["comment"])
    assert get(client, path, min_position=hid).status_code == 200  # the hide is projected
    seen = []
    for headers in ({}, {"If-None-Match": old_etag}):
        again = client.get(f"{API}{path}", query_string=query, headers=headers)
        seen.append((again.status_code, PHONE in again.get_data(as_text=True)))
    # (status, text in body) without, then with If-None-Match: never 304, never the text.
    assert seen == [(200, False), (200, False)]


def test_history_and_diff_of_a_retracted_comment_withhold_its_texts(
    client, thread, member, other_member, moderator
):
    """Leak: a retracted comment's texts stay readable by anyone in its history and diff."""
    posted = post(client, member, thread["id"], TEXT)
    edit(client, member, posted["comment"], f"{TEXT} after 6pm", version=1)
    retracted = retract(client, member, posted["comment"])
    history = f"/comments/{posted['comment']}/history"
    diff = f"/comments/{posted['comment']}/diff"
    versions = {"from": 1, "to": 2}
    for caller in (None, other_member):
        response = get(client, history, caller, min_position=retracted)
        assert response.status_code == 200, response.json
        assert PHONE not in response.get_data(as_text=True), caller
        assert [e["text"] for e in response.json["entries"]] == [None, None, None]
        response = get(client, diff, caller, min_position=retracted, **versions)
        assert response.status_code in (200, 403), response.json
        assert PHONE not in response.get_data(as_text=True), caller
    # Its author and the moderators still read them (no over-withholding).
    for caller in (member, moderator):
        texts = [e["text"] for e in get(client, history, caller).json["entries"]]
        assert texts == [TEXT, f"{TEXT} after 6pm", None], caller.name
    assert PHONE in get(client, diff, moderator, **versions).get_data(as_text=True)


def test_past_view_withholds_a_comment_retracted_since(client, thread, member):
    """Leak: `?at=` a position before the retraction shows the retracted text to anyone."""
    posted = post(client, member, thread["id"], TEXT)
    retracted = retract(client, member, posted["comment"])
    response = get(
        client, f"/threads/{thread['id']}", at=posted["position"], min_position=retracted
    )
    assert_withheld_past_view(response, posted["comment"], posted["position"], "retracted")
