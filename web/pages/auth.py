"""Sign in by picking a display name (registers an author) or with an existing token,
and sign out. The token lives in an HttpOnly, SameSite=Lax cookie (Secure on HTTPS)."""

from __future__ import annotations

from flask import current_app, g, make_response, redirect, render_template, request, url_for

from domain.errors import DomainError, NotAuthenticated
from web.auth import COOKIE_NAME
from web.errors import DOMAIN_STATUS
from web.pages import bp, forms
from web.pages.common import safe_next, service, viewer, write_limits, wrote

COOKIE_MAX_AGE = 365 * 24 * 3600


def set_token_cookie(response, token: str) -> None:
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=COOKIE_MAX_AGE,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=request.is_secure,
    )


def _open_registration() -> bool:
    return current_app.extensions["discuss_config"].open_registration


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
                help="The token you were given when you registered (for example by"
                " `discuss register`).",
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
    next_url = safe_next(request.values.get("next"))
    by_name, by_token = _forms(next_url)
    status = 200
    if request.method == "POST":
        how = request.form.get("how", "name")
        try:
            if how == "token":
                by_token.fill_from_request()
                token = forms.posted("token").strip()
                service().authenticate(token)
            else:
                by_name.fill_from_request()
                if not _open_registration():
                    raise NotAuthenticated("Registration is closed here: sign in with a token.")
                registration = service().register_author(forms.posted("name"))
                token = registration.token
                wrote(registration.position)
        except DomainError as error:
            target = by_token if how == "token" else by_name
            status = target.fail(error)
            if how == "token":
                by_token.get("token").value = ""  # never echo a secret back
                status = DOMAIN_STATUS.get(error.kind, 401)
        else:
            response = make_response(redirect(next_url))
            set_token_cookie(response, token)
            g.clear_token_cookie = False
            return response
    body = render_template(
        "signin.html",
        by_name=by_name,
        by_token=by_token,
        open_registration=_open_registration(),
        already=viewer(),
    )
    return body, status


@bp.post("/signout")
def signout():
    response = make_response(redirect(safe_next(request.form.get("next"))))
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="Lax")
    return response
