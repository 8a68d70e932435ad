"""The OpenAPI document, generated from the views and the marshmallow schemas.

Each API view is marked with `@operation(...)`: what it reads (query, headers, body
schemas), what it answers on success, and who may call it. `build_spec(app)` walks
the app's URL map and adds, for every operation, each error status it can return
with the one error shape, so that the document lists every status code the API
really answers (the schemathesis test in tests/api checks that it does).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask
from marshmallow import Schema
from werkzeug.routing import PathConverter, UUIDConverter

from web.schemas import ErrorResponse

API_TITLE = "discuss"
API_VERSION = "1"
SECURITY_SCHEME = "bearerAuth"

ERROR_DESCRIPTIONS = {
    400: "Malformed JSON body",
    401: "Not signed in, or the bearer token is not valid",
    403: "Signed in, but not allowed (e.g. only moderators may do this)",
    404: "No such thread, comment or author (or not in the read model yet)",
    409: "Refused by a domain rule (locked thread, retracted comment, taken key...)",
    412: "If-Match is not the current version: reload and try again",
    413: "Body larger than the limit",
    415: "A write must be sent as application/json",
    422: "A field, query parameter or header is not valid: `fields` says which and why",
    428: "If-Match is required",
    429: "Too many requests: wait Retry-After seconds",
    500: "A bug: logged with the request id given in the body",
    503: "The event store is unreachable, or the read model has not caught up in time",
}

_PATH_ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


@dataclass(frozen=True)
class Operation:
    summary: str
    tags: tuple[str, ...]
    responses: dict[int, tuple[type[Schema] | None, str]]
    description: str | None = None
    query: type[Schema] | None = None
    headers: type[Schema] | None = None
    body: type[Schema] | None = None
    body_required: bool = True
    auth: str = "none"  # "none", "optional" (a bad token is still a 401) or "required"
    cached: bool = False  # ETag + Cache-Control; If-None-Match -> 304
    limited: str | None = None  # "read" or "write"
    errors: tuple[int, ...] = field(default=())

    def error_statuses(self, has_path_args: bool) -> set[int]:
        statuses = {500, 503, *self.errors}
        if self.auth in ("optional", "required"):
            statuses.add(401)
        if self.auth == "required":
            statuses.add(403)
        if self.query or self.headers:
            statuses.add(422)
        if self.body:
            statuses |= {400, 413, 415, 422}
        if self.limited:
            statuses.add(429)
        if has_path_args:
            statuses.add(404)
        return statuses


def operation(
    summary: str,
    *,
    tags: Iterable[str],
    responses: dict[int, tuple[type[Schema] | None, str]],
    **options: Any,
) -> Callable:
    """Describe a view for the OpenAPI document (see `Operation` for the options)."""
    op = Operation(summary=summary, tags=tuple(tags), responses=responses, **options)

    def mark(view: Callable) -> Callable:
        view.openapi = op
        return view

    return mark


def _path_parameter(rule, name: str) -> dict:
    converter = rule._converters.get(name)
    if isinstance(converter, UUIDConverter):
        schema = {"type": "string", "format": "uuid"}
    elif isinstance(converter, PathConverter):
        schema = {"type": "string", "minLength": 1}
    else:
        schema = {"type": "string"}
    return {"in": "path", "name": name, "required": True, "schema": schema}


def _header(description: str, *, required: bool = False, schema: dict | None = None) -> dict:
    return {
        "description": description,
        "required": required,
        "schema": schema or {"type": "string"},
    }


def _responses(op: Operation, has_path_args: bool) -> dict[str, Any]:
    request_id = _header("the request's id (echoed if the client sent one)")
    result: dict[str, Any] = {}
    for status, (schema, description) in op.responses.items():
        response: dict[str, Any] = {"description": description, "headers": {}}
        if schema is not None:
            response["content"] = {"application/json": {"schema": schema}}
        if op.cached and status == 200:
            response["headers"]["ETag"] = _header("changes exactly when the content does")
            response["headers"]["Cache-Control"] = _header("always revalidate")
        if status == 201:
            response["headers"]["Location"] = _header("the new resource", required=True)
        response["headers"]["X-Request-Id"] = request_id
        result[str(status)] = response
    if op.cached:
        result["304"] = {
            "description": "Not modified: the copy named by If-None-Match is current",
            "headers": {"ETag": _header("the current ETag"), "X-Request-Id": request_id},
        }
    for status in sorted(op.error_statuses(has_path_args)):
        if str(status) in result:
            continue
        headers: dict[str, Any] = {"X-Request-Id": request_id}
        if status in (429, 503):
            headers["Retry-After"] = _header("seconds to wait before retrying")
        if status == 401:
            headers["WWW-Authenticate"] = _header("Bearer")
        result[str(status)] = {
            "description": ERROR_DESCRIPTIONS[status],
            "headers": headers,
            "content": {"application/json": {"schema": ErrorResponse}},
        }
    return result


def _operation_dict(op: Operation, endpoint: str, path_params: list[dict]) -> dict:
    parameters: list[Any] = list(path_params)
    if op.query:
        parameters.append({"in": "query", "schema": op.query})
    if op.headers:
        parameters.append({"in": "header", "schema": op.headers})
    result: dict[str, Any] = {
        "operationId": endpoint.replace(".", "_"),
        "summary": op.summary,
        "tags": list(op.tags),
        "parameters": parameters,
        "responses": _responses(op, bool(path_params)),
    }
    if op.description:
        result["description"] = op.description
    if op.body:
        result["requestBody"] = {
            "required": op.body_required,
            "content": {"application/json": {"schema": op.body}},
        }
    if op.auth == "required":
        result["security"] = [{SECURITY_SCHEME: []}]
    elif op.auth == "optional":
        result["security"] = [{}, {SECURITY_SCHEME: []}]
    else:
        result["security"] = []
    return result


def build_spec(app: Flask) -> dict[str, Any]:
    spec = APISpec(
        title=API_TITLE,
        version=API_VERSION,
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={
            "description": (
                "An event-sourced discussion backend. Every write answers the log"
                " `position` of what it recorded; pass it as `min_position` to a read to"
                " see your own write. Reads carry an ETag: send it back as If-None-Match"
                " for a 304. Errors always have the shape"
                ' `{"error": {"code", "message", "fields"?}}`.'
            )
        },
    )
    spec.components.security_scheme(
        SECURITY_SCHEME,
        {
            "type": "http",
            "scheme": "bearer",
            "description": "the token from POST /api/v1/authors (or `discuss register`)",
        },
    )
    spec.components.schema("ErrorResponse", schema=ErrorResponse)
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions.get(rule.endpoint)
        op = getattr(view, "openapi", None)
        if op is None:
            continue
        path_params = [_path_parameter(rule, name) for name in _PATH_ARG.findall(rule.rule)]
        methods = sorted(m for m in rule.methods if m not in ("HEAD", "OPTIONS"))
        spec.path(
            path=_PATH_ARG.sub(r"{\1}", rule.rule),
            operations={
                method.lower(): _operation_dict(op, rule.endpoint, path_params)
                for method in methods
            },
        )
    return spec.to_dict()
