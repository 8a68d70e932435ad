"""An author's access tokens: list them, issue another key, rotate the key, revoke one.
Issue, rotation and revocation are events on the author (hashes only, never a secret);
a revoked token is refused at once by every process (web/auth.py)."""

from __future__ import annotations

from flask import Blueprint, url_for

from domain.application import token_expiry
from domain.model import KEY
from web.api.common import (
    after_write,
    json_body,
    json_response,
    services,
    settings,
    write_limits,
)
from web.auth import current_token_id, forget_author, require_author
from web.openapi import operation
from web.schemas import ChangedOut
from web.schemas_tokens import NoBody, TokenIssuedOut, TokenList

bp = Blueprint("tokens", __name__)


def token_rows(author, current: str | None) -> list[dict]:
    """The author's live tokens, oldest first, as the API and the account page list them."""
    ttl = settings().token_ttl_days
    return [
        {
            "id": t.id,
            "kind": t.kind,
            "issued_at": t.issued_at,
            "expires_at": token_expiry(author, t, ttl),
            "current": t.id == current,
        }
        for t in author.live_tokens()
    ]


@bp.get("/authors/me/tokens")
@operation(
    "Your live tokens",
    tags=["authors"],
    auth="required",
    responses={200: (TokenList, "Every token of yours that still signs in, oldest first")},
)
def list_tokens():
    author = require_author()
    author = services().app.get_author(author.id)  # fresh: the cache may be older
    return json_response(TokenList(), {"tokens": token_rows(author, current_token_id())})


def _issued(issued) -> object:
    forget_author(require_author().id)
    after_write(issued.position)
    return json_response(
        TokenIssuedOut(),
        {"id": issued.token_id, "kind": KEY, "token": issued.token, "position": issued.position},
        201,
        location=url_for("tokens.list_tokens"),
    )


@bp.post("/authors/me/tokens")
@write_limits
@operation(
    "Issue another key",
    tags=["authors"],
    auth="required",
    body=NoBody,
    body_required=False,
    limited="write",
    responses={201: (TokenIssuedOut, "Issued: keep the token, it is shown only once")},
)
def issue_token():
    author = require_author()
    json_body(NoBody(), required=False)
    return _issued(services().app.issue_token(author.id, KEY))


@bp.post("/authors/me/tokens/rotate")
@write_limits
@operation(
    "Rotate your key",
    tags=["authors"],
    auth="required",
    body=NoBody,
    body_required=False,
    limited="write",
    responses={201: (TokenIssuedOut, "A new key; every older key of yours stops working")},
)
def rotate_token():
    author = require_author()
    json_body(NoBody(), required=False)
    return _issued(services().app.rotate_key(author.id))


@bp.delete("/authors/me/tokens/<token_id>")
@write_limits
@operation(
    "Revoke one of your tokens",
    tags=["authors"],
    auth="required",
    body=NoBody,
    body_required=False,
    limited="write",
    errors=(404,),
    responses={200: (ChangedOut, "Revoked: the token no longer signs in")},
    description="Revoking the token of this request signs this caller out.",
)
def revoke_token(token_id):
    author = require_author()
    json_body(NoBody(), required=False)
    changed = services().app.revoke_token(author.id, token_id)
    forget_author(author.id)
    after_write(changed.position)
    return json_response(
        ChangedOut(),
        {"id": str(changed.id), "version": changed.version, "position": changed.position},
    )
