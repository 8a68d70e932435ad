"""The baseline of bench/bench_http.py: a minimal Flask app under the same gunicorn
settings, returning the same response bytes as the project's thread read, from memory.

It does what any Flask JSON endpoint must (route with a UUID converter, build a
Response with the same headers) and nothing else: no query parsing, no database,
no rate limiter. The body comes from the file named by BENCH_BODY_FILE, read once at
import; the ETag from BENCH_ETAG.

    BENCH_BODY_FILE=/tmp/body.json .venv/bin/gunicorn --workers 2 bench.minimal_app:app
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, Response

BODY = (
    Path(os.environ["BENCH_BODY_FILE"]).read_bytes() if os.environ.get("BENCH_BODY_FILE") else b"{}"
)
ETAG = os.environ.get("BENCH_ETAG", '"0123456789abcdef01234567"')

app = Flask(__name__)


@app.get("/api/v1/threads/<uuid:thread_id>")
def get_thread(thread_id):
    response = Response(BODY, status=200, mimetype="application/json")
    response.headers["ETag"] = ETAG
    response.headers["Cache-Control"] = "public, max-age=0, must-revalidate"
    return response


@app.get("/")
def ready():
    return "ok"
