"""Sign in by picking a display name (registers an author, whose token is shown once to
be saved) or with a saved token. The browser's own session token lives in an HttpOnly,
SameSite=Lax cookie (Secure on HTTPS); signing out is in web/pages/tokens.py.

The account page: the signed-in author's name, "Download my data" (the JSON API's
export, which takes the sign-in cookie as well as a bearer token), and "Erase my
account" behind a confirmation page that says what happens and asks for a phrase."""

from __future__ import annotations

from flask import current_app, g, make_response, redirect, render_template, request, url_for

from domain.errors import DomainError, NotAuthenticated
from domain.model import SESSION
from web.auth import authenticate, forget_author
from web.errors import DOMAIN_STATUS, ApiError
from web.pages import bp, forms
from web.pages.common import (
    application,
    delete_token_cookie,
    is_local_path,
    set_token_cookie,
    viewer,
    viewer_name,
    write_limits,
    wrote,
)
from web.pages.moderation import confirm_page
from web.pages.tokens import new_token_page, token_list
from web.schemas import ERASE_ACCOUNT_CONFIRMATION


def _open_registration() -> bool:
    return current_app.extensions["discuss_settings"].open_registration


def _forms(next_url: str) -> tuple[forms.Form, forms.Form]:
    by_name = forms.Form(
        action=url_for("pages.signin"),
        submit="Join the discussion",
        fields=[
            forms.Field(
                "name",
                "Display name",
                "text",
                required=True,
                maxlength=80,
                help="Shown next to your comments. It cannot be changed later.",
            ),
            forms.Field("next", kind="hidden", value=next_url),
            forms.Field("how", kind="hidden", value="name"),
        ],
        id="signin-name",
    )
    by_token = forms.Form(
        action=url_for("pages.signin"),
        submit="Sign in with token",
        fields=[
            forms.Field(
                "token",
                "Access token",
                "secret",
                required=True,
                help="The token you saved when you joined (or got from your account page,"
                " or from `discuss register`).",
            ),
            forms.Field("next", kind="hidden", value=next_url),
            forms.Field("how", kind="hidden", value="token"),
        ],
        id="signin-token",
    )
    return by_name, by_token


@bp.route("/signin", methods=["GET", "POST"])
@write_limits
def signin():
    """Sign up by name (a new author: their token is shown once, to save) or sign in
    with a saved token. Either way this browser gets a session token of its own in the
    cookie, which signing out revokes; the saved token stays the way back."""
    asked = request.values.get("next")
    if asked and not is_local_path(asked):
        # Refused before anything is stored (a bad `next` once failed after the author was).
        raise ApiError(400, "bad_request", "the page to go back to must be a path on this site")
    next_url = asked or "/"
    by_name, by_token = _forms(next_url)
    status = 200
    if request.method == "POST":
        how = request.form.get("how", "name")
        try:
            if how == "token":
                by_token.fill_from_request()
                author = authenticate(forms.posted("token").strip())
                issued = application().issue_token(author.id, SESSION)
                wrote(issued.position)
                response = make_response(redirect(next_url))
                session_token = issued.token
            else:
                by_name.fill_from_request()
                if not _open_registration():
                    raise NotAuthenticated("Registration is closed here: sign in with a token.")
                registration = application().register_author(forms.posted("name"), session=True)
                wrote(registration.position)
                response = new_token_page(registration.token, registration.name, next_url)
                session_token = registration.session_token
        except DomainError as error:
            target = by_token if how == "token" else by_name
            status = target.fail(error)
            if how == "token":
                by_token.get("token").value = ""  # never echo a secret back
                status = DOMAIN_STATUS.get(error.kind, 401)
        else:
            set_token_cookie(response, session_token)
            g.clear_token_cookie = False
            return response
    body = render_template(
        "signin.html",
        by_name=by_name,
        by_token=by_token,
        open_registration=_open_registration(),
        already={"name": viewer_name()} if viewer() else None,
    )
    return body, status


def _signed_in_or_redirect():
    author = viewer()
    if author is None:
        return None, redirect(url_for("pages.signin", next=request.full_path.rstrip("?")))
    return author, None


@bp.get("/account")
def account():
    author, refusal = _signed_in_or_redirect()
    if refusal is not None:
        return refusal
    return render_template(
        "account.html",
        erased=False,
        name=viewer_name(),
        role=author.role,
        registered_at=author.created_on,
        export_url=url_for("authors.export_me"),
        tokens=token_list(author),
        replies_feed_url=url_for("pages.replies_feed", author_id=author.id),
    )


ERASE_ACCOUNT_POINTS = (
    "Every comment you wrote, and every version of it, is destroyed for good, with your"
    " name: nobody can read them again, moderators and the operator included. This"
    " cannot be undone.",
    "Replies by others stay where they are, under an “erased” placeholder.",
    "Your account can never sign in again: its token stops working at once.",
    "The erasure is listed publicly (that an account was erased, and when), without"
    " anything it said.",
)


@bp.route("/account/erase", methods=["GET", "POST"])
@write_limits
def erase_account():
    author, refusal = _signed_in_or_redirect()
    if refusal is not None:
        return refusal
    form = forms.Form(
        action=url_for("pages.erase_account"),
        submit="Erase my account for good",
        fields=[
            forms.Field(
                "confirm",
                f"Type “{ERASE_ACCOUNT_CONFIRMATION}” to confirm",
                "text",
                required=True,
                maxlength=100,
            )
        ],
        cancel=url_for("pages.account"),
        danger=True,
        id="erase-account",
    )
    status = 200
    if request.method == "POST":
        form.fill_from_request()
        if forms.posted("confirm").strip() != ERASE_ACCOUNT_CONFIRMATION:
            phrase = form.get("confirm")
            phrase.error = f"Type “{ERASE_ACCOUNT_CONFIRMATION}” exactly to erase your account."
            status = 422
        else:
            try:
                changed = application().erase_author(author.id, author.id, "author_request")
            except DomainError as error:
                status = form.fail(error)
            else:
                forget_author(author.id)
                wrote(changed.position)
                response = make_response(redirect(url_for("pages.account_erased")))
                delete_token_cookie(response)
                g.clear_token_cookie = False
                return response
    return confirm_page(
        "Erase my account",
        [("Your account", url_for("pages.account"))],
        form,
        intro=f"Signed in as {viewer_name() or 'an author whose name is unavailable'}.",
        points=ERASE_ACCOUNT_POINTS,
        status=status,
    )


@bp.get("/account/erased")
def account_erased():
    return render_template("account.html", erased=True)
