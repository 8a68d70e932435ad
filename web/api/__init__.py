"""The JSON API under /api/v1: one blueprint per resource.

To add a resource, write `web/api/<name>.py` with a Blueprint `bp` (routes relative
to /api/v1, each view marked with `web.openapi.operation` so that it is documented),
and add its module name to API_MODULES: that is the only change needed here.
"""

from importlib import import_module

from flask import Flask

API_PREFIX = "/api/v1"

API_MODULES = (
    "authors",
    "tokens",
    "threads",
    "comments",
    "status",
    "history",
    "audit",
    "moderation",
    "live",
    "webhooks",
)


def register_api(app: Flask) -> None:
    for name in API_MODULES:
        app.register_blueprint(import_module(f"web.api.{name}").bp, url_prefix=API_PREFIX)
    # /api/v1/openapi.json and the /api/docs page (full paths, no prefix).
    app.register_blueprint(import_module("web.api.docs").bp)
