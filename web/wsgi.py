"""The WSGI entry point for gunicorn: `gunicorn web.wsgi:app` (never with --preload).

It reads the settings once (README, Configuration) and passes them to `create_app()`,
which builds nothing that holds a connection; each worker process builds its own
application, pools and projection runner on its first request, after the fork
(web/runtime.py, workers/bootstrap.py).
"""

from __future__ import annotations

import sys

from domain.moderation_rules import RulesInvalid
from domain.settings import Settings
from web import create_app

# eventsourcing waits DISCUSS_PG_CONNECT_TIMEOUT for a PostgreSQL connection, and its
# recorders try 10 times: with the embedded default (5 s), a stopped database would
# get workers killed by gunicorn's timeout (30 s) instead of answering 503.
# 10 x (2 s + 0.2 s) stays under it; web/errors.py's breaker then fails fast. The
# environment variable, when set, still wins.
GUNICORN_DEFAULTS = {"pg_connect_timeout": 2}

try:
    app = create_app(Settings.from_env(defaults=GUNICORN_DEFAULTS))
except RulesInvalid as error:  # DISCUSS_RULES: one line naming the file and line
    sys.stderr.write(f"error: moderation rules: {error}\n")
    raise SystemExit(3) from None
