"""The web pages: server-rendered HTML (Jinja) that works without JavaScript, with
small plain scripts in web/static/js that enhance it (relative times, inline forms,
the time slider).

`register_pages(app)` is called by the factory. It installs CSRF protection for every
form POST outside the JSON API (the API authenticates with bearer tokens; its paths
are exempt by prefix, so new API blueprints need no edit here), the session cookie
settings, the security headers of pages and HTML error pages.
"""

from __future__ import annotations

from flask import Blueprint, Flask, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect

API_PREFIX = "/api/"

bp = Blueprint("pages", __name__)
csrf = CSRFProtect()

# No inline script or style anywhere: every script and stylesheet is a static file.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class _SessionCookies(SecureCookieSessionInterface):
    """The session cookie (it holds the CSRF secret) is Secure on HTTPS requests."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(request and request.is_secure) or super().get_cookie_secure(app)


def _protect_forms() -> None:
    if request.path.startswith(API_PREFIX):
        return  # the JSON API: bearer tokens, no ambient form posts
    csrf.protect(apply_exemptions=True)


def register_pages(app: Flask) -> None:
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid as long as the session
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # checked by _protect_forms instead
    # Set, not setdefault: Flask defines it already (None), so a default never applied.
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.session_interface = _SessionCookies()
    csrf.init_app(app)
    app.before_request(_protect_forms)

    # Importing the view modules adds their routes to `bp`.
    from web.pages import (  # noqa: F401
        auth,
        errors,
        feeds,
        filters,
        history,
        moderation,
        posting,
        review,
        threads,
    )

    filters.register(app)
    errors.register(app)
    app.register_blueprint(bp)


@bp.after_request
def security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    # Pages carry the viewer's name, controls and a CSRF token: never shared caches.
    response.headers.setdefault("Cache-Control", "private, no-cache")
    return response
