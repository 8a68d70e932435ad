"""Coming back by email, in Chromium (issue 12): sign up, save the token shown once, add
and confirm an address from the Email section, sign out everywhere, then sign in again
by a one-time link mailed to that address — the same author as before. A second use of
the link gives a clear refusal.

The server is gunicorn on the embedded default with a real SMTP server (aiosmtpd, in
this process); mails go out from the delivery thread of the web process
(workers/delivery.py), so the test waits for them with a bounded poll. Links in mail
point at DISCUSS_PUBLIC_URL, set to the server's own address: the browser opens them
as a reader would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Server, _free_port, running_server, shot
from tests.support.smtp import SmtpServer

THREAD = "/t/by-email"
ADDRESS = "returner@example.org"


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as started:
        yield started


@pytest.fixture(scope="module")
def server(tmp_path_factory, smtp: SmtpServer) -> Iterator[Server]:
    """This module's own server (overrides the session one): it sends mail."""
    port = _free_port()
    with running_server(
        tmp_path_factory.mktemp("email-server"),
        port=port,
        DISCUSS_SMTP_URL=smtp.url,
        DISCUSS_PUBLIC_URL=f"http://127.0.0.1:{port}",
    ) as started:
        started.discuss("open-thread", "Coming back by email", "--key", "by-email")
        yield started


def mailed_link(smtp: SmtpServer, count: int, server: Server, path: str) -> str:
    """The link under `path` in the `count`th mail, sent to ADDRESS (waits for it)."""
    rcpts, message = smtp.recorder.wait_for(count, timeout=20)[count - 1]
    assert rcpts == [ADDRESS]
    found = re.search(rf"{re.escape(server.url + path)}\S+", message.get_content())
    assert found, message.get_content()
    return found.group(0)


def open_link(page: Page, link: str, heading: str, button: str):
    """Open a mailed link: a page with one button (a GET changes nothing); press it."""
    page.goto(link)
    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name=button).click()
    return navigation.value


def test_sign_up_add_an_address_sign_out_everywhere_and_come_back_by_email(
    new_context, server, smtp
):
    laptop = new_context().new_page()
    laptop.goto(f"/signin?next={THREAD}")
    laptop.get_by_role("textbox", name="Display name").fill("Mailable")
    laptop.get_by_role("button", name="Join the discussion").click()
    expect(laptop.get_by_role("heading", name="Save your token")).to_be_visible()
    token = laptop.get_by_label("Your token").input_value()
    assert re.fullmatch(r"[0-9a-f-]{36}\.[A-Za-z0-9_-]{20,}", token)
    laptop.get_by_role("link", name="I have saved my token").click()
    laptop.wait_for_url(f"**{THREAD}")
    laptop.locator("#new-comment textarea").fill("Written before signing out.")
    laptop.get_by_role("button", name="Post comment").click()
    laptop.wait_for_url(re.compile(r".*#c-[0-9a-f-]+$"))
    comment_id = laptop.url.rsplit("#c-", 1)[1]

    # The account page's Email section: add an address, confirm it from the mail.
    laptop.goto("/account")
    laptop.get_by_role("link", name="Email: sign-in links and reply notifications").click()
    laptop.wait_for_url("**/account/email")
    laptop.get_by_label("Email address").fill(ADDRESS)
    laptop.get_by_role("button", name="Send me a confirmation link").click()
    expect(laptop.get_by_text("We sent a link to that address")).to_be_visible()
    expect(laptop.get_by_text("not confirmed yet")).to_be_visible()
    verify = mailed_link(smtp, 1, server, "/account/email/verify/")
    response = open_link(laptop, verify, "Confirm your email address", "Confirm my address")
    assert response.ok
    laptop.wait_for_url("**/account/email?done=verified")
    expect(laptop.get_by_text("Your address is confirmed.")).to_be_visible()
    expect(laptop.get_by_text(f"{ADDRESS} — confirmed")).to_be_visible()
    shot(laptop, "email-address-confirmed")

    # Sign out everywhere: the browser's session ends, and so does every other.
    laptop.goto("/account")
    laptop.get_by_role("link", name="Sign out everywhere…").click()
    laptop.get_by_role("button", name="Sign out everywhere").click()
    expect(laptop.get_by_role("link", name="Sign in", exact=True)).to_be_visible()
    expect(laptop.get_by_text("Signed in as")).to_have_count(0)

    # Back, without the token: the sign-in page's "sign in by email".
    laptop.goto(f"/signin?next={THREAD}")
    laptop.get_by_role("link", name="Lost your token? Sign in by email").click()
    expect(laptop.get_by_role("heading", name="Sign in by email")).to_be_visible()
    laptop.get_by_label("Email address").fill(ADDRESS.upper())  # addresses ignore case
    laptop.get_by_role("button", name="Mail me a sign-in link").click()
    expect(laptop.get_by_text("a sign-in link is on its way")).to_be_visible()
    link = mailed_link(smtp, 2, server, "/account/email/signin/")
    response = open_link(laptop, link, "Sign in", "Sign me in")
    assert response.ok
    laptop.wait_for_url("**/account")
    expect(laptop.get_by_text("Signed in as Mailable")).to_be_visible()
    expect(laptop.locator(".account-details dd").first).to_have_text("Mailable")
    shot(laptop, "email-signed-in-again", full_page=True)
    laptop.goto(THREAD)
    mine = laptop.locator(f"#c-{comment_id}")
    expect(mine.get_by_role("link", name="Edit")).to_be_visible()  # still its author

    # The same link a second time (another browser): a clear refusal, not signed in.
    other = new_context().new_page()
    response = open_link(other, link, "Sign in", "Sign me in")
    assert response.status == 400
    expect(other.get_by_role("heading", name="This link does not work")).to_be_visible()
    expect(other.get_by_text("this link has been used already")).to_be_visible()
    expect(other.get_by_text("Signed in as")).to_have_count(0)
    shot(other, "email-link-used-twice")
    assert len(smtp.recorder.received()) == 2  # nothing else was mailed


def test_a_moderators_email_page_has_a_plain_title(new_context, server):
    moderator = new_context(server.register("Mailing moderator", moderator=True)).new_page()
    moderator.goto("/account/email")
    expect(moderator.get_by_role("heading", name="Comments awaiting review")).to_have_count(1)
    assert moderator.title() == "Email · Discuss"
