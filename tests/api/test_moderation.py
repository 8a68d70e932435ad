"""The moderation queue over HTTP (issue 13), with the shipped rules on.

A new author's first comment with three links waits in the queue, absent for readers
(and not counted), in its author's record as pending; a moderator approves it and it
appears for everyone. An approved comment edited to add links shows readers the old
revision until the edit is approved. Members get 403 from the queue, deciding what is
not pending is 409, a refused post stores nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.moderation_rules import RulesInvalid
from tests.api.conftest import API, assert_error, make_app, post, stop_app

THREE_LINKS = "Cheap: http://a.example/x https://b.example/y www.c.example/z"


@pytest.fixture
def flask_app(app_factory):
    return app_factory(rules="default")


def thread_texts(client, thread_id, headers=None, position=0) -> dict[str, str | None]:
    response = client.get(
        f"{API}/threads/{thread_id}?min_position={position}", headers=headers or {}
    )
    assert response.status_code == 200, response.json
    found = {}

    def walk(nodes):
        for n in nodes:
            found[n["id"]] = n["text"]
            walk(n["replies"])

    walk(response.json["comments"])
    return found, response.json["thread"]


def test_a_new_authors_links_wait_for_a_moderator(client, app, thread, member, moderator):
    posted = post(client, member, thread["id"], THREE_LINKS)
    assert posted["held_by"] == ["new-author", "links"]
    cid = posted["comment"]
    # Readers: nothing, not even a placeholder, and not counted.
    texts, meta = thread_texts(client, thread["id"], position=posted["position"])
    assert cid not in texts and meta["comment_count"] == 0
    assert client.get(f"{API}/comments/{cid}").status_code == 404
    assert client.get(f"{API}/comments/{cid}/history").status_code == 404
    # Its author: in their record, pending.
    own = client.get(f"{API}/comments/{cid}/history", headers=member.headers)
    assert own.status_code == 200 and own.json["state"] == "pending"
    assert own.json["entries"][0]["text"] == THREE_LINKS
    # The queue: moderators only.
    assert_error(client.get(f"{API}/moderation/queue"), 401)
    assert_error(client.get(f"{API}/moderation/queue", headers=member.headers), 403)
    queue = client.get(
        f"{API}/moderation/queue?min_position={posted['position']}", headers=moderator.headers
    )
    assert queue.status_code == 200
    (item,) = queue.json["items"]
    assert item["comment_id"] == cid and item["rules"] == ["new-author", "links"]
    assert item["kind"] == "comment" and item["text"] == THREE_LINKS
    assert item["author"]["name"] == "Ada"
    assert item["author_history"] == {"posted": 1, "approved": 0, "rejected": 0}
    # A member cannot decide; nothing is stored.
    head = app.head_position()
    assert_error(client.post(f"{API}/comments/{cid}/approve", json={}, headers=member.headers), 403)
    assert app.head_position() == head
    approved = client.post(
        f"{API}/comments/{cid}/approve", json={"reason": "fine"}, headers=moderator.headers
    )
    assert approved.status_code == 200
    # Approving again: not pending, 409, nothing stored.
    head = app.head_position()
    assert_error(
        client.post(f"{API}/comments/{cid}/approve", json={}, headers=moderator.headers),
        409,
        "not_pending",
    )
    assert app.head_position() == head
    texts, meta = thread_texts(client, thread["id"], position=approved.json["position"])
    assert texts[cid] == THREE_LINKS and meta["comment_count"] == 1


def test_an_edit_adding_links_shows_readers_the_approved_revision(
    client, app, thread, member, moderator
):
    first = post(client, member, thread["id"], "A harmless first comment.")
    cid = first["comment"]
    client.post(f"{API}/comments/{cid}/approve", json={}, headers=moderator.headers)
    edited = client.patch(
        f"{API}/comments/{cid}",
        json={"text": THREE_LINKS},
        headers={**member.headers, "If-Match": '"3"'},
    )
    assert edited.status_code == 200, edited.json
    assert edited.json["held_by"] == ["links"]
    # A moderator's page shows the held text; the bodies cached for it are never a
    # reader's: readers (signed out, other members) keep the approved text, cached or not.
    mod_texts, _meta = thread_texts(
        client, thread["id"], moderator.headers, position=edited.json["position"]
    )
    assert mod_texts[cid] == THREE_LINKS
    for headers in ({}, {}, member.headers):
        texts, _meta = thread_texts(client, thread["id"], headers, edited.json["position"])
        assert texts[cid] == "A harmless first comment."
    for _ in range(2):
        texts, _meta = thread_texts(client, thread["id"], position=edited.json["position"])
        assert texts[cid] == "A harmless first comment."
    queue = client.get(
        f"{API}/moderation/queue?min_position={edited.json['position']}",
        headers=moderator.headers,
    ).json
    (item,) = queue["items"]
    assert item["kind"] == "edit" and item["shown_revision"] == 1
    assert {"op": "insert", "text": THREE_LINKS} in item["diff"]
    # The reader's history: the pending revision withheld.
    entries = client.get(f"{API}/comments/{cid}/history").json["entries"]
    texts_in_record = [e["text"] for e in entries if e["kind"] in ("posted", "edited")]
    assert texts_in_record == ["A harmless first comment.", None]
    decided = client.post(
        f"{API}/moderation/approve", json={"comment_ids": [cid]}, headers=moderator.headers
    )
    assert decided.status_code == 200 and decided.json["decided"] == 1
    texts, _meta = thread_texts(client, thread["id"], position=decided.json["position"])
    assert texts[cid] == THREE_LINKS


def test_bulk_reject_refusals_and_premoderation(tmp_path, app_factory, app, member, moderator):
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[[rule]]\nname = "casino"\nkind = "words"\nwords = ["casino"]\naction = "refuse"\n'
        '[[rule]]\nname = "again"\nkind = "repeated"\nwithin = 3\naction = "refuse"\n'
        '[[rule]]\nname = "pre"\nkind = "premoderated"\n'
    )
    client = app_factory(rules=str(rules)).test_client()
    thread = client.post(
        f"{API}/threads", json={"title": "T", "key": "mod/t"}, headers=moderator.headers
    ).json
    head = app.head_position()
    refused = client.post(
        f"{API}/threads/{thread['id']}/comments",
        json={"text": "Visit my CASINO now"},
        headers=member.headers,
    )
    assert_error(refused, 422, "refused")
    assert app.head_position() == head  # nothing stored
    one = post(client, member, thread["id"], "Hello there")
    assert one["held_by"] == []
    # The repeated rule reads the author's comments as the projections know them.
    client.get(f"{API}/threads/{thread['id']}?min_position={one['position']}")
    again = client.post(
        f"{API}/threads/{thread['id']}/comments",
        json={"text": "hello   THERE"},
        headers=member.headers,
    )
    assert_error(again, 422, "refused")
    # Pre-moderation: a member cannot switch it; a moderator can; then posts are held.
    assert_error(
        client.put(
            f"{API}/threads/{thread['id']}/premoderation", json={"on": True}, headers=member.headers
        ),
        403,
    )
    switched = client.put(
        f"{API}/threads/{thread['id']}/premoderation", json={"on": True}, headers=moderator.headers
    )
    assert switched.status_code == 200
    held = [post(client, member, thread["id"], f"Held number {i}") for i in range(2)]
    assert all(h["held_by"] == ["pre"] for h in held)
    ids = [h["comment"] for h in held]
    rejected = client.post(
        f"{API}/moderation/reject",
        json={"comment_ids": [*ids, one["comment"]], "reason": "off topic"},
        headers=moderator.headers,
    )
    assert rejected.status_code == 200
    outcomes = {o["id"]: o for o in rejected.json["outcomes"]}
    assert rejected.json["decided"] == 2
    assert outcomes[one["comment"]]["error"] == "not_pending"
    record = client.get(
        f"{API}/comments/{ids[0]}/history?min_position={rejected.json['position']}",
        headers=member.headers,
    ).json
    assert record["state"] == "rejected" and record["text_withheld"]
    queue = client.get(
        f"{API}/moderation/queue?min_position={rejected.json['position']}",
        headers=moderator.headers,
    )
    assert queue.json["items"] == [] and queue.json["total"] == 0


def test_rules_tried_on_the_past_from_the_api(client, app, thread, member, moderator):
    post(client, member, thread["id"], THREE_LINKS)
    head = app.head_position()
    report = client.post(
        f"{API}/moderation/rules/try",
        json={"rules": '[[rule]]\nname = "links"\nkind = "links"\nmax = 1\naction = "refuse"\n'},
        headers=moderator.headers,
    )
    assert report.status_code == 200, report.json
    (rule,) = report.json["rules"]
    assert rule["name"] == "links" and rule["fired"] == 1
    assert report.json["refused"] == 1
    assert app.head_position() == head  # nothing changed
    bad = client.post(
        f"{API}/moderation/rules/try",
        json={"rules": '[[rule]]\nname = "x"\nkind = "links"\nmax = -1\n'},
        headers=moderator.headers,
    )
    error = assert_error(bad, 422, "rules_invalid")
    assert "line 4" in error["message"]
    assert_error(
        client.post(f"{API}/moderation/rules/try", json={"rules": "x = 1"}, headers=member.headers),
        403,
    )


def test_an_invalid_rule_file_stops_the_start_naming_the_line(tmp_path: Path, database):
    bad = tmp_path / "bad.toml"
    bad.write_text('trusted_after = 2\n\n[[rule]]\nname = "links"\nkind = "links"\nmax = "two"\n')
    with pytest.raises(RulesInvalid, match=r"bad.toml, line 6: rule 'links': max must be"):
        stop_app(make_app(database, rules=str(bad)))
