"""Held for review, in Chromium (issue 13), on a server with the shipped rules on: a new
author's first comment with three links waits in the queue, invisible to a signed-out
reader, shown to its author as "awaiting review"; a moderator approves it from the
review queue (by keyboard) and everyone sees it. An approved comment edited to add
links shows readers the old text until the edit is approved. The honeypot refuses a
bot that fills it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import THREAD_PATH, Server, running_server, shot, sign_in

pytestmark = pytest.mark.browser

LINKS = "Deals at http://a.example/1 and https://b.example/2 and www.c.example/3"


@pytest.fixture(scope="module")
def held_server(tmp_path_factory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("moderation"), DISCUSS_RULES="default") as s:
        yield s


@pytest.fixture
def people(browser, held_server):
    contexts = []

    def make(token: str | None = None):
        context = browser.new_context(
            base_url=held_server.url, viewport={"width": 1200, "height": 900}
        )
        context.set_default_timeout(10_000)
        if token:
            from web.auth import COOKIE_NAME

            context.add_cookies(
                [{"name": COOKIE_NAME, "value": token, "url": held_server.url, "httpOnly": True}]
            )
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def approve_first_in_queue(moderator: Page, text_part: str) -> None:
    moderator.goto("/moderation")
    item = moderator.locator("[data-review-item]", has_text=text_part)
    expect(item).to_be_visible()
    # By keyboard: j to the first item, a to approve it.
    moderator.keyboard.press("j")
    expect(moderator.locator(".review__item--current")).to_have_count(1)
    assert moderator.locator(".review__item--current").inner_text().find(text_part) >= 0
    shot(moderator, "moderation-queue")
    moderator.keyboard.press("a")
    expect(moderator.get_by_role("status")).to_contain_text("Approved 1 comment")


def test_a_new_authors_links_wait_then_appear_for_everyone(people, held_server):
    author = people()
    sign_in(author, "Newcomer")
    author.goto(THREAD_PATH)
    author.locator("#new-comment textarea").fill(LINKS)
    author.get_by_role("button", name="Post comment").click()
    author.wait_for_url(re.compile(r".*#awaiting-review$"))
    box = author.locator("#awaiting-review")
    expect(box).to_contain_text("Your comment is awaiting review")
    expect(box).to_contain_text(LINKS)
    shot(author, "moderation-awaiting-review")
    assert author.locator("li.comment", has_text=LINKS).count() == 0

    reader = people()
    reader.goto(THREAD_PATH)
    expect(reader.locator("body")).not_to_contain_text("www.c.example")
    expect(reader.locator("#awaiting-review")).to_have_count(0)

    moderator = people(held_server.register("Moderator Mia", moderator=True))
    approve_first_in_queue(moderator, "www.c.example")

    reader.goto(THREAD_PATH)
    expect(reader.locator("li.comment", has_text="www.c.example/3")).to_have_count(1)
    author.goto(THREAD_PATH)
    expect(author.locator("#awaiting-review")).to_have_count(0)
    expect(author.locator("li.comment", has_text="www.c.example/3")).to_have_count(1)


def test_an_approved_comment_edited_to_add_links_keeps_its_old_text_for_readers(
    people, held_server
):
    author = people()
    sign_in(author, "Editor Ed")
    author.goto(THREAD_PATH)
    author.locator("#new-comment textarea").fill("A perfectly ordinary first comment.")
    author.get_by_role("button", name="Post comment").click()
    author.wait_for_url(re.compile(r".*#awaiting-review$"))
    moderator = people(held_server.register("Moderator Max", moderator=True))
    approve_first_in_queue(moderator, "perfectly ordinary")

    author.goto(THREAD_PATH)
    mine = author.locator("li.comment", has_text="A perfectly ordinary first comment.")
    mine.get_by_role("link", name="Edit").first.click()
    author.locator("form[id^=edit-] textarea[name=text]").fill("Now with links: " + LINKS)
    author.get_by_role("button", name="Save changes").click()
    author.wait_for_url(re.compile(r".*#c-[0-9a-f-]+$"))
    expect(author.locator("#awaiting-review")).to_contain_text("Your edit is awaiting review")

    reader = people()
    reader.goto(THREAD_PATH)
    expect(
        reader.locator("li.comment", has_text="A perfectly ordinary first comment.")
    ).to_have_count(1)
    expect(reader.locator("body")).not_to_contain_text("Now with links")

    moderator.goto("/moderation")
    item = moderator.locator("[data-review-item]", has_text="Now with links")
    expect(item.locator("ins")).to_contain_text("www.c.example")
    item.get_by_role("button", name="Approve").click()
    expect(moderator.get_by_role("status")).to_contain_text("Approved 1 comment")
    reader.goto(THREAD_PATH)
    expect(reader.locator("li.comment", has_text="Now with links")).to_have_count(1)


def test_the_honeypot_refuses_a_bot(people, held_server):
    bot = people()
    sign_in(bot, "Bot Bob")
    bot.goto(THREAD_PATH)
    bot.locator("#new-comment textarea").fill("I am a bot")
    # A person never sees the field (it is out of sight and out of the tab order).
    box = bot.locator("#new-comment-website").bounding_box()
    assert box["x"] + box["width"] < 0
    assert bot.locator("#new-comment-website").get_attribute("tabindex") == "-1"
    bot.locator("#new-comment-website").fill("http://spam.example", force=True)
    bot.get_by_role("button", name="Post comment").click()
    expect(bot.locator("#new-comment .form-error")).to_contain_text("could not be posted")
    moderator = people(held_server.register("Moderator Moe", moderator=True))
    moderator.goto("/moderation")
    expect(moderator.locator("body")).not_to_contain_text("I am a bot")
