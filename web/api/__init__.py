"""The JSON API under /api/v1: one blueprint per resource."""

from flask import Flask


def register_api(app: Flask) -> None:
    from web.api.threads import bp as threads

    for blueprint in (threads,):
        app.register_blueprint(blueprint, url_prefix="/api/v1")
