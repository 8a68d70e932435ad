"""GET /health and GET /projections; Redis as the rate limits' store when scaled, and
writes that succeed while Redis is unreachable."""

from __future__ import annotations

import socket

import pytest
import redis

from tests.api.conftest import API, assert_error, post
from tests.conftest import REDIS_URL

REDIS_DB = 12  # dedicated to these tests, flushed before and after


@pytest.fixture
def database(sqlite_database):
    return sqlite_database


@pytest.fixture
def redis_url() -> str:
    url = REDIS_URL.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_health_reports_the_store_and_the_projections(client, thread):
    response = client.get(f"{API}/health")
    assert response.status_code == 200
    body = response.json
    assert body["status"] == "ok"
    assert body["store"] == {"reachable": True, "backend": "sqlite", "head": body["store"]["head"]}
    assert body["store"]["head"] >= thread["position"]
    assert body["redis"] == {"configured": False, "reachable": None}
    names = {p["name"] for p in body["projections"]}
    assert {"threads", "revisions"} <= names
    assert response.headers["Cache-Control"] == "no-store"
    assert "Retry-After" not in response.headers


def test_projections_lists_each_projections_status(client, thread):
    client.get(f"{API}/threads", query_string={"min_position": thread["position"]})
    body = client.get(f"{API}/projections").json
    assert body["head"] >= thread["position"]
    threads = next(p for p in body["projections"] if p["name"] == "threads")
    assert threads["position"] >= thread["position"] and threads["error"] is None
    assert set(threads) == {
        "name", "generation", "position", "head", "lag_events", "lag_seconds", "error",
        "error_position",
    }  # fmt: skip


@pytest.mark.redis
def test_scaled_out_writes_enqueue_and_limits_count_in_redis(
    app_factory, member, thread, redis_url
):
    client = app_factory(redis_url=redis_url, write_rate_limit="2 per minute").test_client()
    assert client.get(f"{API}/health").json["redis"] == {"configured": True, "reachable": True}
    post(client, member, thread["id"], "one")
    keys = {k.decode() for k in redis.Redis.from_url(redis_url).keys("*")}
    assert any("LIMITER" in k or "LIMITS" in k for k in keys), keys  # flask-limiter's counters
    assert "discuss:catch-up:pending" in keys  # the catch-up job was enqueued
    post(client, member, thread["id"], "two")
    refused = client.post(
        f"{API}/threads/{thread['id']}/comments", json={"text": "3"}, headers=member.headers
    )
    assert_error(refused, 429)


@pytest.mark.redis
def test_writes_succeed_while_redis_is_unreachable(app_factory, member, thread):
    unreachable = f"redis://127.0.0.1:{_closed_port()}/0"
    flask_app = app_factory(redis_url=unreachable, write_rate_limit="3 per minute")
    client = flask_app.test_client()
    posted = [post(client, member, thread["id"], f"n{n}") for n in range(3)]
    # The rate limits still hold, counted in memory meanwhile.
    refused = client.post(
        f"{API}/threads/{thread['id']}/comments", json={"text": "x"}, headers=member.headers
    )
    assert_error(refused, 429)
    health = client.get(f"{API}/health")
    assert health.status_code == 200
    assert health.json["status"] == "degraded"
    assert health.json["redis"] == {"configured": True, "reachable": False}
    # This app runs the embedded runner too: the writes are readable.
    page = client.get(
        f"{API}/threads/{thread['id']}", query_string={"min_position": posted[-1]["position"]}
    )
    assert page.status_code == 200 and len(page.json["comments"]) == 3
