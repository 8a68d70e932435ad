"""Live updates in a real browser (issue 16, item 5): a reader's open thread page learns
of comments posted elsewhere over Server-Sent Events, says "2 new comments — show",
and "show" inserts them in place (a reply under its parent) without a reload. With
JavaScript off the page is the same as before, without the banner."""

from __future__ import annotations

import time

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.browser.conftest import Server, shot

pytestmark = pytest.mark.browser

# A thread of these tests' own: the others count the demo thread's comments.
KEY = "live-updates"
THREAD_PATH = f"/t/{KEY}"


@pytest.fixture(scope="module")
def live_thread(server: Server) -> str:
    server.discuss("open-thread", "Live updates", "--key", KEY)
    server.discuss("catch-up")
    return KEY


def _post(server: Server, token: str, text: str, parent_id: str | None = None) -> str:
    thread = requests.get(f"{server.url}/api/v1/threads/by-key/{KEY}", timeout=10).json()
    body = {"text": text, **({"parent_id": parent_id} if parent_id else {})}
    response = requests.post(
        f"{server.url}/api/v1/threads/{thread['thread']['id']}/comments",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()["comment"]


def _settled(server: Server, comment_id: str) -> None:
    """The POST answers before the read models have its comment: wait as a client would."""
    deadline = time.monotonic() + 10
    url = f"{server.url}/api/v1/comments/{comment_id}"
    while requests.get(url, timeout=10).status_code != 200:
        assert time.monotonic() < deadline, "the comment never reached the read models"
        time.sleep(0.1)


def test_new_comments_banner_shows_them_in_place_without_reload(
    page: Page, server: Server, live_thread: str
):
    token = server.register("Live Writer")
    _settled(server, _post(server, token, "the first comment, there before the page"))
    page.goto(THREAD_PATH)
    page.evaluate("() => { window.__sameDocument = true; }")
    first = page.locator("li.comment[data-number='1']")
    parent_id = first.get_attribute("id").removeprefix("c-")
    banner = page.locator(".live-banner")
    expect(banner).to_be_hidden()
    page.wait_for_timeout(500)  # the stream is open once the page has settled
    top = _post(server, token, "a new top-level comment, live")
    reply = _post(server, token, "a live reply to comment 1", parent_id=parent_id)
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("2 new comments — show")
    shot(page, "live-banner")
    banner.get_by_role("button", name="show").click()
    expect(page.locator(f"#c-{top}")).to_contain_text("a new top-level comment, live")
    expect(page.locator(f"#c-{parent_id} > ol.replies > #c-{reply}")).to_contain_text(
        "a live reply to comment 1"
    )
    expect(banner).to_be_hidden()
    assert page.evaluate("() => window.__sameDocument") is True  # no reload happened
    assert page.locator(f"#c-{top}").count() == 1


def test_without_javascript_the_page_works_unchanged(new_context, server: Server, live_thread):
    page = new_context(java_script_enabled=False).new_page()
    token = server.register("Quiet Writer")
    page.goto(THREAD_PATH)
    assert page.locator(".live-banner").count() == 0
    posted = _post(server, token, "seen after a reload")
    _settled(server, posted)
    page.reload()
    expect(page.locator(f"#c-{posted}")).to_contain_text("seen after a reload")
