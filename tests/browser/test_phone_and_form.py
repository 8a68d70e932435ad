"""Pages on a phone (390 px wide): nothing scrolls sideways, deep replies still
indent, the open time slider stays on screen under a tall as-of banner. And the
comment form at the end of a long page is one link away, before and after signing in.

The phone checks use a thread of their own (the demo thread's comments are counted
by the other browser tests)."""

from __future__ import annotations

import json
import urllib.request
import uuid
from itertools import pairwise

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import THREAD_PATH, Server, shot

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DEPTH = 8  # levels of replies below a top-level comment
LONG = (
    "A fairly long sentence, so that the column's width shows how much room is left at"
    " this depth on a phone. "
)


def api(server: Server, method: str, path: str, body=None, token=None, headers=None):
    request = urllib.request.Request(
        f"{server.url}/api/v1{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"{}")


@pytest.fixture(scope="module")
def phone_thread(server: Server) -> dict:
    """A thread with a long post, a chain of replies DEPTH deep, and an edited comment."""
    key = f"phone/{uuid.uuid4().hex[:8]}"
    server.discuss("open-thread", "On a phone", "--key", key, "--body", LONG * 12)
    token = server.register("Pocket")
    thread = api(server, "GET", f"/threads/by-key/{key}")
    thread_id = thread.get("id") or thread["thread"]["id"]
    parent, chain = None, []
    for level in range(DEPTH + 1):
        posted = api(
            server,
            "POST",
            f"/threads/{thread_id}/comments",
            {"text": f"Level {level}. {LONG}", "parent_id": parent},
            token,
        )
        parent = posted["comment"]
        chain.append(posted)
    api(
        server,
        "PATCH",
        f"/comments/{chain[0]['comment']}",
        {"text": f"Level 0, edited. {LONG}", "reason": "clearer"},
        token,
        {"If-Match": '"1"'},
    )
    return {"key": key, "id": thread_id, "chain": chain}


def scroll_width(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def card_left(page: Page, comment_id: str) -> float:
    return page.locator(f"#c-{comment_id} > .comment__card").bounding_box()["x"]


def test_no_page_scrolls_sideways_on_a_phone(new_context, phone_thread):
    page = new_context(viewport=PHONE).new_page()
    first = phone_thread["chain"][0]["comment"]
    for path in (
        f"/t/{phone_thread['key']}",
        f"/c/{first}/history",
        f"/t/{phone_thread['key']}?at={phone_thread['chain'][3]['position']}",
        f"/t/{phone_thread['id']}/c/{phone_thread['chain'][4]['comment']}",
        THREAD_PATH,
        "/signin",
        "/",
    ):
        page.goto(path)
        assert scroll_width(page) <= PHONE["width"], path
    page.goto(f"/c/{first}/history")
    expect(page.locator(".legend")).to_be_visible()
    shot(page, "phone-history")


def test_every_level_of_replies_indents_on_a_phone(new_context, phone_thread):
    page = new_context(viewport=PHONE).new_page()
    chain = [c["comment"] for c in phone_thread["chain"]]
    # The thread page shows five levels of replies, the "continue" page the rest.
    for path, shown in (
        (f"/t/{phone_thread['key']}", chain[:6]),
        (f"/t/{phone_thread['id']}/c/{chain[3]}", chain[3:]),
    ):
        page.goto(path)
        lefts = [card_left(page, comment_id) for comment_id in shown]
        steps = [b - a for a, b in pairwise(lefts)]
        assert all(step >= 6 for step in steps), (path, lefts)  # each level shows
        assert lefts[-1] - lefts[0] <= 14 * 3 + 9 * (len(lefts) - 4), (path, lefts)
        assert scroll_width(page) <= PHONE["width"]
    shot(page, "phone-deep-replies")


def test_the_open_time_slider_stays_on_screen_under_a_tall_banner(new_context, phone_thread):
    page = new_context(viewport=PHONE).new_page()
    page.goto(f"/t/{phone_thread['key']}?at={phone_thread['chain'][2]['position']}")
    expect(page.locator(".as-of-banner")).to_be_visible()
    slider = page.locator("#timeline-step")
    expect(slider).to_be_in_viewport()
    box = page.locator("#timeline").bounding_box()
    assert box["y"] + box["height"] <= PHONE["height"] + 1
    shot(page, "phone-time-slider")
    # Moving it swaps the page in place; it stays where the thumb is.
    slider.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_url("**?at=*")
    expect(slider).to_be_in_viewport()


def test_write_a_comment_after_sign_in_to_join(new_context):
    page = new_context(viewport=PHONE).new_page()
    page.goto(THREAD_PATH)
    page.get_by_role("link", name="Write a comment").click()
    expect(page.locator("#respond")).to_be_focused()
    page.get_by_role("link", name="Sign in to join the discussion").click()
    page.get_by_role("textbox", name="Display name").fill("Thumb")
    page.get_by_role("button", name="Join the discussion").click()
    page.get_by_role("link", name="I have saved my token").click()  # shown once, to save
    page.wait_for_url(f"**{THREAD_PATH}#new-comment-text")
    field = page.get_by_role("textbox", name="Your comment")
    expect(field).to_be_focused()
    expect(field).to_be_in_viewport()
    shot(page, "phone-back-at-the-form")

    page.evaluate("window.scrollTo(0, 0)")
    page.locator("#new-comment-text").blur()
    page.get_by_role("link", name="Write a comment").click()
    expect(field).to_be_focused()
    expect(field).to_be_in_viewport()
