"""Findings of issue 12 that are about the server, tried against a real gunicorn (two
worker processes with four threads each, as `make run` starts it, on the embedded
SQLite default): slow page waits, thread keys too long for a request line, and
gunicorn's own error answers.

A raw socket sends the long request lines: http.client would refuse nothing, but this
says exactly which bytes go on the wire."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from workers.seed import DEMO_KEY

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@dataclass
class Served:
    url: str
    port: int
    moderator_token: str

    def get(self, path: str, headers: dict | None = None, timeout: float = 30):
        """(status, headers, body) of a GET; errors are answers too."""
        request = urllib.request.Request(self.url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def post_json(self, path: str, body: dict, token: str):
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def raw_get(self, target: str) -> tuple[int, dict[str, str], bytes]:
        """GET `target` (already encoded) on a socket of its own."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
            line = f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            # gunicorn may refuse a long line before reading it all: its answer follows.
            with contextlib.suppress(ConnectionResetError):
                sock.sendall(line.encode())
            data = b""
            try:
                while chunk := sock.recv(65536):
                    data += chunk
            except ConnectionResetError:
                pass  # the server answered before reading all that was sent, and closed
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
        return status, headers, body


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _discuss(env: dict, *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "discuss"), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("probing-server")
    env = {
        **os.environ,
        "DISCUSS_DATABASE_URL": f"sqlite:///{folder}/discuss.db",
        "DISCUSS_SECRET_KEY": "probing-secret",
        "DISCUSS_WRITE_RATE_LIMIT": "10000 per minute",
    }
    env.pop("DISCUSS_REDIS_URL", None)
    _discuss(env, "init-db")
    _discuss(env, "load-demo")
    out = _discuss(env, "register", "Probing moderator", "--moderator")
    token = re.search(r"^token: (\S+)$", out, re.M).group(1)
    port = _free_port()
    log = open(folder / "gunicorn.log", "w")  # noqa: SIM115 - closed below
    argv = [str(BIN / "gunicorn"), "--workers", "2", "--threads", "4"]
    argv += ["--bind", f"127.0.0.1:{port}", "web.wsgi:app"]
    # cwd=ROOT: gunicorn reads ./gunicorn.conf.py, as under `make run` and the Procfile.
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    served = Served(f"http://127.0.0.1:{port}", port, token)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if served.get("/api/v1/health", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start: see {folder / 'gunicorn.log'}")
            time.sleep(0.2)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _error_shape(body: bytes) -> dict:
    error = json.loads(body)["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str), error
    return error


# ---- page waits ---------------------------------------------------------------------


def test_a_page_wait_beyond_the_log_is_refused_at_once(served):
    """`?after=` past the head of the log was never returned by a write: the page says
    so at once (as the API's min_position does) instead of holding a worker thread for
    the whole read wait. 16 at a time, more than the server's 8 threads."""
    path = f"/t/{DEMO_KEY}?after=9223372036854775807"
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda _: served.get(path), range(16)))
    for status, headers, body in answers:
        assert status == 400, status
        assert headers["Content-Type"].startswith("text/html")
        assert b"Error 400" in body
    assert served.get(f"/t/{DEMO_KEY}")[0] == 200


# ---- thread keys and the request line ---------------------------------------------------

KEYS = [
    "a" * 2000,  # ASCII: one character each in a URL
    "é" * 2000,  # 6 characters each, percent-encoded
    "🙂" * 400,  # 12 characters each
    "%/?#" * 300,  # reserved characters: 3 each
    "posts/" + "é" * 300,  # long but within every limit
]


@pytest.mark.parametrize("key", KEYS, ids=lambda k: f"{k[:6]}x{len(k)}")
def test_every_thread_key_the_api_accepts_can_be_read_back(served, key):
    status, body = served.post_json(
        "/api/v1/threads", {"title": "Long key", "key": key}, served.moderator_token
    )
    if status != 201:
        assert status == 422, (status, body)
        assert "key" in body["error"]["fields"], body
        return
    encoded = quote(key, safe="")
    # Read-your-writes as a client does it: the write's position (without it the read
    # raced the projection runner and sometimes answered 404).
    position = body["position"]
    for target in (
        f"/api/v1/threads/by-key/{encoded}?min_position={position}",
        f"/t/{encoded}?after={position}",
    ):
        answer = served.raw_get(target)
        assert answer[0] == 200, (target[:60], answer[0], answer[2][:200])
    assert served.raw_get(f"/t/{body['id']}?cursor=9223372036854775807")[0] == 200


def test_the_longest_key_allowed_is_refused_one_character_later(served):
    """The limit is on the key's length in a URL, percent-encoded (domain/rules.py)."""
    from domain.rules import THREAD_KEY_URL_MAX_LENGTH

    fits = "é" * (THREAD_KEY_URL_MAX_LENGTH // 6) + "k" * (THREAD_KEY_URL_MAX_LENGTH % 6)
    status, body = served.post_json(
        "/api/v1/threads", {"title": "Fits", "key": fits}, served.moderator_token
    )
    assert status == 201, body
    status, body = served.post_json(
        "/api/v1/threads", {"title": "Too long", "key": fits + "k"}, served.moderator_token
    )
    assert status == 422 and "key" in body["error"]["fields"], body
    assert "percent-encoded" in body["error"]["fields"]["key"][0]


# ---- gunicorn's own answers ---------------------------------------------------------------


@pytest.mark.parametrize("target", ["/t/" + "a" * 5000, "/api/v1/threads?x=" + "9" * 5000])
def test_a_request_line_too_long_is_answered_in_the_error_shape(served, target):
    status, headers, body = served.raw_get(target)
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert headers["x-content-type-options"] == "nosniff"
    error = _error_shape(body)
    assert error["code"] == "request_line_too_large", error


def test_nosniff_on_static_files_pages_and_the_api_through_the_server(served):
    for path in (
        "/",
        f"/t/{DEMO_KEY}",
        "/api/v1/threads",
        "/api/v1/nothing",
        "/static/css/site.css",
    ):
        status, headers, _ = served.get(path)
        assert headers.get("X-Content-Type-Options") == "nosniff", (path, status)
