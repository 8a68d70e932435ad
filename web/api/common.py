"""What every API view shares: reading JSON bodies, headers and query strings through
the schemas, the writes' rate limits, and the answers of writes."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import orjson
from flask import Response, current_app, request
from marshmallow import Schema

from domain.settings import Settings
from web import limiter
from web.auth import COOKIE_NAME, current_author
from web.errors import STORE_UNAVAILABLE, ApiError
from web.runtime import Services, runtime

NO_STORE = "no-store"
JSON_TYPES = ("application/json",)


def settings() -> Settings:
    return current_app.extensions["discuss_settings"]


def services() -> Services:
    return runtime().services


# ---- inputs ----------------------------------------------------------------------


def _is_json() -> bool:
    mimetype = request.mimetype or ""
    return mimetype in JSON_TYPES or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def json_body(schema: Schema, *, required: bool = True) -> dict[str, Any]:
    """The request's JSON object, loaded through `schema` (422 names the bad fields).

    400 when the bytes are not JSON, 413 above the body limit (raised by Werkzeug while
    reading), 415 when a body is not sent as application/json. A write whose body is
    optional may come without one; when the caller is signed in by the pages' cookie
    rather than a bearer token it must still say application/json, which a cross-site
    form cannot (no CSRF through the API).
    """
    raw = request.get_data(cache=True)
    if not raw.strip():
        if not required and (_is_json() or not _signed_in_by_cookie()):
            return schema.load({})
        if not _is_json():
            raise ApiError(
                415, "unsupported_media_type", "send the body as JSON (application/json)"
            )
        raise ApiError(400, "malformed_json", "the body is empty: send a JSON object")
    if not _is_json():
        raise ApiError(415, "unsupported_media_type", "send the body as JSON (application/json)")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {error}") from None
    return schema.load(data)


def _signed_in_by_cookie() -> bool:
    return "Authorization" not in request.headers and bool(request.cookies.get(COOKIE_NAME))


def load_headers(schema: Schema) -> dict[str, Any]:
    declared = {f.data_key or name for name, f in schema.fields.items()}
    present = {name: request.headers[name] for name in declared if name in request.headers}
    return schema.load(present)


def load_query(schema: Schema) -> dict[str, Any]:
    return schema.load(request.args)


class QueryLoader:
    """`load_query(schema)` memoised per raw query string: a load is a pure function of
    it, and marshmallow's costs ~0.08 ms per request (most reads send the same few
    query strings, often none). Only successful loads are kept (an error raises
    again each time), the least recently used dropped beyond `size`."""

    def __init__(self, schema: Schema, size: int = 256):
        self.schema = schema
        self.size = size
        self._loaded: OrderedDict[bytes, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def load(self) -> dict[str, Any]:
        raw = request.query_string
        with self._lock:
            args = self._loaded.get(raw)
            if args is not None:
                self._loaded.move_to_end(raw)
                return dict(args)
        args = load_query(self.schema)
        with self._lock:
            self._loaded[raw] = args
            if len(self._loaded) > self.size:
                self._loaded.popitem(last=False)
        return dict(args)


# ---- outputs ---------------------------------------------------------------------


def json_response(
    schema: Schema,
    obj: Any,
    status: int = 200,
    *,
    location: str | None = None,
    headers: dict[str, str] | None = None,
    cache_control: str = NO_STORE,
) -> Response:
    response = Response(orjson.dumps(schema.dump(obj)), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = cache_control
    if location:
        response.headers["Location"] = location
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if "Retry-After" in response.headers:
        response.own_retry_after = response.headers["Retry-After"]  # see web/errors.py
    return response


def after_write(position: int) -> None:
    """Every successful write: keep the projections moving (runner nudge or RQ job)."""
    runtime().after_write(position)


# ---- rate limits -----------------------------------------------------------------


def client_address() -> str:
    return request.remote_addr or "unknown"


def address_key() -> str:
    return f"address:{client_address()}"


def author_key() -> str:
    """Writes per author, keyed by the author id once the token authenticated (every
    token of an author shares one budget; a token has one spelling, domain/tokens.py).
    The authentication is the one the view makes anyway (kept on `g`, and cached per
    process: web/auth.py). A request whose token does not authenticate counts against
    its address here (the view then answers 401)."""
    try:
        author = current_author()
    except (ApiError, *STORE_UNAVAILABLE):  # the view answers (401, 503)
        author = None
    if author is None:
        return f"anonymous:{client_address()}"
    return f"author:{author.id}"


def _write_limit() -> str:
    return settings().write_rate_limit


def _compose(*decorators: Callable) -> Callable:
    def apply(view: Callable) -> Callable:
        for decorator in reversed(decorators):
            view = decorator(view)
        return view

    return apply


def _preflight() -> bool:
    return request.method == "OPTIONS"  # a browser's CORS check, not a request of its own


# Shared scopes: one budget across every write endpoint.
write_limits = _compose(
    limiter.shared_limit(
        _write_limit, scope="writes-per-address", key_func=address_key, exempt_when=_preflight
    ),
    limiter.shared_limit(
        _write_limit, scope="writes-per-author", key_func=author_key, exempt_when=_preflight
    ),
)
