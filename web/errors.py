"""One JSON error shape for every error: {"error": {"code", "message", "fields"?}}.

Client mistakes are 4xx with the field and the reason; a 500 is a bug, logged with
a request id that is also in the response.
"""

from __future__ import annotations

import logging
import math
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable

import psycopg
from eventsourcing import persistence
from flask import Flask, g, jsonify, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from domain.errors import DomainError, VersionConflict
from projections.db import ViewStore
from projections.engine import ProjectionFailed
from projections.queries import NotInView

log = logging.getLogger(__name__)

# A client's own X-Request-Id is kept (and logged, and echoed) only if it is tame.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")

DOMAIN_STATUS = {
    "invalid": 422,
    "not_found": 404,
    "conflict": 409,
    "forbidden": 403,
    "unauthenticated": 401,
    "version_conflict": 412,
}


# What "the event store (or the read models' database) cannot be reached" looks like:
# psycopg's own errors (the read models; psycopg_pool.PoolTimeout is one), sqlite3's,
# and eventsourcing's wrappers of both (the recorders re-raise them as these).
STORE_UNAVAILABLE: tuple[type[Exception], ...] = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    sqlite3.OperationalError,
    persistence.OperationalError,
    persistence.InterfaceError,
)


class ApiError(Exception):
    """An error raised by a view: status, a code word, a message, optional fields."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: dict | None = None,
        headers: dict | None = None,
    ):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.fields, self.headers = fields, headers or {}


def error_response(
    status: int, code: str, message: str, fields: dict | None = None, headers: dict | None = None
):
    body = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    if status >= 500:
        body["request_id"] = getattr(g, "request_id", None)
    response = jsonify(error=body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if "Retry-After" in response.headers:
        response.own_retry_after = response.headers["Retry-After"]
    return response


def _http_code(error: HTTPException) -> str:
    return (error.name or "error").lower().replace(" ", "_").replace("'", "")


class StoreBreaker:
    """Fail fast while PostgreSQL is down, and notice at once when it is back.

    Each call of eventsourcing's recorder retries a failed connection 10 times, each
    waiting up to DISCUSS_PG_CONNECT_TIMEOUT: one request then takes seconds to fail.
    After a request found the store unreachable, API requests answer 503 at once;
    every `probe_interval` one of them first probes the server (a new connection,
    bounded by the connect timeout): if it answers, the breaker closes and that request
    goes on. /health always looks, and closes the breaker when the store answers. (A
    fixed cool-down, as before, kept answering 503 for seconds after a restart.)"""

    def __init__(self, probe: Callable[[], bool] | None = None, probe_interval: float = 0.2):
        self.probe = probe
        self.probe_interval = probe_interval
        self._open = False
        self._next_probe = 0.0
        self._lock = threading.Lock()

    def trip(self) -> None:
        self._open = True
        self._next_probe = time.monotonic() + self.probe_interval

    def reset(self) -> None:
        self._open = False

    def remaining(self) -> float:
        """0 if requests may go on (closed, or a probe just found the store back), else
        the seconds until the next probe."""
        if not self._open:
            return 0.0
        now = time.monotonic()
        if now < self._next_probe or self.probe is None or not self._lock.acquire(blocking=False):
            return max(self.probe_interval, self._next_probe - now)
        try:  # this request probes; the others keep failing fast meanwhile
            if self._open and self.probe():
                self.reset()
                return 0.0
            self._next_probe = time.monotonic() + self.probe_interval
            return self.probe_interval
        finally:
            self._lock.release()


def store_breaker(app: Flask) -> StoreBreaker:
    return app.extensions.setdefault("discuss_store_breaker", StoreBreaker())


def _store_unavailable_response(retry_after: int = 1):
    return error_response(
        503,
        "store_unavailable",
        "the event store is unreachable; try again shortly",
        headers={"Retry-After": str(retry_after)},
    )


def register_error_handlers(app: Flask) -> None:
    breaker = store_breaker(app)
    settings = app.extensions.get("discuss_settings")
    postgres = settings is not None and settings.database.backend == "postgres"
    if postgres:
        breaker.probe = ViewStore(
            settings.database, connect_timeout=settings.pg_connect_timeout
        ).reachable

    # One hook before and one after each request (each hook costs Flask a few us).
    @app.before_request
    def request_id_and_breaker():
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if _REQUEST_ID.fullmatch(given) else secrets.token_hex(16)
        # Fail fast while the store is down.
        path = request.path
        if path.startswith("/api/v1/") and not path.endswith("/health"):
            remaining = breaker.remaining()
            if remaining:
                return _store_unavailable_response(max(1, math.ceil(remaining)))
        return None

    @app.after_request
    def request_id_and_own_retry_after(response):
        response.headers.setdefault("X-Request-Id", g.get("request_id", ""))
        # Every response, API, pages and static files: no content-type sniffing.
        response.headers["X-Content-Type-Options"] = "nosniff"
        # Retry-After is ours (a 503's) or, on a 429, the rate limit's (web/__init__.py);
        # nothing else may leave one behind.
        if response.status_code != 429:
            own = getattr(response, "own_retry_after", None)
            if own is not None:
                response.headers["Retry-After"] = own
            else:
                response.headers.pop("Retry-After", None)
        return response

    @app.errorhandler(ApiError)
    def api_error(error: ApiError):
        return error_response(error.status, error.code, error.message, error.fields, error.headers)

    @app.errorhandler(ValidationError)
    def validation_error(error: ValidationError):
        fields = error.messages if isinstance(error.messages, dict) else {"_": error.messages}
        return error_response(422, "validation_failed", "some fields are not valid", fields)

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        status = DOMAIN_STATUS.get(error.kind, 409)
        fields = {error.field: [error.message]} if error.field else None
        code = _snake(type(error).__name__)
        headers = {}
        if isinstance(error, VersionConflict) and error.current_version is not None:
            headers["ETag"] = f'"{error.current_version}"'
        return error_response(status, code, error.message, fields, headers)

    @app.errorhandler(NotInView)
    def not_in_view(error: NotInView):
        return error_response(404, "not_found", str(error))

    @app.errorhandler(ProjectionFailed)
    def projection_failed(error: ProjectionFailed):
        log.error("%s", error)
        return error_response(503, "projection_stopped", str(error), headers={"Retry-After": "30"})

    def store_unreachable(error: Exception):
        log.error(
            "event store unreachable (request id %s): %s: %s",
            g.get("request_id"),
            type(error).__name__,
            error,
        )
        if postgres:  # (SQLite's OperationalError is a busy file, not a server down)
            breaker.trip()
        return _store_unavailable_response()

    for error_class in STORE_UNAVAILABLE:
        app.register_error_handler(error_class, store_unreachable)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        headers = dict(error.get_headers()) if error.code == 405 else {}
        headers.pop("Content-Type", None)
        return error_response(
            error.code or 500, _http_code(error), error.description or "", headers=headers
        )

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unhandled error (request id %s)", g.get("request_id"))
        return error_response(
            500, "internal_error", "an unexpected error happened; it has been logged"
        )


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
