"""An account that survives, in Chromium (issue 12): sign up, save the token shown once,
sign out everywhere (every browser's session ends), and come back with the token —
still the author of the comment written before."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import shot

THREAD = "/t/accounts"


def test_sign_up_save_the_token_sign_out_everywhere_and_come_back(new_context, server):
    # A thread of its own: the other browser tests count the demo thread's comments.
    server.discuss("open-thread", "Accounts that survive", "--key", "accounts")
    laptop = new_context().new_page()
    laptop.goto(f"/signin?next={THREAD}")
    laptop.get_by_role("textbox", name="Display name").fill("Returner")
    laptop.get_by_role("button", name="Join the discussion").click()
    expect(laptop.get_by_role("heading", name="Save your token")).to_be_visible()
    token = laptop.get_by_label("Your token").input_value()
    assert re.fullmatch(r"[0-9a-f-]{36}\.[A-Za-z0-9_-]{20,}", token)
    shot(laptop, "account-save-your-token")
    laptop.get_by_role("link", name="I have saved my token").click()
    laptop.wait_for_url(f"**{THREAD}")
    laptop.locator("#new-comment textarea").fill("Written before signing out.")
    laptop.get_by_role("button", name="Post comment").click()
    laptop.wait_for_url(re.compile(r".*#c-[0-9a-f-]+$"))
    comment_id = laptop.url.rsplit("#c-", 1)[1]

    phone = new_context().new_page()  # a second browser, signed in with the token
    phone.goto("/signin")
    phone.get_by_label("Access token").fill(token)
    phone.get_by_role("button", name="Sign in with token").click()
    expect(phone.get_by_text("Signed in as Returner")).to_be_visible()

    laptop.get_by_role("link", name="Sign out").click()
    expect(laptop.get_by_role("heading", name="Sign out")).to_be_visible()
    expect(laptop.get_by_text("To come back you need your saved token")).to_be_visible()
    shot(laptop, "account-sign-out")
    laptop.get_by_role("button", name="Sign out everywhere").click()
    expect(laptop.get_by_role("link", name="Sign in", exact=True)).to_be_visible()

    phone.reload()  # its session was ended too
    expect(phone.get_by_role("link", name="Sign in", exact=True)).to_be_visible()
    expect(phone.get_by_text("Signed in as")).to_have_count(0)

    back = new_context().new_page()  # cookies gone: only the saved token
    back.goto(f"/signin?next={THREAD}")
    back.get_by_label("Access token").fill(token)
    back.get_by_role("button", name="Sign in with token").click()
    back.wait_for_url(f"**{THREAD}")
    expect(back.get_by_text("Signed in as Returner")).to_be_visible()
    mine = back.locator(f"#c-{comment_id}")
    expect(mine.get_by_role("link", name="Edit")).to_be_visible()  # still its author
    back.goto("/account")
    expect(back.get_by_role("heading", name="Your tokens")).to_be_visible()
    shot(back, "account-tokens", full_page=True)
