"""The Flask front: JSON API under /api/v1 and the web pages. `create_app()` is the
app factory; it builds nothing that holds connections (that happens per process,
after gunicorn forks — see web/runtime.py)."""

from __future__ import annotations

import logging

from flask import Flask
from flask_cors import CORS
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from web.config import WebConfig
from web.errors import register_error_handlers
from web.runtime import Runtime

limiter = Limiter(key_func=get_remote_address, default_limits=[])


def create_app(config: WebConfig | None = None) -> Flask:
    config = config or WebConfig.from_env()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=config.secret_key,
        MAX_CONTENT_LENGTH=config.max_body_bytes,
        RATELIMIT_STORAGE_URI=config.redis_url or "memory://",
        RATELIMIT_HEADERS_ENABLED=True,
        RATELIMIT_SWALLOW_ERRORS=True,  # a Redis outage must not fail writes
        # ... and limits still hold meanwhile, counted in this process's memory.
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        JSON_SORT_KEYS=False,
    )
    app.extensions["discuss"] = Runtime(config)
    app.extensions["discuss_config"] = config
    logging.basicConfig(level=logging.INFO)
    register_error_handlers(app)
    limiter.init_app(app)
    if config.cors_origins:
        CORS(
            app,
            resources={r"/api/*": {"origins": list(config.cors_origins)}},
            expose_headers=["ETag", "Location", "X-Request-Id", "Retry-After"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "If-Match",
                "If-None-Match",
                "Idempotency-Key",
            ],
        )

    from web.api import register_api

    register_api(app)
    from web.pages import register_pages  # HTML pages; CSRF on every form POST

    register_pages(app)
    return app
