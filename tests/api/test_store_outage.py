"""A stopped event store: every request answers 503 + Retry-After in the one error
shape (never a 500, never a hang past the connect timeout), /health says so, and the
API serves again once the store is back.

PostgreSQL is "stopped" by cutting a TCP proxy in front of the real server: open
connections drop and new ones are refused, as when the server goes down, without
stopping the server that other tests share.
"""

from __future__ import annotations

import socket
import time

import pytest

from domain.model import MODERATOR
from domain.settings import Database
from projections.setup import open_application
from tests.api.conftest import API, assert_error, make_app, stop_app
from tests.api.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def short_connect_timeout(monkeypatch):
    # eventsourcing waits DISCUSS_PG_CONNECT_TIMEOUT (5 s by default) for a pooled
    # connection, and its recorders try 10 times: with 1, a call fails after ~12 s.
    monkeypatch.setenv("DISCUSS_PG_CONNECT_TIMEOUT", "1")


def _eventually(call, predicate, seconds: float = 20.0):
    deadline = time.monotonic() + seconds
    while True:
        response = call()
        if predicate(response) or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def test_a_store_that_stops_answers_503_then_recovers(pg_database, short_connect_timeout):
    proxy = TcpProxy(("127.0.0.1", 5432)).start()
    proxied = Database.from_url(
        f"postgresql://postgres@127.0.0.1:{proxy.port}/{pg_database.dbname}"
    )
    direct = open_application(pg_database)
    moderator = direct.register_author("Mo", MODERATOR)
    direct.close()
    flask_app = make_app(proxied, read_wait_seconds=2.0)
    client = flask_app.test_client()
    mod = {"Authorization": f"Bearer {moderator.token}"}
    try:
        opened = client.post(f"{API}/threads", json={"title": "T"}, headers=mod)
        assert opened.status_code == 201
        url = f"{API}/threads/{opened.json['id']}"
        posted = client.post(f"{url}/comments", json={"text": "before"}, headers=mod)
        assert posted.status_code == 201
        read = client.get(url, query_string={"min_position": posted.json["position"]})
        assert read.status_code == 200

        proxy.stop()
        # The first request to find the store gone waits for eventsourcing's retries
        # (10 x the connect timeout); after it, requests fail fast for a few seconds.
        first = client.post(f"{url}/comments", json={"text": "during"}, headers=mod)
        assert_error(first, 503, "store_unavailable")
        assert first.headers["Retry-After"] == "1"
        started = time.monotonic()
        for response in [
            client.get(url),
            client.get(f"{API}/threads"),
            client.post(f"{url}/comments", json={"text": "during"}, headers=mod),
            client.post(f"{API}/authors", json={"name": "Zed"}),
        ]:
            assert_error(response, 503, "store_unavailable")
            assert 1 <= int(response.headers["Retry-After"]) <= 5
        assert time.monotonic() - started < 1

        proxy.start()  # the same port: the store is back
        health = _eventually(lambda: client.get(f"{API}/health"), lambda r: r.status_code == 200)
        assert health.json["store"]["reachable"] is True  # and the breaker is closed
        again = _eventually(
            lambda: client.post(f"{url}/comments", json={"text": "after"}, headers=mod),
            lambda r: r.status_code == 201,
        )
        assert again.status_code == 201, again.json
        seen = _eventually(
            lambda: client.get(url, query_string={"min_position": again.json["position"]}),
            lambda r: r.status_code == 200,
        )
        assert seen.status_code == 200
        assert [c["text"] for c in seen.json["comments"]] == ["before", "after"]
        assert client.get(f"{API}/health").json["status"] in ("ok", "degraded")
    finally:
        proxy.stop()
        stop_app(flask_app)


def test_a_store_never_reached_answers_503(short_connect_timeout):
    database = Database.from_url(f"postgresql://postgres@127.0.0.1:{_closed_port()}/discuss")
    flask_app = make_app(database)
    client = flask_app.test_client()
    try:
        assert_error(client.get(f"{API}/threads"), 503, "store_unavailable")
        assert_error(client.post(f"{API}/authors", json={"name": "Zed"}), 503)
        health = client.get(f"{API}/health")
        assert health.status_code == 503 and health.json["store"]["reachable"] is False
        assert health.headers["Retry-After"] == "5"
    finally:
        stop_app(flask_app)
