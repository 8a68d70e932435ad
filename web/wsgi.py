"""The WSGI entry point for gunicorn: `gunicorn web.wsgi:app` (never with --preload).

`create_app()` builds nothing that holds a connection; each worker process builds
its own application, pools and projection runner on its first request, after the
fork (web/runtime.py). Settings come from the environment (README, Configuration).
"""

from __future__ import annotations

import os

from web import create_app

# eventsourcing waits DISCUSS_PG_CONNECT_TIMEOUT for a PostgreSQL
# connection, and its recorders try 10 times: with the default, a stopped database
# would get workers killed by gunicorn's timeout (30 s) instead of answering 503.
# 10 x (2 s + 0.2 s) stays under it; web/errors.py's breaker then fails fast.
os.environ.setdefault("DISCUSS_PG_CONNECT_TIMEOUT", "2")

app = create_app()
