"""The production process set-up, deploy/supervisord.conf, started for real: a worker
killed -9 is restarted on its own while the web and the sweeper keep running, and the
projections keep up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest

from domain.model import MODERATOR
from projections.setup import open_application
from tests.faults.conftest import BIN, ROOT, eventually
from tests.support.private_redis import free_port

pytestmark = pytest.mark.postgres


def _children(parent: int) -> dict[int, str]:
    """{pid: command line} of the processes whose parent is `parent`."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                found[int(entry.name)] = (
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                )
        except (OSError, ValueError):
            continue
    return found


def _pids(supervisor: int, needle: str) -> set[int]:
    return {pid for pid, cmd in _children(supervisor).items() if needle in cmd}


def _call(url: str, data: dict | None = None, token: str | None = None):
    request = urllib.request.Request(url, method="POST" if data is not None else "GET")
    if data is not None:
        request.data = json.dumps(data).encode()
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read() or b"null")


def test_supervisord_restarts_a_killed_worker_and_keeps_the_others(
    pg_database, private_redis, tmp_path
):
    app = open_application(pg_database)
    moderator = app.register_author("Mo", MODERATOR)
    app.close()
    port = free_port()
    config = tmp_path / "supervisord.conf"
    # The shipped file, with its socket and logs moved out of the project (tests run in
    # parallel) and its own folder spelled out (%(here)s is the folder of the file read).
    text = (ROOT / "deploy" / "supervisord.conf").read_text()
    text = text.replace("%(here)s/../var", str(tmp_path))
    config.write_text(text.replace("%(here)s", str(ROOT / "deploy")))
    env = {
        **os.environ,
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        "DISCUSS_DATABASE_URL": pg_database.url,
        "DISCUSS_REDIS_URL": private_redis.url,
        "DISCUSS_SECRET_KEY": "test-secret",
        "DISCUSS_WRITE_RATE_LIMIT": "10000 per minute",
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
    }
    supervisor = subprocess.Popen(
        [
            str(BIN / "supervisord"),
            "-n",
            "-c",
            str(config),
            "-d",
            str(ROOT),
            "-l",
            str(tmp_path / "supervisord.log"),
            "-j",
            str(tmp_path / "supervisord.pid"),
            "-q",
            str(tmp_path),
        ],
        env=env,
        cwd=ROOT,
        stdout=(tmp_path / "out.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    try:

        def healthy() -> bool:
            try:
                return _call(f"{base}/health")[0] == 200
            except OSError:
                return False

        assert eventually(healthy, seconds=60), (tmp_path / "out.log").read_text()
        assert eventually(lambda: len(_pids(supervisor.pid, "discuss worker")) == 2)
        web = _pids(supervisor.pid, "gunicorn")
        sweeper = _pids(supervisor.pid, "discuss sweep")
        workers = _pids(supervisor.pid, "discuss worker")
        assert len(web) == 1 and len(sweeper) == 1

        killed = min(workers)
        os.kill(killed, signal.SIGKILL)
        assert eventually(
            lambda: len(_pids(supervisor.pid, "discuss worker") - {killed}) == 2, seconds=20
        )
        assert _pids(supervisor.pid, "gunicorn") == web  # the others never stopped
        assert _pids(supervisor.pid, "discuss sweep") == sweeper

        status, thread = _call(f"{base}/threads", {"title": "After the kill"}, moderator.token)
        assert status == 201
        status, posted = _call(
            f"{base}/threads/{thread['id']}/comments", {"text": "still here"}, moderator.token
        )
        assert status == 201
        status, read = _call(f"{base}/threads/{thread['id']}?min_position={posted['position']}")
        assert status == 200 and [c["text"] for c in read["comments"]] == ["still here"]
    finally:
        supervisor.send_signal(signal.SIGTERM)
        try:
            supervisor.wait(timeout=40)
        except subprocess.TimeoutExpired:
            supervisor.kill()
            supervisor.wait(timeout=10)
    assert not _children(supervisor.pid)
