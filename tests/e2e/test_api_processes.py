"""End to end against real processes, as deployed when scaled out: gunicorn (2 workers,
`web.wsgi:app`, no --preload) and an `rq worker` (SimpleWorker) on PostgreSQL and
Redis, all started here. The web reaches Redis through a TCP proxy, so that Redis can
be made unreachable for it mid-test without stopping the server other tests share;
the worker connects directly. Redis data lives in a dedicated db number, flushed
before and after.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests

from domain.settings import Database
from tests.api.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 11


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _eventually(call, predicate, seconds: float = 20.0):
    deadline = time.monotonic() + seconds
    while True:
        try:
            result = call()
        except requests.ConnectionError:
            result = None
        if (result is not None and predicate(result)) or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


class Stack:
    def __init__(self, base: str, env: dict[str, str], logs: Path, proxy: TcpProxy):
        self.base = base
        self.env = env
        self.logs = logs
        self.proxy = proxy  # between the web and Redis
        self.session = requests.Session()

    def url(self, path: str) -> str:
        return f"{self.base}/api/v1{path}"

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.session.get(self.url(path), timeout=30, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.session.post(self.url(path), timeout=30, **kwargs)

    def patch(self, path: str, **kwargs) -> requests.Response:
        return self.session.patch(self.url(path), timeout=30, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        return self.session.delete(self.url(path), timeout=30, **kwargs)

    def log_tail(self) -> str:
        return "\n".join(
            f"--- {p.name}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-40:])
            for p in sorted(self.logs.glob("*.log"))
        )


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    handle = log.open("w")
    return subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture
def stack(pg_database: Database, tmp_path: Path) -> Iterator[Stack]:
    direct = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB)
    direct.flushdb()
    proxy = TcpProxy((REDIS_HOST, REDIS_PORT)).start()
    port = _free_port()
    env = {
        **os.environ,
        "DISCUSS_DATABASE_URL": pg_database.url,
        "DISCUSS_SECRET_KEY": "e2e-secret",
        "DISCUSS_WRITE_RATE_LIMIT": "1000 per minute",
        "DISCUSS_READ_WAIT_SECONDS": "10",
        "PYTHONUNBUFFERED": "1",
    }
    web_env = {**env, "DISCUSS_REDIS_URL": f"redis://127.0.0.1:{proxy.port}/{REDIS_DB}"}
    worker_env = {**env, "DISCUSS_REDIS_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"}
    logs = tmp_path / "logs"
    logs.mkdir()
    processes = [
        _start(
            [
                str(BIN / "gunicorn"),
                "--workers", "2",
                "--threads", "4",
                "--bind", f"127.0.0.1:{port}",
                "--timeout", "30",
                "web.wsgi:app",
            ],
            web_env,
            logs / "gunicorn.log",
        ),
        _start(
            [
                str(BIN / "rq"),
                "worker",
                "--worker-class", "rq.worker.SimpleWorker",
                "--url", worker_env["DISCUSS_REDIS_URL"],
                "projections",
            ],
            worker_env,
            logs / "rq.log",
        ),
    ]  # fmt: skip
    result = Stack(f"http://127.0.0.1:{port}", env, logs, proxy)
    try:
        health = _eventually(lambda: result.get("/health"), lambda r: r.status_code == 200)
        assert health is not None and health.status_code == 200, result.log_tail()
        yield result
    finally:
        for process in processes:
            _stop(process)
        proxy.stop()
        direct.flushdb()
        direct.close()


def _register_moderator(stack: Stack) -> dict[str, str]:
    """Moderators come from the operator's CLI, never from the API."""
    done = subprocess.run(
        [str(BIN / "discuss"), "register", "Mo", "--moderator"],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    token = next(
        line.split(":", 1)[1].strip()
        for line in done.stdout.splitlines()
        if line.startswith("token:")
    )
    return {"Authorization": f"Bearer {token}"}


def test_the_api_end_to_end_on_gunicorn_rq_postgres_and_redis(stack: Stack):
    mod = _register_moderator(stack)
    member = stack.post("/authors", json={"name": "Ada"})
    assert member.status_code == 201, member.text
    ada = {"Authorization": f"Bearer {member.json()['token']}"}
    other = stack.post("/authors", json={"name": "Brian"}).json()
    brian = {"Authorization": f"Bearer {other['token']}"}

    opened = stack.post("/threads", json={"title": "E2E", "key": "e2e/one"}, headers=mod)
    assert opened.status_code == 201, opened.text
    thread_path = f"/threads/{opened.json()['id']}"

    # Post, then read your own write: served by either gunicorn worker, projected by rq.
    posted = stack.post(f"{thread_path}/comments", json={"text": "first"}, headers=ada)
    assert posted.status_code == 201 and posted.headers["Location"]
    page = stack.get(thread_path, params={"min_position": posted.json()["position"]})
    assert page.status_code == 200, stack.log_tail()
    assert [c["text"] for c in page.json()["comments"]] == ["first"]

    # Reply three deep, alternating authors.
    parent, last = posted.json()["comment"], posted.json()
    for text, who in [("one", brian), ("two", ada), ("three", brian)]:
        reply = stack.post(
            f"{thread_path}/comments", json={"text": text, "parent_id": parent}, headers=who
        )
        assert reply.status_code == 201, reply.text
        parent, last = reply.json()["comment"], reply.json()
    page = stack.get(thread_path, params={"min_position": last["position"]}).json()
    node, texts = page["comments"][0], []
    while node:
        texts.append(node["text"])
        node = node["replies"][0] if node["replies"] else None
    assert texts == ["first", "one", "two", "three"]

    # Edit with If-Match; a stale edit is refused with 412 and the current version.
    comment_path = f"/comments/{posted.json()['comment']}"
    edited = stack.patch(
        comment_path, json={"text": "first, edited"}, headers={**ada, "If-Match": '"1"'}
    )
    assert edited.status_code == 200 and edited.json()["version"] == 2
    stale = stack.patch(
        comment_path, json={"text": "lost update"}, headers={**ada, "If-Match": '"1"'}
    )
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "version_conflict"
    assert stale.headers["ETag"] == '"2"'
    no_match = stack.patch(comment_path, json={"text": "x"}, headers=ada)
    assert no_match.status_code == 428

    # Retract the last reply (its author); a placeholder stays.
    retracted = stack.delete(f"/comments/{last['comment']}", headers=brian)
    assert retracted.status_code == 200, retracted.text

    # Conditional GET: the same ETag from either worker, 304 while nothing changes.
    first = stack.get(thread_path, params={"min_position": retracted.json()["position"]})
    assert first.status_code == 200
    etag = first.headers["ETag"]
    body = first.json()
    assert body["comments"][0]["text"] == "first, edited"
    deepest = body["comments"][0]["replies"][0]["replies"][0]["replies"][0]
    assert deepest["state"] == "retracted" and deepest["text"] is None
    for _ in range(4):  # several requests: both workers answer
        again = stack.get(thread_path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
    sub = stack.get(f"/comments/{posted.json()['comment']}")
    assert sub.status_code == 200 and sub.json()["comment"]["reply_count"] == 1

    projections = stack.get("/projections").json()
    assert all(p["error"] is None for p in projections["projections"])
    assert stack.get("/openapi.json").status_code == 200

    # Redis unreachable (for the web): writes still succeed; health says degraded.
    stack.proxy.stop()
    during = stack.post(
        f"{thread_path}/comments", json={"text": "while Redis is down"}, headers=ada
    )
    assert during.status_code == 201, stack.log_tail()
    health = stack.get("/health")
    assert health.status_code == 200
    assert health.json()["status"] == "degraded"
    assert health.json()["redis"] == {"configured": True, "reachable": False}
    assert stack.get(thread_path).status_code == 200  # reads go on

    # Redis back: the next write's catch-up job also projects the one made meanwhile.
    stack.proxy.start()
    after = _eventually(
        lambda: stack.post(f"{thread_path}/comments", json={"text": "after"}, headers=ada),
        lambda r: r.status_code == 201,
    )
    assert after is not None and after.status_code == 201
    page = stack.get(thread_path, params={"min_position": after.json()["position"]}).json()
    assert [c["text"] for c in page["comments"]] == [
        "first, edited",
        "while Redis is down",
        "after",
    ]
    assert (
        _eventually(lambda: stack.get("/health"), lambda r: r.json()["status"] == "ok").json()[
            "status"
        ]
        == "ok"
    )
