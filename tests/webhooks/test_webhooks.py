"""Signed webhooks (issue 16, item 3) against a real local HTTP receiver that succeeds,
fails, times out and redirects: order per endpoint, Standard Webhooks signatures
(checked with the reference library, `standardwebhooks`), retries, no duplicates per
webhook-id, disabling an endpoint that keeps failing, payloads through the visibility
policy, redelivery from a position, and the refusals (not http(s), private, 422)."""

from __future__ import annotations

import json
from uuid import UUID

import pytest
from standardwebhooks.webhooks import Webhook

from domain.model import MEMBER, MODERATOR, OPERATOR_ID
from domain.settings import Settings
from domain.webhooks import register_webhook
from projections import webhooks
from tests.support.webhook_receiver import Receiver
from workers.bootstrap import bootstrap
from workers.delivery import deliver_round, senders_for


@pytest.fixture
def database(sqlite_database):
    return sqlite_database


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


def make_services(database, **settings):
    values = dict(redis_url=None, webhook_timeout_seconds=1.0)
    values.update(settings)
    return bootstrap(Settings.from_env(database=database, **values))


@pytest.fixture
def services(database):
    """A command-line process's objects: no runner threads, the test drives rounds."""
    built = make_services(database)
    yield built
    built.close()


def setup_thread(app):
    moderator = app.register_author("mod", MODERATOR)
    thread = app.open_thread(OPERATOR_ID, "A thread", key="hooks")
    alice = app.register_author("alice", MEMBER)
    return moderator, thread, alice


def round_(services, times: int = 1) -> None:
    for _ in range(times):
        services.engine.catch_up_many()
        deliver_round(services.outbox, senders_for(services))


def register(services, receiver, events=("comment.posted",), **kwargs):
    return register_webhook(
        services.app, OPERATOR_ID, receiver.url, list(events), allow_private=True, **kwargs
    )


def verified(secret: str, request: dict) -> dict:
    headers = {k.lower(): v for k, v in request["headers"].items()}
    return Webhook(secret).verify(request["body"], headers)


def test_deliveries_are_signed_ordered_and_carry_the_position_as_id(services, receiver):
    app = services.app
    _, thread, alice = setup_thread(app)
    hook = register(services, receiver)
    posted = [app.post_comment(alice.author_id, thread.thread_id, f"hello {n}") for n in range(3)]
    round_(services)
    got = receiver.wait_for(3)
    assert [r["headers"]["webhook-id"] for r in got] == [str(p.position) for p in posted]
    for request, p in zip(got, posted, strict=True):
        body = verified(hook.secret, request)  # raises on a bad signature or timestamp
        assert body["type"] == "comment.posted"
        assert body["data"]["comment_id"] == str(p.comment_id)
        assert body["data"]["comment"]["text"].startswith("hello")
        assert body["data"]["thread"]["title"] == "A thread"
        assert request["headers"]["webhook-signature"].startswith("v1,")
    # A wrong secret does not verify.
    with pytest.raises(Exception):  # noqa: B017 - the library's own verification error
        verified("whsec_" + "A" * 44, got[0])
    round_(services)  # nothing is sent twice
    assert len(receiver.requests) == 3
    log = webhooks.deliveries(services.engine.store, str(hook.endpoint_id))["deliveries"]
    assert [d["state"] for d in log] == ["sent"] * 3


def test_failures_are_retried_in_order_without_duplicates(services, receiver):
    app = services.app
    _, thread, alice = setup_thread(app)
    hook = register(services, receiver)
    receiver.plan.extend(["fail", "slow"])  # the first try fails, the second times out
    first = app.post_comment(alice.author_id, thread.thread_id, "first")
    second = app.post_comment(alice.author_id, thread.thread_id, "second")
    round_(services)
    assert [r["headers"]["webhook-id"] for r in receiver.requests] == [str(first.position)]
    store = services.engine.store
    log = {
        d["position"]: d for d in webhooks.deliveries(store, str(hook.endpoint_id))["deliveries"]
    }
    assert (
        log[first.position]["state"] == "pending"
        and "HTTP 500" in log[first.position]["last_error"]
    )
    assert log[second.position]["attempts"] == 0  # waits behind the first: not tried
    services.outbox.retry("webhooks")  # "retry now"
    round_(services)
    log = {
        d["position"]: d for d in webhooks.deliveries(store, str(hook.endpoint_id))["deliveries"]
    }
    assert (
        "Timeout" in log[first.position]["last_error"]
        or "timed out" in log[first.position]["last_error"]
    )
    services.outbox.retry("webhooks")
    round_(services)
    ids = [r["headers"]["webhook-id"] for r in receiver.requests]
    assert ids == [str(first.position)] * 3 + [str(second.position)]
    ok = [r["headers"]["webhook-id"] for r in receiver.requests if r["mode"] == "ok"]
    assert ok == [str(first.position), str(second.position)]  # in order, each once
    assert webhooks.endpoint(store, str(hook.endpoint_id))["failures_in_a_row"] == 0


def test_an_endpoint_that_keeps_failing_is_disabled(database, receiver):
    services = make_services(database, webhook_disable_after=2)
    try:
        app = services.app
        _, thread, alice = setup_thread(app)
        hook = register(services, receiver)
        receiver.plan.extend(["fail"] * 10)
        app.post_comment(alice.author_id, thread.thread_id, "one")
        round_(services)
        services.outbox.retry("webhooks")
        round_(services)
        services.outbox.catch_up()  # the channel reads the Disabled event
        endpoint = webhooks.endpoint(services.engine.store, str(hook.endpoint_id))
        assert not endpoint["enabled"]
        assert "2 failed deliveries in a row" in endpoint["disabled_reason"]
        # Nothing more is queued or sent while it is disabled.
        app.post_comment(alice.author_id, thread.thread_id, "two")
        services.outbox.retry("webhooks")
        round_(services)
        assert len(receiver.requests) == 2
        states = [
            d["state"]
            for d in webhooks.deliveries(services.engine.store, str(hook.endpoint_id))["deliveries"]
        ]
        assert states == ["dropped"]
    finally:
        services.close()


def test_payloads_go_through_the_visibility_policy(services, receiver):
    app = services.app
    moderator, thread, alice = setup_thread(app)
    hook = register(services, receiver, events=("comment.posted", "comment.hidden"))
    posted = app.post_comment(alice.author_id, thread.thread_id, "my phone is 07700 900123")
    app.hide_comment(moderator.author_id, posted.comment_id, "personal data")
    round_(services)
    got = receiver.wait_for(2)
    assert [verified(hook.secret, r)["type"] for r in got] == ["comment.posted", "comment.hidden"]
    for request in got:
        assert b"07700" not in request["body"]
        comment = json.loads(request["body"])["data"]["comment"]
        assert comment["text"] is None and comment["author"] is None
        assert comment["state"] == "hidden"


def test_redelivery_from_a_position_keeps_the_ids(services, receiver):
    app = services.app
    _, thread, alice = setup_thread(app)
    hook = register(services, receiver)
    posted = [app.post_comment(alice.author_id, thread.thread_id, f"c{n}") for n in range(3)]
    round_(services)
    count = webhooks.redeliver(services.engine.store, str(hook.endpoint_id), posted[1].position)
    assert count == 2
    round_(services)
    ids = [r["headers"]["webhook-id"] for r in receiver.requests]
    assert ids == [str(p.position) for p in posted] + [str(p.position) for p in posted[1:]]


def test_redirects_to_another_host_are_not_followed(services, receiver):
    app = services.app
    _, thread, alice = setup_thread(app)
    register(services, receiver)
    receiver.plan.append("redirect:http://example.invalid/elsewhere")
    app.post_comment(alice.author_id, thread.thread_id, "x")
    round_(services)
    assert len(receiver.requests) == 1
    (row,) = services.outbox.rows("webhooks")
    assert row["state"] == "pending"
    assert "redirect to another host refused" in row["last_error"]


# ---- refusals: the API and the command line ---------------------------------------------


@pytest.fixture
def api(database):
    from web import create_app
    from workers.bootstrap import forget_services

    flask_app = create_app(
        Settings.from_env(
            database=database,
            redis_url=None,
            embedded_runner=True,
            write_rate_limit="10000 per minute",
            secret_key="webhook-tests",
        )
    )
    app = flask_app.extensions["discuss"].services.app
    mod = app.register_author("mod", MODERATOR)
    member = app.register_author("member", MEMBER)
    yield flask_app.test_client(), app, mod, member
    flask_app.extensions["discuss"].stop()
    forget_services()


def bearer(who) -> dict:
    return {"Authorization": f"Bearer {who.token}"}


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data",
        "not a url",
    ],
)
def test_api_refuses_a_url_that_is_not_public_http(api, url):
    client, app, mod, _ = api
    before = app.head_position()
    response = client.post(
        "/api/v1/webhooks", json={"url": url, "events": ["comment.posted"]}, headers=bearer(mod)
    )
    assert response.status_code == 422, response.json
    assert "url" in response.json["error"]["fields"]
    assert app.head_position() == before  # nothing stored


def test_api_for_moderators_register_list_log_disable(api):
    client, _, mod, member = api
    body = {"url": "http://93.184.215.14/hook", "events": ["comment.posted"]}  # public
    assert client.post("/api/v1/webhooks", json=body, headers=bearer(member)).status_code == 403
    assert client.post("/api/v1/webhooks", json=body).status_code == 401
    bad = client.post(
        "/api/v1/webhooks",
        json={**body, "events": ["comment.exploded"]},
        headers=bearer(mod),
    )
    assert bad.status_code == 422
    created = client.post("/api/v1/webhooks", json=body, headers=bearer(mod))
    assert created.status_code == 201, created.json
    hook = created.json
    assert hook["secret"].startswith("whsec_")
    listed = client.get("/api/v1/webhooks", headers=bearer(mod)).json["webhooks"]
    assert [w["id"] for w in listed] == [hook["id"]]
    assert "secret" not in listed[0]
    assert client.get("/api/v1/webhooks", headers=bearer(member)).status_code == 403
    log = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=bearer(mod))
    assert log.status_code == 200 and log.json["deliveries"] == []
    off = client.post(
        f"/api/v1/webhooks/{hook['id']}/disable",
        json={"reason": "maintenance"},
        headers=bearer(mod),
    )
    assert off.status_code == 200 and off.json["enabled"] is False
    one = client.get(f"/api/v1/webhooks/{hook['id']}", headers=bearer(mod)).json
    assert one["enabled"] is False and one["disabled_reason"] == "maintenance"
    on = client.post(f"/api/v1/webhooks/{hook['id']}/enable", headers=bearer(mod))
    assert on.status_code == 200 and on.json["enabled"] is True
    again = client.post(
        f"/api/v1/webhooks/{hook['id']}/redeliver", json={"from_position": 1}, headers=bearer(mod)
    )
    assert again.status_code == 200 and again.json == {"redelivered": 0}
    unknown = client.get(f"/api/v1/webhooks/{UUID(int=7)}", headers=bearer(mod))
    assert unknown.status_code == 404
