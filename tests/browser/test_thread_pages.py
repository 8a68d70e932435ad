"""The thread pages in a real browser: reading the demo thread, signing in, posting,
replying three deep, editing twice, the history and its diff, retracting, the time
slider, an XSS payload, and a moderator removing a comment for everybody else."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ROOT, THREAD_PATH, post_comment, shot, sign_in

pytestmark = pytest.mark.browser

SEED = json.loads((ROOT / "workers" / "data" / "seed-thread.json").read_text(encoding="utf-8"))

# Every comment of the page as [number, author, number of the comment it is nested in].
TREE_JS = """() => Array.from(document.querySelectorAll('li.comment')).map(li => {
  const parent = li.parentElement.closest('li.comment');
  const author = li.querySelector(':scope > article .comment__author');
  return [li.dataset.number, author ? author.textContent.trim() : null,
          parent ? parent.dataset.number : null];
})"""


def seed_rows(comments: list[dict], prefix: str = "", parent: str | None = None) -> list:
    rows = []
    for i, comment in enumerate(comments, 1):
        number = f"{prefix}{i}"
        rows.append([number, comment["author"], parent])
        rows += seed_rows(comment.get("replies", []), f"{number}.", number)
    return rows


def comment(page: Page, comment_id: str):
    return page.locator(f"#c-{comment_id}")


def test_demo_thread_reads_like_a_blog_comment_section(page: Page):
    page.goto(THREAD_PATH)
    expect(page.get_by_role("heading", level=1)).to_have_text("#SaveLabour \u2013 Vote Jeremy")
    rows = page.evaluate(TREE_JS)
    expected = seed_rows(SEED["comments"])
    assert len(expected) == 28
    seed_authors = {row[1] for row in expected}
    rows = [row for row in rows if row[1] in seed_authors]  # not other tests' comments
    assert rows == expected  # numbers, authors and nesting exactly as in the file
    six = page.locator("li.comment[data-number='6']")
    assert six.locator("li.comment").count() == 17
    six_rows = [r for r in rows if r[0].startswith("6.")]
    assert six_rows == [r for r in expected if r[0].startswith("6.")]
    # Replies are indented under their parent.
    parent_box = page.locator("li.comment[data-number='6.2'] > article").bounding_box()
    child_box = page.locator("li.comment[data-number='6.2.1'] > article").bounding_box()
    grandchild = page.locator("li.comment[data-number='6.2.1.1'] > article").bounding_box()
    assert parent_box["x"] < child_box["x"] < grandchild["x"]
    # JavaScript made times relative; the exact time stays in the title.
    first_time = page.locator("li.comment[data-number='1'] time").first
    expect(first_time).to_have_text(re.compile(r"ago|just now"))
    assert re.search(r"\d{4}", first_time.get_attribute("title"))
    # Readable line length: comment text is at most 65 characters ("ch") wide.
    measure = page.evaluate(
        """() => { const t = document.querySelector('.comment__text');
          const probe = document.createElement('span');
          probe.textContent = '0'.repeat(100);
          probe.style.position = 'absolute';
          probe.style.whiteSpace = 'nowrap';
          t.appendChild(probe);
          const ch = probe.getBoundingClientRect().width / 100;
          probe.remove();
          return t.getBoundingClientRect().width / ch; }"""
    )
    assert 50 < measure <= 65.5
    page.set_viewport_size({"width": 1100, "height": 1500})
    shot(page, "demo-thread")  # docs/screenshot-demo-thread.png is a copy of it
    page.locator("li.comment[data-number='6']").scroll_into_view_if_needed()
    shot(page, "demo-thread-nesting")


def test_reading_and_replying_without_javascript(new_context):
    page = new_context(java_script_enabled=False).new_page()
    page.goto(THREAD_PATH)
    expect(page.locator("li.comment")).to_have_count(28)
    time_text = page.locator("li.comment[data-number='1'] time").first.inner_text()
    assert re.fullmatch(r"\d{1,2} \w+ \d{4} at \d\d:\d\d UTC", time_text)
    page.locator("li.comment[data-number='3'] > article a[data-inline='reply']").click()
    expect(page).to_have_url(re.compile(r"/signin\?next="))
    page.get_by_role("textbox", name="Display name").fill("No Script")
    page.get_by_role("button", name="Join the discussion").click()
    page.get_by_role("link", name="I have saved my token").click()  # shown once, to save
    expect(page.get_by_role("heading", level=1)).to_have_text("Reply to comment 3")
    page.get_by_label("Your reply to Sam").fill("Replying with scripts off.")
    shot(page, "no-js-reply-form")
    page.get_by_role("button", name="Post reply").click()
    expect(page).to_have_url(re.compile(r"#c-[0-9a-f-]+$"))
    mine = page.url.rsplit("#c-", 1)[1]
    expect(comment(page, mine)).to_have_attribute("data-number", "3.2")
    expect(comment(page, mine)).to_contain_text("Replying with scripts off.")


def test_sign_in_post_reply_edit_history_retract(new_context):
    page = new_context().new_page()
    sign_in(page, "Walker")
    top = post_comment(page, "A first thought.\nOn two lines.")
    expect(comment(page, top)).to_be_visible()
    expect(comment(page, top).locator(".comment__text").first).to_have_text(
        "A first thought.\nOn two lines."
    )
    number = comment(page, top).get_attribute("data-number")

    # Reply three deep with the inline reply box.
    parent, ids = top, [top]
    for depth in (1, 2, 3):
        comment(page, parent).locator("> article a[data-inline='reply']").click()
        box = comment(page, parent).locator("> article [data-inline-slot] textarea")
        expect(box).to_be_focused()
        box.fill(f"Reply at depth {depth}")
        comment(page, parent).get_by_role("button", name="Post reply").click()
        page.wait_for_url(re.compile(r"#c-(?!" + parent + r")[0-9a-f-]+$"))
        parent = page.url.rsplit("#c-", 1)[1]
        ids.append(parent)
        expect(comment(page, parent)).to_be_visible()
    numbers = [comment(page, i).get_attribute("data-number") for i in ids]
    assert numbers == [number, f"{number}.1", f"{number}.1.1", f"{number}.1.1.1"]
    shot(page, "reply-three-deep")

    # Edit twice, inline.
    for text, reason in (("A second thought.", "clearer"), ("A third, better thought.", "")):
        comment(page, top).locator("> article a[data-inline='edit']").click()
        form = comment(page, top).locator("> article [data-inline-slot] form")
        form.locator("textarea").fill(text)
        form.get_by_label(re.compile("What changed")).fill(reason)
        form.get_by_role("button", name="Save changes").click()
        expect(comment(page, top).locator("> article .comment__text")).to_have_text(text)
    expect(comment(page, top).locator("> article .comment__edited")).to_have_text("edited \u00d72")

    # The history, with the diff.
    comment(page, top).locator("> article .comment__edited").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("History of comment")
    expect(page.locator(".revision")).to_have_count(3)
    expect(page.locator(".revision--edited ins").first).to_be_visible()
    assert "first" in page.locator("#v2 del").first.inner_text()
    assert "second" in page.locator("#v2 ins").first.inner_text()
    page.locator("#compare-from").select_option("1")
    page.locator("#compare-to").select_option("3")
    page.get_by_role("button", name="Compare").click()
    expect(page.locator(".compare__heading")).to_have_text("Version 1 → version 3")
    shot(page, "history", full_page=True)

    # Retract: a placeholder that keeps its replies.
    page.goto(f"{THREAD_PATH}#c-{top}")
    comment(page, top).locator("> article a[data-inline='retract']").click()
    form = comment(page, top).locator("> article [data-inline-slot] form")
    form.get_by_label(re.compile("Reason")).fill("I said it badly")
    form.get_by_role("button", name="Retract comment").click()
    card = comment(page, top).locator("> article")
    expect(card.locator(".comment__placeholder")).to_contain_text("retracted by its author")
    expect(card).not_to_contain_text("better thought")
    expect(comment(page, ids[1])).to_contain_text("Reply at depth 1")
    assert comment(page, ids[3]).get_attribute("data-number") == f"{number}.1.1.1"
    comment(page, top).scroll_into_view_if_needed()
    shot(page, "retracted-placeholder")


def test_time_slider_goes_back_and_returns_to_live(new_context):
    page = new_context().new_page()
    sign_in(page, "Traveller")
    mine = post_comment(page, "Words as first written.")
    comment(page, mine).locator("> article a[data-inline='edit']").click()
    form = comment(page, mine).locator("> article [data-inline-slot] form")
    form.locator("textarea").fill("Words as rewritten later.")
    form.get_by_role("button", name="Save changes").click()
    expect(comment(page, mine).locator("> article .comment__text")).to_have_text(
        "Words as rewritten later."
    )

    page.locator("#timeline summary").click()
    slider = page.locator("#timeline-step")
    slider.focus()
    page.keyboard.press("ArrowLeft")  # one change back: before the edit
    banner = page.locator(".as-of-banner")
    expect(banner).to_contain_text("You are viewing this thread as it was on")
    expect(comment(page, mine).locator("> article .comment__text")).to_have_text(
        "Words as first written."
    )
    expect(page).to_have_url(re.compile(r"\?at=\d+"))
    expect(page.locator("#timeline-point")).to_contain_text("Traveller posted comment")
    expect(page.locator("#new-comment")).to_have_count(0)  # the past is read-only
    shot(page, "time-travel")

    permalink = page.url.split("#")[0]
    fresh = new_context().new_page()
    fresh.goto(permalink)  # the permalink shows the same moment
    expect(fresh.locator(".as-of-banner")).to_be_visible()
    expect(fresh.locator(f"#c-{mine} .comment__text").first).to_have_text("Words as first written.")

    page.get_by_role("link", name="Back to the live thread").click()
    expect(page.locator(".as-of-banner")).to_have_count(0)
    expect(comment(page, mine).locator("> article .comment__text")).to_have_text(
        "Words as rewritten later."
    )


def test_time_slider_reads_older_points_from_the_api(new_context):
    page = new_context().new_page()  # anonymous: the page comes from the page cache
    page.goto(THREAD_PATH)
    with page.expect_response(re.compile(r"/api/v1/threads/[^/]+/timeline")) as answer:
        page.locator("#timeline summary").click()  # opening the box reads the points
    assert answer.value.ok
    slider = page.locator("#timeline-step")
    slider.focus()
    page.keyboard.press("Home")  # the very first change: the thread was opened
    expect(page.locator("#timeline-point")).to_contain_text("The thread was opened")
    expect(page.locator("#timeline-index")).to_have_text("1")
    expect(page.locator(".as-of-banner")).to_contain_text("You are viewing this thread as it was")
    expect(page).to_have_url(re.compile(r"\?at=\d+"))
    expect(page.locator("li.comment")).to_have_count(0)


def test_script_payload_is_shown_as_inert_text(new_context):
    page = new_context().new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    payload = "<script>alert('xss')</script><img src=x onerror=alert('img')>"
    sign_in(page, "<b onmouseover=alert('name')>Eve</b>")
    mine = post_comment(page, payload)
    text = comment(page, mine).locator("> article .comment__text")
    expect(text).to_have_text(payload)
    expect(comment(page, mine).locator(".comment__author")).to_have_text(
        "<b onmouseover=alert('name')>Eve</b>"
    )
    comment(page, mine).locator(".comment__author").hover()
    page.reload()
    page.wait_for_timeout(300)
    assert dialogs == []
    assert page.locator("li.comment img, li.comment script").count() == 0
    comment(page, mine).scroll_into_view_if_needed()
    shot(page, "xss-inert")


def test_moderator_removes_a_comment_for_everybody_else(new_context, server):
    member = new_context().new_page()
    sign_in(member, "Poster")
    doomed = post_comment(member, "Buy cheap watches here!")

    moderator = new_context(token=server.register("Moderator Mo", moderator=True)).new_page()
    moderator.goto(f"{THREAD_PATH}#c-{doomed}")
    expect(moderator.get_by_text("Signed in as Moderator Mo")).to_be_visible()
    comment(moderator, doomed).locator("> article a[data-inline='hide']").click()
    form = comment(moderator, doomed).locator("> article [data-inline-slot] form")
    form.get_by_label(re.compile("Reason")).fill("  ")  # blank: refused by the server
    form.get_by_role("button", name="Remove comment").click()
    error = moderator.locator(".field__error, .form-error").first
    expect(error).to_contain_text("Reason is required")
    moderator.get_by_label(re.compile("Reason")).fill("Spam")
    moderator.get_by_role("button", name="Remove comment").click()
    card = comment(moderator, doomed).locator("> article")
    expect(card.locator(".comment__placeholder")).to_contain_text("removed by a moderator")
    expect(card.locator(".comment__text--hidden")).to_have_text("Buy cheap watches here!")
    shot(moderator, "moderator-view")

    reader = new_context().new_page()  # somebody else, signed out
    reader.goto(THREAD_PATH)
    expect(comment(reader, doomed).locator(".comment__placeholder")).to_contain_text(
        "removed by a moderator"
    )
    expect(reader.locator("body")).not_to_contain_text("cheap watches")
    member.reload()
    expect(member.locator("body")).not_to_contain_text("cheap watches")

    moderator.goto("/audit")
    expect(moderator.locator("tr[data-type='Comment.Hidden']").first).to_contain_text("Spam")
    shot(moderator, "audit-log", full_page=False)


def test_phone_width_and_keyboard(new_context):
    page = new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
    page.goto(THREAD_PATH)
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= 390
    deep = page.locator("li.comment[data-number='6.2.1.1'] > article").bounding_box()
    assert deep["width"] > 300  # indentation collapses: deep replies stay readable
    page.locator("li.comment[data-number='6']").scroll_into_view_if_needed()
    shot(page, "phone")
    page.goto(THREAD_PATH)
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    assert skip.bounding_box()["y"] >= 0  # shown when focused
    outline = skip.evaluate("e => getComputedStyle(e).outlineStyle")
    assert outline != "none"
