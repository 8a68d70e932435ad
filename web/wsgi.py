"""The WSGI entry point for gunicorn: `gunicorn web.wsgi:app` (never with --preload).

`create_app()` builds nothing that holds a connection; each worker process builds
its own application, pools and projection runner on its first request, after the
fork (web/runtime.py). Settings come from the environment (README, Configuration).
"""

from __future__ import annotations

import os

from web import create_app

# eventsourcing waits 30 s for a PostgreSQL connection by default: longer than
# gunicorn's worker timeout, so a stopped database would kill workers instead of
# answering 503. Wait at most a few seconds unless told otherwise.
os.environ.setdefault("POSTGRES_CONNECT_TIMEOUT", "5")

app = create_app()
