"""The Email section of the account (/account/email), the links mailed to authors, and
the moderators' outbox page (/moderation/outbox).

A blueprint of its own (linked from the account page): add, verify, change or remove an
address; choose reply notifications (everywhere, in one thread, as a digest); sign in
again by an emailed one-time link; one-click unsubscribe (RFC 8058: the link's POST
needs no CSRF token, since mail clients post it themselves, and the signed link is the
proof). Links first show a page with a button: mail scanners that fetch every link in a
mail must not use up a one-time link. A forged, expired or used link gives a clear
page and changes nothing.
"""

from __future__ import annotations

from uuid import UUID

from flask import Blueprint, Flask, g, make_response, redirect, render_template, request, url_for
from marshmallow import ValidationError

from domain.email_accounts import SIGN_IN, UNSUBSCRIBE, VERIFY, EmailNotConfigured
from domain.errors import DomainError
from projections.email_addresses import authors_with_address
from web.errors import DOMAIN_STATUS
from web.pages import csrf, security_headers
from web.pages.auth import set_token_cookie
from web.pages.common import application, engine, is_moderator, resolve_thread, viewer, wrote
from web.pages.errors import error_page
from web.runtime import runtime
from web.schemas_email import AddressForm, NotificationsForm, RetryForm, ThreadNotificationsForm

bp = Blueprint("email", __name__)
bp.after_request(security_headers)

LINK_TITLE = "This link does not work"


def register_email_pages(app: Flask) -> None:
    app.register_blueprint(bp)


def _settings():
    return runtime().services.settings


def _form(schema) -> dict:
    try:
        return schema.load(request.form.to_dict())
    except ValidationError as error:
        field, messages = next(iter(error.messages.items()))
        message = messages[0] if isinstance(messages, list) else messages
        raise _Refused(422, f"{field}: {message}") from None


class _Refused(Exception):
    def __init__(self, status: int, message: str, title: str | None = None):
        super().__init__(message)
        self.status, self.message, self.title = status, message, title


@bp.errorhandler(_Refused)
def refused(error: _Refused):
    return error_page(error.status, error.message, error.title)


@bp.errorhandler(DomainError)
def domain_error(error: DomainError):
    return error_page(DOMAIN_STATUS.get(error.kind, 409), error.message)


def _signed_in():
    author = viewer()
    if author is None:
        return None, redirect(url_for("pages.signin", next=request.path))
    return author, None


def _back(position: int | None, notice: str):
    if position:
        wrote(position)
    return redirect(url_for("email.settings", done=notice))


# ---- the Email section -----------------------------------------------------------------


NOTICES = {
    "added": "We sent a link to that address: open it to confirm the address.",
    "removed": "The address is removed, and forgotten.",
    "saved": "Your choices are saved.",
    "verified": "Your address is confirmed.",
}


@bp.get("/account/email")
def settings():
    author, refusal = _signed_in()
    if refusal is not None:
        return refusal
    app = application()
    return render_template(
        "email.html",
        address=app.email_address(author),
        verified=author.email_verified,
        replies=author.notify_replies,
        digest=author.notify_digest,
        threads=sorted(author.thread_replies.items()),
        moderator=author.is_moderator,
        reviews=author.notify_reviews,
        configured=bool(_settings().smtp_url),
        notice=NOTICES.get(request.args.get("done", "")),
        digest_minutes=_settings().digest_minutes,
    )


@bp.post("/account/email/address")
def add_address():
    author, refusal = _signed_in()
    if refusal is not None:
        return refusal
    if not _settings().smtp_url:
        raise EmailNotConfigured("this site sends no mail (no SMTP server is configured)")
    values = _form(AddressForm())
    changed = application().add_email_address(author.id, values["address"])
    return _back(changed.position, "added")


@bp.post("/account/email/remove")
def remove_address():
    author, refusal = _signed_in()
    if refusal is not None:
        return refusal
    changed = application().remove_email_address(author.id)
    return _back(changed.position, "removed")


@bp.post("/account/email/notifications")
def notifications():
    author, refusal = _signed_in()
    if refusal is not None:
        return refusal
    values = _form(NotificationsForm())
    changed = application().set_notifications(
        author.id, replies=values["replies"], digest=values["digest"]
    )
    return _back(changed.position, "saved")


@bp.post("/account/email/reviews")
def review_notifications():
    author, refusal = _signed_in()
    if refusal is not None:
        return refusal
    values = _form(NotificationsForm())
    changed = application().set_review_notifications(author.id, values["replies"])
    return _back(changed.position, "saved")


@bp.post("/account/email/thread")
def thread_notifications():
    author, refusal = _signed_in()
    if refusal is not None:
        return refusal
    values = _form(ThreadNotificationsForm())
    try:
        thread_id = UUID(resolve_thread(values["thread"]))
    except Exception:
        raise _Refused(404, "there is no such thread") from None
    replies = {"on": True, "off": False, "default": None}[values["replies"]]
    changed = application().set_thread_notifications(author.id, thread_id, replies)
    back = request.form.get("back")
    if back and back.startswith("/") and not back.startswith("//"):
        wrote(changed.position)
        return redirect(back)
    return _back(changed.position, "saved")


# ---- links from mails ------------------------------------------------------------------


def _check(purpose: str, token: str) -> None:
    """Signature and expiry, before showing the button (the POST checks everything)."""
    app = application()
    if app.links is None:
        raise _Refused(400, "links cannot be checked here", LINK_TITLE)
    try:
        app.links.open(purpose, token)
    except DomainError as error:
        raise _Refused(400, error.message, LINK_TITLE) from None


def _link_page(title: str, intro: str, submit: str, action: str):
    return render_template(
        "email_link.html", title=title, intro=intro, submit=submit, action=action
    )


def _link_refused(error: DomainError):
    return error_page(400, error.message, LINK_TITLE)


@bp.route("/account/email/verify/<token>", methods=["GET", "POST"])
def verify(token: str):
    if request.method == "GET":
        _check(VERIFY, token)
        return _link_page(
            "Confirm your email address",
            "Confirm that this address is yours: replies and sign-in links can then be"
            " mailed to it.",
            "Confirm my address",
            url_for("email.verify", token=token),
        )
    try:
        changed = application().verify_email_address(token)
    except DomainError as error:
        return _link_refused(error)
    wrote(changed.position)
    if viewer() is not None:
        return redirect(url_for("email.settings", done="verified"))
    return render_template(
        "email_done.html", title="Address confirmed", message=NOTICES["verified"]
    )


@bp.route("/account/email/signin", methods=["GET", "POST"])
def sign_in_request():
    sent = False
    if request.method == "POST":
        values = _form(AddressForm())
        app = application()
        try:
            digest = app.address_digest(values["address"])
        except DomainError as error:
            raise _Refused(422, error.message) from None
        for author_id in authors_with_address(engine(), digest):
            changed = app.request_sign_in_link(UUID(author_id))
            if changed is not None:
                runtime().after_write(changed.position)
        sent = True  # the same answer whether or not the address is known
    return render_template("email_signin.html", sent=sent, configured=bool(_settings().smtp_url))


@bp.route("/account/email/signin/<token>", methods=["GET", "POST"])
def sign_in(token: str):
    if request.method == "GET":
        _check(SIGN_IN, token)
        return _link_page(
            "Sign in",
            "This link signs you in once. Your other sign-ins keep working.",
            "Sign me in",
            url_for("email.sign_in", token=token),
        )
    try:
        signed = application().sign_in_by_email(token)
    except DomainError as error:
        return _link_refused(error)
    wrote(signed.position)
    response = make_response(redirect(url_for("pages.account")))
    set_token_cookie(response, signed.token)
    g.clear_token_cookie = False
    return response


@bp.route("/account/email/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe(token: str):
    if request.method == "GET":
        _check(UNSUBSCRIBE, token)
        return _link_page(
            "Stop reply mails",
            "No more mails about replies (for that thread, or everywhere if you chose"
            " replies everywhere). You can turn them on again in your account.",
            "Unsubscribe",
            url_for("email.unsubscribe", token=token),
        )
    try:
        changed = application().unsubscribe(token)
    except DomainError as error:
        return _link_refused(error)
    runtime().after_write(changed.position)
    return render_template(
        "email_done.html", title="Unsubscribed", message="You will get no more reply mails."
    )


# ---- moderators: the outbox ----------------------------------------------------------------


@bp.get("/moderation/outbox")
def outbox():
    if not is_moderator():
        raise _Refused(403, "only moderators may see the outbox")
    box = runtime().services.outbox
    return render_template(
        "outbox.html",
        channels=box.status(),
        dead=box.rows(state="dead"),
        recent=box.rows(limit=30),
        done=request.args.get("retried"),
    )


@bp.post("/moderation/outbox/retry")
def outbox_retry():
    if not is_moderator():
        raise _Refused(403, "only moderators may retry deliveries")
    values = _form(RetryForm())
    count = runtime().services.outbox.retry(values["channel"], values["position"])
    services = runtime().services
    if services.delivery is not None:
        services.delivery.nudge()
    return redirect(url_for("email.outbox", retried=count))
