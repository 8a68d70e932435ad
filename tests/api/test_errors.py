"""The one error shape for every failure, and the status of each kind of mistake:
400 malformed JSON, 401, 404, 405, 413, 415, 422, 429, 500 (with a request id that
is logged) and 503 (the event store unreachable)."""

from __future__ import annotations

import logging
import sqlite3
import uuid

import psycopg
import pytest
from eventsourcing import persistence

from tests.api.conftest import API, assert_error, sqlite_only
from web.auth import COOKIE_NAME


@pytest.fixture
def database(sqlite_database):
    """Error handling is the web layer's: SQLite is enough here (the outage tests and
    the rest of the suite use PostgreSQL too)."""
    return sqlite_database


def test_malformed_json_is_400(client, member, thread):
    url = f"{API}/threads/{thread['id']}/comments"
    for data in ["{", "[1,", '{"text": "x",}', "\xff", "NaN", "{" * 5000 + "}" * 5000]:
        response = client.post(
            url, data=data, content_type="application/json", headers=member.headers
        )
        assert_error(response, 400, "malformed_json")
    empty = client.post(url, data="", content_type="application/json", headers=member.headers)
    assert_error(empty, 400, "malformed_json")


def test_json_that_is_not_an_object_is_422(client, member, thread):
    url = f"{API}/threads/{thread['id']}/comments"
    for data in ["[]", '"text"', "3", "null"]:
        response = client.post(
            url, data=data, content_type="application/json", headers=member.headers
        )
        assert_error(response, 422, "validation_failed")


def test_writes_must_be_json_415(client, member, moderator, thread):
    url = f"{API}/threads/{thread['id']}/comments"
    form = client.post(url, data={"text": "x"}, headers=member.headers)
    assert_error(form, 415, "unsupported_media_type")
    plain = client.post(
        url, data='{"text": "x"}', content_type="text/plain", headers=member.headers
    )
    assert_error(plain, 415)
    missing = client.post(url, headers=member.headers)
    assert_error(missing, 415)
    # +json media types are JSON too
    vendor = client.post(
        url, data='{"text": "x"}', content_type="application/vnd.api+json", headers=member.headers
    )
    assert vendor.status_code == 201
    # A bodyless write needs no content type with a bearer token...
    lock = client.post(f"{API}/threads/{thread['id']}/lock", headers=moderator.headers)
    assert lock.status_code == 200
    # ...but a non-JSON body on it is still refused.
    unlock = client.post(
        f"{API}/threads/{thread['id']}/unlock",
        data="reason=x",
        content_type="text/plain",
        headers=moderator.headers,
    )
    assert_error(unlock, 415)


def test_cookie_signed_in_writes_must_say_json(client, moderator, thread):
    """The pages' cookie authenticates API calls too; a cross-site form could send it
    with a bodyless POST, so without a bearer token writes must be JSON (which a form
    cannot send, and which cross-origin needs a CORS preflight for)."""
    client.set_cookie(COOKIE_NAME, moderator.token)
    url = f"{API}/threads/{thread['id']}/lock"
    assert_error(client.post(url), 415)
    assert_error(client.post(url, data="", content_type="text/plain"), 415)
    assert client.post(url, json={}).status_code == 200


def test_401_for_a_malformed_or_wrong_token(client, thread):
    url = f"{API}/threads/{thread['id']}/comments"
    for header in ["Bearer", "Bearer nope", "Token abc", f"Bearer {uuid.uuid4()}.secret"]:
        response = client.post(url, json={"text": "x"}, headers={"Authorization": header})
        assert_error(response, 401, "unauthenticated")
        assert response.headers["WWW-Authenticate"] == "Bearer"
    # Reads look at the token too (moderators see more): a bad one is refused, not ignored.
    read = client.get(f"{API}/threads/{thread['id']}", headers={"Authorization": "Bearer nope"})
    assert_error(read, 401)


def test_404_and_405_have_the_error_shape(client):
    assert_error(client.get(f"{API}/nothing-here"), 404, "not_found")
    assert_error(client.get(f"{API}/comments/{uuid.uuid4()}"), 404)
    response = client.put(f"{API}/threads")
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_bodies_above_the_limit_are_413(app_factory, member, thread):
    client = app_factory(max_body_bytes=1000).test_client()
    url = f"{API}/threads/{thread['id']}/comments"
    response = client.post(url, json={"text": "x" * 2000}, headers=member.headers)
    assert_error(response, 413, "request_entity_too_large")
    small = client.post(url, json={"text": "x" * 500}, headers=member.headers)
    assert small.status_code == 201


def test_text_over_the_domain_limit_is_422(client, member, thread):
    response = client.post(
        f"{API}/threads/{thread['id']}/comments",
        json={"text": "x" * 20_001},
        headers=member.headers,
    )
    assert "text" in assert_error(response, 422, "text_too_long")["fields"]


def test_writes_are_limited_per_address_and_per_author(app_factory, member, other_member, thread):
    client = app_factory(write_rate_limit="3 per minute").test_client()
    url = f"{API}/threads/{thread['id']}/comments"

    def write(caller, address):
        return client.post(
            url, json={"text": "x"}, headers=caller.headers, environ_base={"REMOTE_ADDR": address}
        )

    # Per author: the same author from two addresses.
    assert [write(member, "192.0.2.1").status_code for _ in range(3)] == [201] * 3
    limited = write(member, "192.0.2.2")
    assert_error(limited, 429, "too_many_requests")
    assert 1 <= int(limited.headers["Retry-After"]) <= 60  # when the minute's window resets
    assert not [h for h, _ in limited.headers if h.startswith("X-RateLimit")]
    # Per address: another author from the first address.
    assert_error(write(other_member, "192.0.2.1"), 429)
    # Another author from a fresh address is not limited.
    assert write(other_member, "192.0.2.3").status_code == 201
    # Registration is a write too (per address).
    for _ in range(3):
        client.post(f"{API}/authors", json={"name": "n"}, environ_base={"REMOTE_ADDR": "192.0.2.9"})
    again = client.post(
        f"{API}/authors", json={"name": "n"}, environ_base={"REMOTE_ADDR": "192.0.2.9"}
    )
    assert_error(again, 429)


def test_a_forged_token_does_not_use_up_its_authors_budget(app_factory, member, thread):
    client = app_factory(write_rate_limit="2 per minute").test_client()
    url = f"{API}/threads/{thread['id']}/comments"
    statuses = []
    for n in range(4):
        forged = {"Authorization": f"Bearer {member.id}.guess-{n % 2}"}
        response = client.post(
            url, json={"text": "x"}, headers=forged, environ_base={"REMOTE_ADDR": f"198.51.100.{n}"}
        )
        statuses.append(assert_error(response, response.status_code)["code"])
    # Each wrong token has its own budget: refused as unauthenticated, then limited.
    assert statuses == ["unauthenticated"] * 4
    ok = client.post(
        url,
        json={"text": "x"},
        headers=member.headers,
        environ_base={"REMOTE_ADDR": "198.51.100.99"},
    )
    assert ok.status_code == 201


def test_reads_are_not_rate_limited_and_never_touch_the_limiter(
    app_factory, member, thread, monkeypatch
):
    from web import limiter

    flask_app = app_factory(write_rate_limit="2 per minute")
    client = flask_app.test_client()
    # Its before_request hook (app-wide limits; the project has none) is skipped on reads.
    assert limiter._check_request_limit not in flask_app.before_request_funcs[None]
    storage = limiter.storage  # this app's (the limiter is shared; init_app replaces it)
    touched: list[str] = []
    for name in ("incr", "get", "get_expiry", "check", "clear", "acquire_entry"):
        original = getattr(storage, name, None)
        if original is None:  # a storage without moving windows
            continue

        def spy(*args, _name=name, _original=original, **kwargs):
            touched.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(storage, name, spy)
    url = f"{API}/threads/{thread['id']}"
    for _ in range(5):
        response = client.get(url, headers=member.headers)
        assert response.status_code == 200
        assert not [h for h, _ in response.headers if h.startswith("X-RateLimit")]
    assert client.get(f"{API}/threads").status_code == 200
    assert all(client.get(f"{API}/health").status_code == 200 for _ in range(4))
    assert touched == []
    # Writes still count (and are refused beyond the limit).
    statuses = [
        client.post(f"{url}/comments", json={"text": "x"}, headers=member.headers).status_code
        for _ in range(3)
    ]
    assert statuses == [201, 201, 429] and touched


def test_the_in_process_limiter_starts_no_thread_per_hit(app_factory, member, thread):
    import threading

    from web import limiter
    from web.limits_storage import SharedFileStorage

    client = app_factory(write_rate_limit="100 per minute").test_client()
    assert isinstance(limiter.storage, SharedFileStorage)
    url = f"{API}/threads/{thread['id']}/comments"
    assert client.post(url, json={"text": "x"}, headers=member.headers).status_code == 201
    before = threading.active_count()
    for _ in range(3):
        assert client.post(url, json={"text": "x"}, headers=member.headers).status_code == 201
    assert threading.active_count() <= before


def test_lazy_memory_storage_still_expires_counters_and_sweeps():
    import time

    from limits import RateLimitItemPerSecond
    from limits.strategies import FixedWindowRateLimiter

    from web import LazyMemoryStorage

    storage = LazyMemoryStorage()
    limiter = FixedWindowRateLimiter(storage)
    item = RateLimitItemPerSecond(2)
    assert [limiter.hit(item, "k") for _ in range(3)] == [True, True, False]
    time.sleep(1.05)
    assert limiter.hit(item, "k")  # the window expired
    for n in range(LazyMemoryStorage.SWEEP_EVERY):
        storage.incr(f"short-{n}", 0.001)
    time.sleep(0.01)
    for _ in range(LazyMemoryStorage.SWEEP_EVERY):
        storage.incr("live", 60)
    assert not [key for key in storage.storage if key.startswith("short-")]  # swept


def test_a_500_is_logged_with_the_request_id_it_answers(flask_app, caplog):
    def broken():
        raise RuntimeError("a bug")

    flask_app.add_url_rule(f"{API}/broken", "broken", broken)
    client = flask_app.test_client()
    with caplog.at_level(logging.ERROR):
        response = client.get(f"{API}/broken")
    error = assert_error(response, 500, "internal_error")
    assert "a bug" not in response.get_data(as_text=True)  # no internals leak
    request_id = error["request_id"]
    assert request_id and response.headers["X-Request-Id"] == request_id
    assert any(request_id in r.getMessage() and r.exc_info for r in caplog.records)

    given = client.get(f"{API}/broken", headers={"X-Request-Id": "trace-1234"})
    assert given.json["error"]["request_id"] == "trace-1234"
    forged = client.get(f"{API}/broken", headers={"X-Request-Id": "x" * 500})
    assert forged.json["error"]["request_id"] != "x" * 500


@pytest.mark.parametrize(
    "error",
    [
        psycopg.OperationalError("connection refused"),
        psycopg.InterfaceError("connection closed"),
        sqlite3.OperationalError("database is locked"),
        persistence.OperationalError("couldn't get a connection after 5.00 sec"),
        persistence.InterfaceError("unable to open database file"),
    ],
    ids=lambda e: f"{type(e).__module__}.{type(e).__name__}",
)
def test_store_errors_are_503_with_retry_after(flask_app, error):
    def unreachable():
        raise error

    flask_app.add_url_rule(f"{API}/unreachable", "unreachable", unreachable)
    response = flask_app.test_client().get(f"{API}/unreachable")
    assert_error(response, 503, "store_unavailable")
    # 1 s: the store breaker probes the server every 0.2 s (web/errors.py).
    assert response.headers["Retry-After"] == "1"


def test_cors_allows_only_configured_origins(app_factory, thread):
    client = app_factory(cors_origins=("https://site.example",)).test_client()
    url = f"{API}/threads/{thread['id']}"
    allowed = client.get(url, headers={"Origin": "https://site.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://site.example"
    assert "ETag" in allowed.headers["Access-Control-Expose-Headers"]
    other = client.get(url, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    preflight = client.options(
        f"{API}/comments/{uuid.uuid4()}",
        headers={
            "Origin": "https://site.example",
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "If-Match, Authorization, Content-Type",
        },
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://site.example"
    assert "if-match" in preflight.headers["Access-Control-Allow-Headers"].lower()


def test_cors_preflights_do_not_count_against_the_limits(app_factory, member, thread):
    client = app_factory(
        cors_origins=("https://site.example",), write_rate_limit="2 per minute"
    ).test_client()
    url = f"{API}/threads/{thread['id']}/comments"
    origin = {"Origin": "https://site.example", "Access-Control-Request-Method": "POST"}
    for _ in range(2):
        assert client.options(url, headers=origin).status_code == 200
        assert client.post(url, json={"text": "x"}, headers=member.headers).status_code == 201


@sqlite_only
def test_a_bad_token_is_401_first_on_live_and_past_reads_alike(client):
    """The live and as-of paths check the caller before looking the thread up."""
    missing = "00000000-0000-4000-8000-000000000000"
    bad = {"Authorization": "Bearer not-a-token"}
    for query in ({}, {"at": 1}, {"as_of": "2020-01-01T00:00:00Z"}):
        response = client.get(f"{API}/threads/{missing}", query_string=query, headers=bad)
        assert_error(response, 401)


def test_the_limits_internals_the_lazy_storage_relies_on_are_checked(monkeypatch):
    """A rename in limits must stop start-up loudly, not silently bring the Timer back."""
    from limits.storage import MemoryStorage

    from web import LazyMemoryStorage, create_app

    LazyMemoryStorage.check_internals()  # today's limits has them
    storage = LazyMemoryStorage()
    storage.incr("k", 60)
    assert storage._hits == 1  # the override runs, not limits' own Timer scheduling
    monkeypatch.delattr(MemoryStorage, "_MemoryStorage__expire_events")
    with pytest.raises(RuntimeError, match="LazyMemoryStorage must be updated"):
        create_app()
