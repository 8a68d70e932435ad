"""Mail and the moderation queue: a held reply is mailed to the parent's author only
once approved (once), never when rejected; moderators who asked get "awaiting review"
mails, dropped when the comment was reviewed before the send."""

from __future__ import annotations

import pytest

from domain.errors import PermissionDenied
from tests.mail.conftest import link_in, thread_with_comment
from workers.delivery import deliver_round, senders_for


def run_round(services) -> dict:
    return deliver_round(services.outbox, senders_for(services))


def verify(services, smtp, author_id, address) -> None:
    app = services.app
    app.add_email_address(author_id, address)
    run_round(services)
    message = next(m for rcpts, m in smtp.recorder.received() if rcpts == [address])
    app.verify_email_address(link_in(message, "/account/email/verify/"))


def mails_to(smtp, address) -> list:
    return [m for rcpts, m in smtp.recorder.received() if rcpts == [address]]


def test_held_reply_is_mailed_once_when_approved_and_moderators_are_told(services, smtp):
    app = services.app
    moderator, thread, alice, posted = thread_with_comment(app)
    verify(services, smtp, alice.author_id, "alice@example.org")
    verify(services, smtp, moderator.author_id, "mod@example.org")
    app.set_notifications(alice.author_id, replies=True, digest=False)
    app.set_review_notifications(moderator.author_id, True)
    services.engine.catch_up_all()  # the reviewers read model
    bob = app.register_author("bob")
    before = app.head_position()
    with pytest.raises(PermissionDenied):
        app.set_review_notifications(bob.author_id, True)
    assert app.head_position() == before

    held = app.post_comment(
        bob.author_id,
        thread.thread_id,
        "held reply",
        parent_id=posted.comment_id,
        held_by=["links"],
    )
    run_round(services)
    assert len(mails_to(smtp, "alice@example.org")) == 1  # the verification only
    (review,) = [m for m in mails_to(smtp, "mod@example.org") if "awaits review" in m["Subject"]]
    assert "> held reply" in review.get_content()
    assert review["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    app.approve_comment(moderator.author_id, held.comment_id)
    run_round(services)
    replies = mails_to(smtp, "alice@example.org")[1:]
    assert len(replies) == 1 and "> held reply" in replies[0].get_content()
    run_round(services)
    assert len(mails_to(smtp, "alice@example.org")) == 2

    # Rejected: never mailed to alice; reviewed before the send: no review mail.
    rejected = app.post_comment(
        bob.author_id, thread.thread_id, "spam", parent_id=posted.comment_id, held_by=["links"]
    )
    services.outbox.catch_up()
    app.reject_comment(moderator.author_id, rejected.comment_id)
    counts = run_round(services)
    assert counts["dropped"] == 1 and counts["sent"] == 0
    assert len(mails_to(smtp, "alice@example.org")) == 2
    assert len(mails_to(smtp, "mod@example.org")) == 2  # verification + one review
