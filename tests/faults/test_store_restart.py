"""PostgreSQL restarts: the API serves again as soon as the server accepts connections
(the store breaker probes the server instead of waiting out a fixed period, and the
connections that died with the old server are replaced).

The restart is made by cutting a TCP proxy in front of the shared server (open
connections drop, new ones are refused) and starting it again on the same port."""

from __future__ import annotations

import logging
import time

import pytest

from domain.model import MODERATOR
from domain.settings import Database
from projections.setup import open_application
from tests.api.conftest import API, make_app, stop_app
from tests.api.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres


def test_writes_succeed_again_right_after_the_store_is_back(pg_database, monkeypatch, caplog):
    monkeypatch.setenv("DISCUSS_PG_CONNECT_TIMEOUT", "1")
    monkeypatch.setenv("DISCUSS_SECRET_KEY", "test-secret")
    proxy = TcpProxy((pg_database.host, pg_database.port)).start()
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
        for n in range(3):  # every pooled and per-thread connection is in use once
            posted = client.post(f"{url}/comments", json={"text": f"c{n}"}, headers=mod)
            assert posted.status_code == 201
            read = client.get(url, query_string={"min_position": posted.json["position"]})
            assert read.status_code == 200

        caplog.clear()
        with caplog.at_level(logging.INFO, logger="workers.runner"):
            proxy.stop()  # the server goes away; a request finds out
            down = client.post(f"{url}/comments", json={"text": "x"}, headers=mod)
            assert down.status_code == 503
            time.sleep(1.5)  # the embedded runner keeps trying meanwhile
        # ...and says so once per outage, not once per attempt.
        runner = [r for r in caplog.records if r.name == "workers.runner"]
        assert len([r for r in runner if r.levelno >= logging.WARNING]) == 1
        proxy.start()  # and is back: it accepts connections again
        time.sleep(0.5)
        again = client.post(f"{url}/comments", json={"text": "after"}, headers=mod)
        assert again.status_code == 201, again.json
        seen = client.get(url, query_string={"min_position": again.json["position"]})
        assert seen.status_code == 200, seen.json
        assert "after" in [c["text"] for c in seen.json["comments"]]
    finally:
        proxy.stop()
        stop_app(flask_app)


def test_a_catch_up_job_during_a_store_outage_is_not_a_failed_job(private_redis, monkeypatch):
    """A job that finds PostgreSQL down (a restart) is not left in the failed registry:
    the outage is transient, and the sweeper or the next job catches up."""
    from rq import Queue
    from rq.registry import FailedJobRegistry

    from tests.support.private_redis import free_port
    from workers.bootstrap import forget_services
    from workers.jobs import enqueue_catch_up
    from workers.rq_worker import CatchUpWorker

    monkeypatch.setenv("DISCUSS_PG_CONNECT_TIMEOUT", "1")
    monkeypatch.setenv("DISCUSS_DATABASE_URL", f"postgresql://postgres@127.0.0.1:{free_port()}/x")
    redis = private_redis.client()
    try:
        assert enqueue_catch_up(redis, "projections")
        queue = Queue("projections", connection=redis)
        CatchUpWorker([queue], connection=redis).work(burst=True)
        assert FailedJobRegistry(queue=queue).count == 0
    finally:
        forget_services()
