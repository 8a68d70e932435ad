"""An author's tokens on the pages: the token shown once to save (after sign-up and
rotation), the list on the account page with revocation, and signing out — of this
browser (its session token is revoked) or everywhere (every browser session ends; the
saved token stays the way back, and the page warns when there is none)."""

from __future__ import annotations

from flask import g, make_response, redirect, render_template, request, url_for

from domain.application import token_expiry
from domain.errors import DomainError
from domain.model import KEY, SESSION
from web.auth import current_token_id, forget_author
from web.pages import bp
from web.pages.common import (
    application,
    delete_token_cookie,
    safe_next,
    viewer,
    write_limits,
    wrote,
)
from web.runtime import runtime

KIND_LABELS = {KEY: "saved token", SESSION: "browser session"}


def token_list(author) -> list[dict]:
    """The author's live tokens, oldest first, read fresh from the store."""
    author = application().get_author(author.id)
    ttl = runtime().settings.token_ttl_days
    current = current_token_id()
    return [
        {
            "id": t.id,
            "kind": t.kind,
            "label": KIND_LABELS.get(t.kind, t.kind),
            "issued_at": t.issued_at,
            "expires_at": token_expiry(author, t, ttl),
            "current": t.id == current,
        }
        for t in author.live_tokens()
    ]


def new_token_page(token: str, name: str, next_url: str, *, rotated: bool = False):
    """The token, shown this once: never cached, never shown again."""
    response = make_response(
        render_template(
            "new_token.html", token=token, name=name, next_url=next_url, rotated=rotated
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _signed_in():
    author = viewer()
    if author is None:
        return None, redirect(url_for("pages.signin", next=request.full_path.rstrip("?")))
    return author, None


def _clear_cookie(response) -> None:
    delete_token_cookie(response)
    g.clear_token_cookie = False


@bp.get("/signout")
def signout_page():
    author, refusal = _signed_in()
    if refusal is not None:
        return refusal
    tokens = token_list(author)
    keys = [t for t in tokens if t["kind"] == KEY]
    return render_template(
        "signout.html",
        keys=keys,
        sessions=sum(t["kind"] == SESSION for t in tokens),
        next_url=safe_next(request.args.get("next")),
    )


@bp.post("/signout")
@write_limits
def signout():
    """Revoke this browser's session token (or, with `everywhere`, every session of
    the account), then forget the cookie. A cookie holding a saved token (signed in
    before sessions existed) is only forgotten: revoking it would lock the author out."""
    response = make_response(redirect(safe_next(request.form.get("next"))))
    author = viewer()
    if author is not None:
        current = current_token_id()
        try:
            if request.form.get("everywhere"):
                changed = application().end_sessions(author.id, also=None)
            elif any(t.id == current and t.kind == SESSION for t in author.live_tokens()):
                changed = application().revoke_token(author.id, current)
            else:
                changed = None
        except DomainError:
            changed = None  # already revoked elsewhere: signing out is done either way
        forget_author(author.id)
        if changed is not None:
            wrote(changed.position)
    _clear_cookie(response)
    return response


@bp.post("/account/token/rotate")
@write_limits
def rotate_token():
    author, refusal = _signed_in()
    if refusal is not None:
        return refusal
    issued = application().rotate_key(author.id)
    forget_author(author.id)
    wrote(issued.position)
    name = application().display_name(author) or ""
    return new_token_page(issued.token, name, url_for("pages.account"), rotated=True)


@bp.post("/account/tokens/<token_id>/revoke")
@write_limits
def revoke_token(token_id: str):
    author, refusal = _signed_in()
    if refusal is not None:
        return refusal
    current = current_token_id()
    changed = application().revoke_token(author.id, token_id)  # TokenNotFound: 404 page
    forget_author(author.id)
    wrote(changed.position)
    if token_id == current:  # this browser's own: it is signed out
        response = make_response(redirect(url_for("pages.index")))
        _clear_cookie(response)
        return response
    return redirect(url_for("pages.account") + "#tokens")
