"""Moderators hide (reason required) and restore comments, lock and unlock threads, and
read the audit log; a comment's history page shows every revision with diffs, and the
texts of a hidden comment only to moderators. The time slider shows the thread as it
was at any change point."""

from __future__ import annotations

import re

from tests.pages.conftest import (
    THREAD_URL,
    demo_thread_id,
    numbered,
    page,
    send,
    send_form,
    sign_in,
    sign_in_moderator,
    text_of,
)


def posted(client, flask_app, text: str) -> str:
    thread_id = demo_thread_id(flask_app)
    response = send(client, THREAD_URL, f"/threads/{thread_id}/comments", {"text": text})
    assert response.status_code == 302
    return response.headers["Location"].rsplit("#c-", 1)[1]


def edit(client, comment_id: str, text: str, reason: str = "") -> None:
    response = send_form(
        client, f"/c/{comment_id}/edit", f"/c/{comment_id}/edit", {"text": text, "reason": reason}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def test_members_see_no_moderation_controls(client):
    sign_in(client, "Ada")
    html = page(client, THREAD_URL)
    assert "/hide" not in html and "Lock this thread" not in html
    comment_id = numbered(html)[0][1]
    assert client.get(f"/c/{comment_id}/hide").status_code == 403
    assert client.get("/audit").status_code == 403


def test_hide_needs_a_reason_then_hides_for_readers_not_for_moderators(client, flask_app):
    reader = flask_app.test_client()
    sign_in_moderator(client, flask_app)
    comment_id = dict(numbered(page(client, THREAD_URL)))["6.2"]
    response = send(client, f"/c/{comment_id}/hide", f"/c/{comment_id}/hide", {"reason": " "})
    assert response.status_code == 422
    assert "Reason is required" in response.get_data(as_text=True)

    response = send(
        client, f"/c/{comment_id}/hide", f"/c/{comment_id}/hide", {"reason": "Off topic"}
    )
    assert response.status_code == 302 and response.headers["Location"].endswith(comment_id)

    public = page(reader, THREAD_URL)
    assert re.search(r"This comment was removed by a moderator on \d{1,2} \w+ \d{4}\.", public)
    assert "I think that what you say" not in public and "Off topic" not in public
    numbers = dict(numbered(public))
    assert numbers["6.2"] == comment_id and "6.2.1.1" in numbers  # replies keep their place

    own = page(client, THREAD_URL)
    assert "I think that what you say" in own and "Reason: Off topic" in own
    assert f'href="/c/{comment_id}/restore"' in own

    response = send(client, f"/c/{comment_id}/restore", f"/c/{comment_id}/restore", {})
    assert response.status_code == 302
    assert "I think that what you say" in page(reader, THREAD_URL)


def test_lock_and_unlock_a_thread(client, flask_app):
    sign_in_moderator(client, flask_app)
    thread_id = demo_thread_id(flask_app)
    assert "Lock this thread" in page(client, THREAD_URL)
    lock = f"/threads/{thread_id}/lock"
    assert send(client, lock, lock, {"reason": "Cooling off"}).status_code == 302
    html = page(client, THREAD_URL)
    assert "Unlock this thread" in html and "This thread is locked" in html
    assert "/reply" not in html and "Leave a comment" in html
    again = send(client, lock, lock, {})
    assert again.status_code == 409  # locked already: shown on the form
    unlock = f"/threads/{thread_id}/unlock"
    assert send(client, unlock, unlock, {}).status_code == 302
    assert "Lock this thread" in page(client, THREAD_URL)


def test_history_shows_every_version_with_diffs_and_a_compare_form(client, flask_app):
    sign_in(client, "Ada")
    comment_id = posted(client, flask_app, "The quick brown fox jumps.")
    edit(client, comment_id, "The quick red fox jumps high.", reason="colour")
    edit(client, comment_id, "The slow red fox walks.")
    html = page(client, f"/c/{comment_id}/history")
    text = " ".join(text_of(html).split())
    assert "History of comment 8 by Ada" in text
    assert "Version 1 · Posted" in text and "Version 3 · Edited" in text
    assert "Reason: colour" in text
    assert "<del>brown </del><ins>red </ins>" in html
    assert "<del>quick </del><ins>slow </ins>" in html
    # Compare any two versions (a GET form: works without JavaScript).
    assert 'name="from"' in html and 'name="to"' in html
    compared = page(client, f"/c/{comment_id}/history?from=1&to=3")
    assert "Version 1 → version 3" in compared
    assert "<del>quick brown </del><ins>slow red </ins>" in compared
    assert "<del>jumps.</del><ins>walks.</ins>" in compared


def test_history_of_a_hidden_comment_is_for_moderators(client, flask_app):
    sign_in(client, "Ada")
    comment_id = posted(client, flask_app, "Something regrettable.")
    edit(client, comment_id, "Something still regrettable.")
    moderator = flask_app.test_client()
    sign_in_moderator(moderator, flask_app)
    send(moderator, f"/c/{comment_id}/hide", f"/c/{comment_id}/hide", {"reason": "Rude"})
    public = page(flask_app.test_client(), f"/c/{comment_id}/history")
    assert "regrettable" not in public and "Rude" not in public
    assert "its texts are for moderators only" in public
    assert "Removed by a moderator" in public
    mod = page(moderator, f"/c/{comment_id}/history")
    assert "Something still regrettable." in mod and "Reason: <q>Rude</q>" in mod


def test_audit_log_with_filters(client, flask_app):
    sign_in(client, "Ada")
    comment_id = posted(client, flask_app, "Audited.")
    edit(client, comment_id, "Audited twice.", reason="typo")
    moderator = flask_app.test_client()
    sign_in_moderator(moderator, flask_app)
    send(moderator, f"/c/{comment_id}/hide", f"/c/{comment_id}/hide", {"reason": "Spam"})
    html = page(moderator, "/audit")
    assert "Audit log" in html and "Comment removed" in html and "Spam" in html
    assert "Comment edited" in html and "typo" in html
    only_edits = page(moderator, "/audit?type=Comment.Edited")
    assert set(re.findall(r'<tr data-type="([^"]+)"', only_edits)) == {"Comment.Edited"}
    thread_only = page(moderator, f"/audit?thread={demo_thread_id(flask_app)}")
    kinds = set(re.findall(r'<tr data-type="([^"]+)"', thread_only))
    assert "Comment.Posted" in kinds and "Author.Registered" not in kinds
    bad = moderator.get("/audit?since=yesterday")
    assert bad.status_code == 422 and "is not a date" in bad.get_data(as_text=True)


def test_time_slider_shows_the_thread_as_it_was(client, flask_app):
    sign_in(client, "Ada")
    comment_id = posted(client, flask_app, "Original words.")
    html = page(client, THREAD_URL)
    positions = [int(p) for p in re.findall(r'<li data-position="(\d+)"', html)]
    assert len(positions) == 30  # opened, 28 seed comments, Ada's
    edit(client, comment_id, "Rewritten words.")
    live = page(client, THREAD_URL)
    assert "Rewritten words." in live and "Original words." not in live
    past = page(client, f"{THREAD_URL}?at={positions[-1]}")
    assert "Original words." in past and "Rewritten words." not in past
    assert "You are viewing this thread as it was on" in past
    assert f'href="{THREAD_URL}?at={positions[-1]}"' in past  # the permalink
    assert f'href="{THREAD_URL}" data-live-link' in past  # one click back to live
    assert "Leave a comment" not in past and "/reply" not in past  # a past view is read-only
    early = page(client, f"{THREAD_URL}?at={positions[3]}")
    assert len(numbered(early)) == 3  # just the first three comments
    # Without JavaScript the slider is a form that sends the index of a change.
    response = client.get(f"{THREAD_URL}?step=3")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"?at={positions[3]}")


def test_slider_renders_its_range_and_only_the_latest_points(client, flask_app):
    from web.pages.timeline import LATEST_POINTS

    writer = flask_app.test_client()
    sign_in(writer, "Busy")
    ids = [posted(writer, flask_app, f"Comment number {i}.") for i in range(LATEST_POINTS)]
    total = 29 + LATEST_POINTS  # opened, 28 seed comments, Busy's comments
    html = page(client, THREAD_URL)  # anonymous
    assert f'data-count="{total}"' in html and f'max="{total - 1}"' in html
    indexes = [int(i) for i in re.findall(r'<li data-position="\d+" data-index="(\d+)"', html)]
    assert indexes == list(range(total - LATEST_POINTS, total))
    labels = re.findall(r'data-readable="[^"]+">([^<]+)</li>', html)
    assert labels[-1].startswith("Busy posted comment ")
    assert labels[-1] == f"Busy posted comment {7 + len(ids)}"  # 7 seeded top-level comments
    # Without JavaScript, an index older than the rendered points still works.
    response = client.get(f"{THREAD_URL}?step=2")
    assert response.status_code == 302 and "?at=" in response.headers["Location"]
    past = page(client, response.headers["Location"])
    assert "You are viewing this thread as it was on" in past
    assert 'value="2"' in past and len(numbered(past)) == 2
    assert client.get(f"{THREAD_URL}?step={total + 5}").headers["Location"].endswith(THREAD_URL)


def test_anonymous_page_cache_follows_changes(client, flask_app):
    first = client.get(THREAD_URL)
    etag = first.headers["ETag"]
    assert client.get(THREAD_URL).headers["ETag"] == etag
    writer = flask_app.test_client()
    sign_in(writer, "Late")
    posted(writer, flask_app, "A brand new remark.")
    fresh = client.get(THREAD_URL, headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.headers["ETag"] != etag
    assert "A brand new remark." in fresh.get_data(as_text=True)
    assert "csrf_token" not in fresh.get_data(as_text=True)
    # The writer sees their own controls, never the anonymous copy.
    own = page(writer, THREAD_URL)
    assert "Signed in as" in own and "csrf_token" in own
