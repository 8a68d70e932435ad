"""The Email section and the mailed links as a browser uses them, with a real SMTP
server (aiosmtpd) and the embedded delivery thread of the web process."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from flask import Flask

from domain.model import OPERATOR_ID
from domain.settings import Database, Settings
from tests.pages.conftest import page, send, sign_in, sign_in_moderator
from tests.support.smtp import SmtpServer
from web import create_app
from workers.bootstrap import forget_services
from workers.seed import load_seed


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def flask_app(sqlite_database: Database, smtp: SmtpServer) -> Iterator[Flask]:
    settings = Settings.from_env(
        database=sqlite_database,
        redis_url=None,
        embedded_runner=True,
        write_rate_limit="10000 per minute",
        smtp_url=smtp.url,
        public_url="http://discuss.test",
    )
    app = create_app(settings)
    runtime = app.extensions["discuss"]
    assert runtime.wait_for(load_seed(runtime.services.app).position, timeout=10)
    yield app
    runtime.stop()
    forget_services()


def path_of(message, prefix: str) -> str:
    found = re.search(rf"http://discuss\.test({re.escape(prefix)}\S+)", message.get_content())
    assert found, message.get_content()
    return found.group(1)


def head(flask_app) -> int:
    return flask_app.extensions["discuss"].services.app.head_position()


def test_add_verify_sign_out_and_sign_in_by_email(client, flask_app, smtp):
    sign_in(client, "Mira")
    assert "/account/email" in page(client, "/account")
    response = send(
        client, "/account/email", "/account/email/address", {"address": "mira@example.org"}
    )
    assert response.status_code == 302
    ((rcpts, message),) = smtp.recorder.wait_for(1)
    assert rcpts == ["mira@example.org"]
    verify = path_of(message, "/account/email/verify/")
    assert "Confirm my address" in page(client, verify)  # a GET changes nothing
    response = send(client, verify, verify, {})
    assert response.status_code == 302
    assert "confirmed" in page(client, "/account/email")

    # The same link again: a clear page, nothing stored.
    before = head(flask_app)
    response = send(client, "/account/email", verify, {})
    assert response.status_code == 400
    assert "This link does not work" in response.get_data(as_text=True)
    assert head(flask_app) == before

    # Signed out, sign in again by an emailed link.
    client.delete_cookie("discuss_token")
    client.post("/signout", data={"csrf_token": "x"})
    fresh = flask_app.test_client()
    response = send(
        fresh, "/account/email/signin", "/account/email/signin", {"address": "MIRA@example.org"}
    )
    assert "a sign-in link is on its way" in response.get_data(as_text=True)
    _, message = smtp.recorder.wait_for(2)[1]
    link = path_of(message, "/account/email/signin/")
    response = send(fresh, link, link, {})
    assert response.status_code == 302 and response.headers["Location"].endswith("/account")
    assert "Mira" in page(fresh, "/account")
    # Used once: refused the second time, nothing stored.
    before = head(flask_app)
    other = flask_app.test_client()
    response = send(other, "/account/email/signin", link, {})
    assert response.status_code == 400
    assert "used already" in response.get_data(as_text=True)
    assert head(flask_app) == before

    # An unknown address: the same answer, no event, no mail.
    before = head(flask_app)
    response = send(
        other, "/account/email/signin", "/account/email/signin", {"address": "who@example.org"}
    )
    assert "a sign-in link is on its way" in response.get_data(as_text=True)
    assert head(flask_app) == before


def test_forged_and_expired_links_give_a_clear_page_and_change_nothing(client, flask_app):
    before = head(flask_app)
    for url in (
        "/account/email/verify/abc.1.99999999999.forged",
        "/account/email/signin/0.0.1.AAAA",
        "/account/email/unsubscribe/x",
    ):
        response = client.get(url)
        assert response.status_code == 400, url
        assert "This link does not work" in response.get_data(as_text=True)
        assert "not valid" in response.get_data(as_text=True)
        response = client.post(url, data={"List-Unsubscribe": "One-Click"})
        assert response.status_code in (400, 403), url
    app = flask_app.extensions["discuss"].services.app
    expired = app.links.sign("sign-in", "00000000-0000-0000-0000-000000000001", 2, expires=1000)
    response = client.get(f"/account/email/signin/{expired}")
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)
    assert head(flask_app) == before


def test_one_click_unsubscribe_rfc8058(client, flask_app, smtp):
    services = flask_app.extensions["discuss"].services
    app = services.app
    sign_in(client, "Ada")
    send(client, "/account/email", "/account/email/address", {"address": "ada@example.org"})
    _, message = smtp.recorder.wait_for(1)[0]
    verify = path_of(message, "/account/email/verify/")
    send(client, verify, verify, {})
    send(client, "/account/email", "/account/email/notifications", {"replies": "1"})
    ada = app.authenticate(client.get_cookie("discuss_token").value)
    thread_id = app.open_thread(OPERATOR_ID, "Ada's thread", key="ada-thread").thread_id
    mine = app.post_comment(ada.id, thread_id, "my comment")
    bob = app.register_author("Bob")
    app.post_comment(bob.author_id, thread_id, "a reply", parent_id=mine.comment_id)
    services.after_write(head(flask_app))
    _, message = smtp.recorder.wait_for(2)[1]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = message["List-Unsubscribe"].strip("<>").replace("http://discuss.test", "")
    # The mail client posts, without any cookie or CSRF token.
    response = flask_app.test_client().post(url, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert not app.get_author(ada.id).wants_replies(thread_id)


def test_moderators_see_dead_letters_and_retry_now(client, flask_app, smtp):
    services = flask_app.extensions["discuss"].services
    assert client.get("/moderation/outbox").status_code == 403
    sign_in_moderator(client, flask_app)
    services.outbox.max_attempts = 1
    smtp.recorder.fail = 1
    app = services.app
    someone = app.register_author("Someone")
    app.add_email_address(someone.author_id, "someone@example.org")
    services.after_write(head(flask_app))
    deadline = time.monotonic() + 10
    while not services.outbox.rows(state="dead"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    html = page(client, "/moderation/outbox")
    assert "Dead letters" in html and "verify" in html
    response = send(client, "/moderation/outbox", "/moderation/outbox/retry", {"channel": "mail"})
    assert response.status_code == 302
    smtp.recorder.wait_for(1)


def test_the_projections_endpoint_reports_the_channels(client, flask_app):
    body = client.get("/api/v1/projections").get_json()
    (mail,) = [c for c in body["channels"] if c["channel"] == "mail"]
    assert set(mail) >= {"position", "pending", "sent", "dead", "dropped"}


def test_moderators_choose_awaiting_review_mails_members_cannot(client, flask_app):
    services = flask_app.extensions["discuss"].services
    sign_in(client, "Member")
    assert "Comments awaiting review" not in page(client, "/account/email")
    before = head(flask_app)
    response = send(client, "/account/email", "/account/email/reviews", {"replies": "1"})
    assert response.status_code == 403
    assert head(flask_app) == before
    moderator = flask_app.test_client()
    sign_in_moderator(moderator, flask_app)
    assert "Comments awaiting review" in page(moderator, "/account/email")
    response = send(moderator, "/account/email", "/account/email/reviews", {"replies": "1"})
    assert response.status_code == 302
    mod = services.app.authenticate(moderator.get_cookie("discuss_token").value)
    assert mod.notify_reviews
