"""gunicorn's own answers in the API's JSON error shape.

gunicorn refuses some requests before the app sees them (a request line over
`limit_request_line`, 4094 characters by default; too many or too large headers; a
malformed line) and writes an HTML page of its own. It offers no setting for that
page: `gunicorn.util.write_error` writes it, and the worker calls it through the
module, so `install()` (run in each worker by gunicorn.conf.py's post_worker_init)
puts `write_json_error` there instead. If a later gunicorn stops calling
`util.write_error`, its HTML page comes back and tests/e2e/test_server_probing.py
fails: nothing else depends on it."""

from __future__ import annotations

import json

from gunicorn import util

# gunicorn's messages, by how they start, to the code words of our error shape.
_CODES = (
    ("Request Line is too large", "request_line_too_large"),
    ("Error parsing headers", "request_headers_too_large"),
    ("Invalid Request Line", "invalid_request_line"),
    ("Invalid Method", "invalid_method"),
    ("Invalid HTTP Version", "invalid_http_version"),
)
MESSAGE_MAX_LENGTH = 200  # gunicorn's message may quote the whole request line


def error_code(reason: str, message: str) -> str:
    for start, code in _CODES:
        if message.startswith(start):
            return code
    return reason.lower().replace(" ", "_") or "bad_request"


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """`gunicorn.util.write_error`'s job (same arguments), as {"error": {code, message}}."""
    message = (mesg or reason)[:MESSAGE_MAX_LENGTH]
    body = json.dumps({"error": {"code": error_code(reason, mesg), "message": message}})
    payload = body.encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + payload)


def install() -> None:
    util.write_error = write_json_error
