"""Email end to end, in process: the outbox, the mail channel and sender, a real SMTP
server (aiosmtpd) reading what it received."""

from __future__ import annotations

import pytest

from domain.links import InvalidLink
from tests.mail.conftest import link_in, thread_with_comment
from workers.delivery import deliver_round, senders_for


def event_count(app) -> int:
    return app.head_position()


def run_round(services) -> dict:
    return deliver_round(services.outbox, senders_for(services))


def verified(services, smtp, author_id, address="alice@example.org"):
    app = services.app
    app.add_email_address(author_id, address)
    run_round(services)
    _, message = smtp.recorder.wait_for(1)[-1]
    token = link_in(message, "/account/email/verify/")
    app.verify_email_address(token)
    return token


def test_verify_sign_in_and_reply_notification(services, smtp):
    app = services.app
    _, thread, alice, posted = thread_with_comment(app)
    token = verified(services, smtp, alice.author_id)
    rcpts, message = smtp.recorder.received()[0]
    assert rcpts == ["alice@example.org"]
    assert message["Subject"] == "Confirm your email address"
    assert app.get_author(alice.author_id).email_verified

    # The same link again, a forged one: refused, nothing stored.
    before = event_count(app)
    with pytest.raises(InvalidLink):
        app.verify_email_address(token)
    with pytest.raises(InvalidLink):
        app.verify_email_address(token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    assert event_count(app) == before

    # Replies: opted in globally; bob replies; alice gets one mail.
    app.set_notifications(alice.author_id, replies=True, digest=False)
    bob = app.register_author("bob")
    reply = app.post_comment(
        bob.author_id, thread.thread_id, "hello alice", parent_id=posted.comment_id
    )
    app.post_comment(alice.author_id, thread.thread_id, "own reply", parent_id=posted.comment_id)
    run_round(services)
    rcpts, message = smtp.recorder.wait_for(2)[1]
    assert "bob replied to you" in message["Subject"]
    assert "> hello alice" in message.get_content()
    assert f"/c/{reply.comment_id}" in message.get_content()
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"].startswith(f"<mail.{reply.position}.")
    # Nothing more: her own reply is not mailed to her, and a round sends nothing twice.
    run_round(services)
    assert len(smtp.recorder.received()) == 2

    # Sign in again by an emailed one-time link.
    app.request_sign_in_link(alice.author_id)
    run_round(services)
    _, message = smtp.recorder.wait_for(3)[2]
    link = link_in(message, "/account/email/signin/")
    signed = app.sign_in_by_email(link)
    assert app.authenticate(signed.token).id == alice.author_id
    before = event_count(app)
    with pytest.raises(InvalidLink, match="used already"):
        app.sign_in_by_email(link)
    assert event_count(app) == before

    # One-click unsubscribe: no more reply mails.
    unsubscribe = message_unsubscribe = smtp.recorder.received()[1][1]["List-Unsubscribe"]
    token = unsubscribe.strip("<>").rsplit("/", 1)[1]
    app.unsubscribe(token)
    assert not app.get_author(alice.author_id).wants_replies(thread.thread_id)
    app.post_comment(bob.author_id, thread.thread_id, "again", parent_id=posted.comment_id)
    run_round(services)
    assert len(smtp.recorder.received()) == 3
    assert message_unsubscribe


def test_a_reply_hidden_before_the_send_is_not_mailed(services, smtp):
    app = services.app
    moderator, thread, alice, posted = thread_with_comment(app)
    verified(services, smtp, alice.author_id)
    app.set_notifications(alice.author_id, replies=True, digest=False)
    bob = app.register_author("bob")
    services.outbox.catch_up()  # queued first …
    reply = app.post_comment(bob.author_id, thread.thread_id, "rude", parent_id=posted.comment_id)
    services.outbox.catch_up()
    app.hide_comment(moderator.author_id, reply.comment_id, "rude")  # … hidden before sending
    counts = run_round(services)
    assert counts["dropped"] == 1
    assert len(smtp.recorder.received()) == 1  # the verification mail only
    row = services.outbox.rows("mail", "dropped")[0]
    assert row["position"] == reply.position


def test_failures_retry_with_backoff_then_dead_letter_and_retry_now(services, smtp):
    app = services.app
    _, _, alice, _ = thread_with_comment(app)
    services.outbox.max_attempts = 2
    smtp.recorder.fail = 2  # the SMTP server refuses twice
    app.add_email_address(alice.author_id, "alice@example.org")
    assert run_round(services)["failed"] == 1
    services.outbox.retry("mail")  # due now (skip the backoff)
    assert run_round(services)["failed"] == 1
    status = {s["channel"]: s for s in services.outbox.status()}["mail"]
    assert (status["dead"], status["pending"]) == (1, 0)
    assert run_round(services)["sent"] == 0  # dead stays dead
    assert services.outbox.retry("mail") == 1  # "retry now"
    assert run_round(services)["sent"] == 1
    assert len(smtp.recorder.received()) == 1


def test_erased_author_gets_nothing_and_address_is_gone(services, smtp):
    app = services.app
    _, thread, alice, posted = thread_with_comment(app)
    verified(services, smtp, alice.author_id)
    app.set_notifications(alice.author_id, replies=True, digest=False)
    bob = app.register_author("bob")
    app.post_comment(bob.author_id, thread.thread_id, "hi", parent_id=posted.comment_id)
    services.outbox.catch_up()
    app.erase_author(alice.author_id, alice.author_id, "author_request")
    author = app.get_author(alice.author_id)
    assert app.email_address(author) is None
    assert app.opener.open(author.email) is not None and not isinstance(
        app.opener.open(author.email), str
    )
    assert run_round(services)["dropped"] == 1
    assert len(smtp.recorder.received()) == 1


def test_digest_batches_replies_into_one_mail_at_the_end_of_its_window(services, smtp):
    app = services.app
    _, thread, alice, posted = thread_with_comment(app)
    verified(services, smtp, alice.author_id)
    app.set_notifications(alice.author_id, replies=True, digest=True)
    bob = app.register_author("bob")
    carol = app.register_author("carol")
    app.post_comment(bob.author_id, thread.thread_id, "one", parent_id=posted.comment_id)
    app.post_comment(carol.author_id, thread.thread_id, "two", parent_id=posted.comment_id)
    assert run_round(services)["sent"] == 0  # the window is not over
    rows = services.outbox.rows("mail", "pending")
    assert len(rows) == 2 and all(r["due_at"] > r["queued_at"] for r in rows)
    services.outbox.retry("mail")  # as if the window were over
    assert run_round(services)["sent"] == 2
    ((_, message),) = smtp.recorder.received()[1:]
    assert message["Subject"] == "2 replies to your comments"
    body = message.get_content()
    assert "> one" in body and "> two" in body and "carol replied" in body
