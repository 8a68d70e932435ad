"""The OpenAPI document (/api/v1/openapi.json) and a browsable page of it (/api/docs),
served by the vendored swagger-ui (web/static/vendor/swagger-ui-dist): nothing is
loaded from another site."""

from __future__ import annotations

import orjson
from flask import Blueprint, current_app, render_template, url_for

from web.api.caching import json_bytes_response, make_etag, not_modified
from web.openapi import build_spec

bp = Blueprint("api_docs", __name__)

DOCS_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",  # swagger-ui sets style attributes
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)


def openapi_bytes() -> bytes:
    """Built once per app (the routes do not change while it runs)."""
    cached = current_app.extensions.get("discuss_openapi")
    if cached is None:
        cached = current_app.extensions["discuss_openapi"] = orjson.dumps(
            build_spec(current_app), option=orjson.OPT_INDENT_2
        )
    return cached


@bp.get("/api/v1/openapi.json")
def openapi_json():
    body = openapi_bytes()
    etag = make_etag("openapi", body)
    if not_modified(etag):
        response = current_app.response_class(status=304)
        response.headers["ETag"] = etag
        return response
    return json_bytes_response(body, etag, cache_control="public, max-age=60")


@bp.get("/api/docs")
def api_docs():
    html = render_template("api_docs.html", spec_url=url_for("api_docs.openapi_json"))
    response = current_app.response_class(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = DOCS_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
