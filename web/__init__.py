"""The Flask front: JSON API under /api/v1 and the web pages. `create_app()` is the
app factory: it reads the settings once (unless given them) and builds nothing that
holds connections (that happens per process, after gunicorn forks: web/runtime.py
asks workers/bootstrap.py)."""

from __future__ import annotations

import logging
import time
from functools import partial
from importlib.metadata import version

from flask import Flask, request
from flask_cors import CORS
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits.storage import MemoryStorage

from domain.settings import Settings
from web import assets, compression
from web.config import secret_key
from web.errors import register_error_handlers
from web.runtime import Runtime

limiter = Limiter(key_func=get_remote_address, default_limits=[])

API_PREFIX = "/api/"
UNLIMITED_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@limiter.request_filter
def _not_a_write() -> bool:
    """Only writes are rate limited (every limited view is a POST, PATCH or DELETE, or a
    page's POST): a read never reaches the limiter's storage, not even its health check
    while Redis is down."""
    return request.method in UNLIMITED_METHODS


class LazyMemoryStorage(MemoryStorage):
    """`memory://` without a Timer thread per hit: limits' MemoryStorage starts a new
    `threading.Timer` on every hit whose previous one (10 ms) has ended, only to free
    the memory of expired keys; `get()`, which `incr()` calls first, already drops an
    expired counter, so the limits stay exact. Expired keys and moving-window events
    are swept inline every `SWEEP_EVERY` hits instead."""

    STORAGE_SCHEME = ["lazy-memory"]
    SWEEP_EVERY = 1000

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._hits = 0

    def _MemoryStorage__schedule_expiry(self) -> None:  # replaces the Timer thread
        self._hits += 1
        if self._hits % self.SWEEP_EVERY == 0:
            self._MemoryStorage__expire_events()

    # The two private methods of limits' MemoryStorage this class relies on. limits
    # offers no setting for its expiry Timer, so a rename upstream would silently bring
    # the Timer back (or break the sweep): check_internals() refuses to start instead.
    RELIES_ON = ("_MemoryStorage__schedule_expiry", "_MemoryStorage__expire_events")

    @classmethod
    def check_internals(cls) -> None:
        missing = [n for n in cls.RELIES_ON if not callable(getattr(MemoryStorage, n, None))]
        if missing:
            raise RuntimeError(
                f"limits {version('limits')} changed MemoryStorage ({', '.join(missing)}"
                " missing): web/__init__.py's LazyMemoryStorage must be updated, or limits"
                " pinned to a version that has them"
            )


def create_app(settings: Settings | None = None) -> Flask:
    LazyMemoryStorage.check_internals()
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    # First, so that its after_request hook runs last, on the finished response.
    compression.init_app(app)  # gzip for text responses above 1 KB
    assets.init_app(app)  # static URLs carry a content hash; those are cached a year
    app.config.update(
        SECRET_KEY=secret_key(settings),
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        RATELIMIT_STORAGE_URI=settings.redis_url or "lazy-memory://",
        # No X-RateLimit-* headers: on Redis they cost two more round trips per limit on
        # every write; a 429 still carries Retry-After (_retry_after_on_429).
        RATELIMIT_HEADERS_ENABLED=False,
        RATELIMIT_SWALLOW_ERRORS=True,  # a Redis outage must not fail writes
        # ... and limits still hold meanwhile, counted in this process's memory.
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        JSON_SORT_KEYS=False,
    )
    app.extensions["discuss"] = Runtime(settings)
    app.extensions["discuss_settings"] = settings
    logging.basicConfig(level=logging.INFO)
    register_error_handlers(app)
    limiter.init_app(app)
    _no_limiter_hook_for_reads(app)
    app.after_request(_retry_after_on_429)
    if settings.cors_origins:
        CORS(
            app,
            resources={r"/api/*": {"origins": list(settings.cors_origins)}},
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
    from web.pages.email import register_email_pages  # /account/email, /moderation/outbox

    register_email_pages(app)
    _no_session_for_api(app)
    return app


def _no_limiter_hook_for_reads(app: Flask) -> None:
    """flask-limiter's hooks matter only where a limit is checked, and every limit is
    a decorator on a write view: its before_request hook checks app-wide and default
    limits (the project has none), its after_request one adds the X-RateLimit headers
    of the limit checked, its teardown clears what the check kept. Even with nothing
    to do they cost ~0.05 ms per request together; reads skip them. If a later
    flask-limiter registers them otherwise, nothing changes."""

    def writes_only(hook):
        def hook_for_writes(*args):
            if request.method not in UNLIMITED_METHODS:
                return hook(*args)
            return args[0] if args else None  # after_request hands the response on

        return hook_for_writes

    def is_limiters(func) -> bool:
        bound = func.args[0] if isinstance(func, partial) and func.args else None
        return func == limiter._check_request_limit or limiter in (
            bound,
            getattr(func, "__self__", None),
        )

    for hooks in (app.before_request_funcs, app.after_request_funcs):
        funcs = hooks.get(None, [])
        funcs[:] = [writes_only(f) if is_limiters(f) else f for f in funcs]
    funcs = app.teardown_request_funcs.get(None, [])
    funcs[:] = [writes_only(f) if is_limiters(f) else f for f in funcs]


def _retry_after_on_429(response):
    """When the breached limit's window resets, as flask-limiter's headers said it: one
    storage read, on refused requests only. If the storage cannot say, the window's
    length, which is never too early."""
    if response.status_code == 429 and "Retry-After" not in response.headers:
        limit = limiter.current_limit
        if limit is not None:
            try:
                wait = limit.reset_at - time.time()
            except Exception:  # the storage is unreachable (the limiter swallows that too)
                wait = limit.limit.get_expiry()
            response.headers["Retry-After"] = str(max(1, int(wait)))
    return response


def _no_session_for_api(app: Flask) -> None:
    """The pages' session (a signed cookie holding the CSRF secret) is not opened for
    /api/ requests: the API authenticates by token (or reads the token cookie
    directly), never through the session. They get Flask's null session, which is
    never saved (no Set-Cookie)."""
    pages_interface = type(app.session_interface)

    class ApiWithoutSession(pages_interface):
        def open_session(self, app, request):
            if request.path.startswith(API_PREFIX):
                return self.make_null_session(app)
            return super().open_session(app, request)

    app.session_interface = ApiWithoutSession()
