"""web.auth caches token -> author per app, only after a successful authenticate: a
failure is never cached, and a wrong secret for a cached author is still a 401."""

from __future__ import annotations

import pytest

from tests.api.conftest import API, assert_error


@pytest.fixture
def database(sqlite_database):
    return sqlite_database


def test_authenticate_reads_the_store_once_per_token(flask_app, client, member, monkeypatch):
    services_app = flask_app.extensions["discuss"].services.app
    calls: list[str] = []
    original = services_app.authenticate

    def counting(token, **options):
        calls.append(token)
        return original(token, **options)

    monkeypatch.setattr(services_app, "authenticate", counting)
    for _ in range(3):
        me = client.get(f"{API}/authors/me", headers=member.headers)
        assert me.status_code == 200 and me.json["id"] == str(member.id)
    assert calls == [member.token]


def test_failures_are_never_cached(flask_app, client, member, monkeypatch):
    services_app = flask_app.extensions["discuss"].services.app
    calls: list[str] = []
    original = services_app.authenticate

    def counting(token, **options):
        calls.append(token)
        return original(token, **options)

    monkeypatch.setattr(services_app, "authenticate", counting)
    assert client.get(f"{API}/authors/me", headers=member.headers).status_code == 200
    wrong = f"{member.token[:-1]}{'A' if member.token[-1] != 'A' else 'B'}"
    for _ in range(2):
        assert_error(
            client.get(f"{API}/authors/me", headers={"Authorization": f"Bearer {wrong}"}), 401
        )
    assert calls == [member.token, wrong, wrong]
    assert client.get(f"{API}/authors/me", headers=member.headers).status_code == 200
