"""A lock's reason is on the thread page and in the thread's JSON (it was only in the
audit log), live and as of any later point; unlocking clears it."""

from __future__ import annotations

from uuid import UUID

from domain.model import OPERATOR_ID
from tests.pages.conftest import THREAD_URL, demo_thread_id


def test_the_lock_reason_is_shown_with_the_lock_and_goes_with_it(client, flask_app):
    runtime = flask_app.extensions["discuss"]
    app = runtime.services.app
    thread_id = UUID(demo_thread_id(flask_app))
    locked = app.lock_thread(OPERATOR_ID, thread_id, "The election is over").position
    assert runtime.wait_for(locked)
    page = client.get(THREAD_URL).get_data(as_text=True)
    assert "This thread is locked" in page and "Reason: The election is over" in page
    api = client.get(f"/api/v1/threads/{thread_id}").json["thread"]
    assert (api["locked"], api["lock_reason"]) == (True, "The election is over")
    past = client.get(f"/api/v1/threads/{thread_id}", query_string={"at": locked})
    assert past.json["thread"]["lock_reason"] == "The election is over"
    unlocked = app.unlock_thread(OPERATOR_ID, thread_id).position
    assert runtime.wait_for(unlocked)
    api = client.get(f"/api/v1/threads/{thread_id}").json["thread"]
    assert (api["locked"], api["lock_reason"]) == (False, None)
    assert "The election is over" not in client.get(THREAD_URL).get_data(as_text=True)
