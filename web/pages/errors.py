"""Errors on pages are pages: HTML with the reason and a way on, never JSON or a
bare 500. Domain errors raised by a form's write are shown next to the form by the
view itself (web/pages/forms.py); what reaches these handlers has no form to show."""

from __future__ import annotations

import logging
import sqlite3

import psycopg
from flask import Flask, g, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from domain.errors import DomainError
from projections.engine import ProjectionFailed
from projections.queries import NotInView
from web.errors import DOMAIN_STATUS, ApiError, error_response
from web.pages import API_PREFIX, bp, security_headers

log = logging.getLogger(__name__)

TITLES = {
    400: "Bad request",
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "Conflict",
    412: "Changed meanwhile",
    413: "Too long",
    422: "Not valid",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Temporarily unavailable",
}


def error_page(status: int, message: str, title: str | None = None):
    from web.pages.common import is_moderator, viewer
    from web.pages.forms import sentence

    try:  # who is signed in, for the header; not worth a second failure
        who, moderator = viewer(), is_moderator()
    except Exception:
        who, moderator = None, False
    body = render_template(
        "error.html",
        status=status,
        title=title or TITLES.get(status, "Error"),
        message=sentence(message),
        request_id=g.get("request_id") if status >= 500 else None,
        viewer=who,
        moderator=moderator,
    )
    return body, status


@bp.errorhandler(CSRFError)
def csrf_error(error: CSRFError):
    return error_page(
        400,
        "This form could not be checked (it was sent from another site, or this browser did"
        " not keep the session cookie). Go back, reload the page and send it again.",
        title="Form expired",
    )


@bp.errorhandler(NotInView)
def not_in_view(error: NotInView):
    return error_page(404, str(error))


@bp.errorhandler(DomainError)
def domain_error(error: DomainError):
    return error_page(DOMAIN_STATUS.get(error.kind, 409), error.message)


@bp.errorhandler(ApiError)
def api_error(error: ApiError):
    return error_page(error.status, error.message)


@bp.errorhandler(ProjectionFailed)
def projection_failed(error: ProjectionFailed):
    log.error("%s", error)
    return error_page(503, "The pages cannot be brought up to date right now. Try again soon.")


@bp.errorhandler(sqlite3.OperationalError)
@bp.errorhandler(psycopg.OperationalError)
def store_unreachable(error: Exception):
    log.error("event store unreachable: %s", error)
    return error_page(503, "The discussion store cannot be reached. Try again in a moment.")


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException):
    if error.code is None or error.code < 400:
        return error
    return error_page(error.code, error.description or "")


@bp.errorhandler(Exception)
def unexpected(error: Exception):
    log.exception("unhandled error on a page (request id %s)", g.get("request_id"))
    return error_page(500, "An unexpected error happened. It has been logged.")


def _wants_html() -> bool:
    if request.path.startswith(API_PREFIX):
        return False
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "text/html"


def register(app: Flask) -> None:
    @app.errorhandler(404)
    def not_found(error: HTTPException):
        """An unknown address outside the API is a page for browsers; JSON otherwise."""
        if _wants_html():
            body, status = error_page(404, "There is no page at this address.")
            return security_headers(make_response(body, status))
        return error_response(404, "not_found", error.description or "")
