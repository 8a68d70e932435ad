"""Tokens (issue 12, items 2 and 3): one canonical spelling, issued, rotated and revoked
as events holding hashes only; write limits keyed on the author id once authenticated;
the client address from DISCUSS_TRUSTED_PROXIES proxies' X-Forwarded-For."""

from __future__ import annotations

import uuid
from datetime import UTC

import pytest

from tests.api.conftest import API, assert_error, sqlite_only

pytestmark = sqlite_only


def _head(flask_app) -> int:
    return flask_app.extensions["discuss"].services.app.head_position()


def _spellings(token: str) -> list[str]:
    author_part, _, secret = token.partition(".")
    u = uuid.UUID(author_part)
    return [
        f"{author_part.upper()}.{secret}",
        f"{u.hex}.{secret}",
        f"{{{author_part}}}.{secret}",
        f"urn:uuid:{author_part}.{secret}",
        f" {token}",
    ]


def test_only_the_canonical_spelling_of_a_token_signs_in(client, member):
    assert client.get(f"{API}/authors/me", headers=member.headers).status_code == 200
    for spelling in _spellings(member.token)[:4]:
        response = client.get(f"{API}/authors/me", headers={"Authorization": f"Bearer {spelling}"})
        assert_error(response, 401, "unauthenticated")


def test_a_token_is_issued_listed_and_revoked(flask_app, client, member):
    issued = client.post(f"{API}/authors/me/tokens", headers=member.headers)
    assert issued.status_code == 201, issued.json
    second = issued.json["token"]
    assert second != member.token and second.startswith(f"{member.id}.")
    listed = client.get(f"{API}/authors/me/tokens", headers=member.headers).json["tokens"]
    assert len(listed) == 2 and sum(t["current"] for t in listed) == 1
    # Only hashes are stored: no secret in any event.
    app = flask_app.extensions["discuss"].services.app
    stored = b"".join(n.state for n in app.recorder.select_notifications(start=1, limit=1000))
    for token in (member.token, second):
        assert token.partition(".")[2].encode() not in stored
    revoked = client.delete(f"{API}/authors/me/tokens/{issued.json['id']}", headers=member.headers)
    assert revoked.status_code == 200, revoked.json
    assert_error(
        client.get(f"{API}/authors/me", headers={"Authorization": f"Bearer {second}"}), 401
    )
    assert client.get(f"{API}/authors/me", headers=member.headers).status_code == 200


def test_rotation_replaces_the_token(client, member):
    rotated = client.post(f"{API}/authors/me/tokens/rotate", headers=member.headers)
    assert rotated.status_code == 201, rotated.json
    new = {"Authorization": f"Bearer {rotated.json['token']}"}
    assert client.get(f"{API}/authors/me", headers=new).json["id"] == str(member.id)
    assert_error(client.get(f"{API}/authors/me", headers=member.headers), 401)


def test_a_refused_revocation_stores_nothing(flask_app, client, member, other_member):
    theirs = client.get(f"{API}/authors/me/tokens", headers=other_member.headers).json
    before = _head(flask_app)
    for token_id in (theirs["tokens"][0]["id"], "no-such-token"):
        response = client.delete(f"{API}/authors/me/tokens/{token_id}", headers=member.headers)
        assert_error(response, 404)
    assert _head(flask_app) == before
    assert client.get(f"{API}/authors/me", headers=other_member.headers).status_code == 200


def test_a_revoked_token_is_refused_by_another_process(app_factory, member):
    one, two = app_factory().test_client(), app_factory().test_client()
    assert two.get(f"{API}/authors/me", headers=member.headers).status_code == 200  # cached
    token_id = one.get(f"{API}/authors/me/tokens", headers=member.headers).json["tokens"][0]["id"]
    assert (
        one.delete(f"{API}/authors/me/tokens/{token_id}", headers=member.headers).status_code == 200
    )
    assert_error(one.get(f"{API}/authors/me", headers=member.headers), 401)
    assert_error(two.get(f"{API}/authors/me", headers=member.headers), 401)  # at once


@pytest.mark.parametrize("ttl_days", [1])
def test_tokens_expire(app, member, ttl_days):
    from datetime import datetime, timedelta

    from domain.errors import NotAuthenticated

    now = datetime.now(UTC)
    assert app.authenticate(member.token, ttl_days=ttl_days, now=now).id == member.id
    with pytest.raises(NotAuthenticated):
        app.authenticate(member.token, ttl_days=ttl_days, now=now + timedelta(days=2))
    assert (
        app.authenticate(member.token, ttl_days=0, now=now + timedelta(days=5000)).id == member.id
    )


def test_write_limits_are_keyed_on_the_author_not_the_token(app_factory, member, thread):
    """Two tokens of one author, from two addresses: one budget."""
    client = app_factory(write_rate_limit="3 per minute", trusted_proxies=1).test_client()
    second = client.post(
        f"{API}/authors/me/tokens", headers={**member.headers, "X-Forwarded-For": "10.9.9.9"}
    ).json["token"]
    statuses = []
    for i, token in enumerate([member.token, second, member.token, second]):
        response = client.post(
            f"{API}/threads/{thread['id']}/comments",
            json={"text": f"write {i}"},
            headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": f"10.0.0.{i}"},
        )
        statuses.append(response.status_code)
    assert statuses == [201, 201, 429, 429]  # the token issue was the first write


def test_trusted_proxies_give_each_client_its_own_address(app_factory):
    behind = app_factory(write_rate_limit="2 per minute", trusted_proxies=1).test_client()
    for i in range(2):
        response = behind.post(
            f"{API}/authors", json={"name": f"A{i}"}, headers={"X-Forwarded-For": "192.0.2.1"}
        )
        assert response.status_code == 201
    refused = behind.post(
        f"{API}/authors", json={"name": "A2"}, headers={"X-Forwarded-For": "192.0.2.1"}
    )
    assert_error(refused, 429)
    other = behind.post(
        f"{API}/authors", json={"name": "B0"}, headers={"X-Forwarded-For": "192.0.2.2"}
    )
    assert other.status_code == 201


def test_without_trusted_proxies_forwarded_for_is_ignored(app_factory):
    direct = app_factory(write_rate_limit="2 per minute").test_client()
    for i in range(2):
        headers = {"X-Forwarded-For": f"192.0.2.{i}"}
        assert (
            direct.post(f"{API}/authors", json={"name": f"C{i}"}, headers=headers).status_code
            == 201
        )
    refused = direct.post(
        f"{API}/authors", json={"name": "C9"}, headers={"X-Forwarded-For": "192.0.2.9"}
    )
    assert_error(refused, 429)
