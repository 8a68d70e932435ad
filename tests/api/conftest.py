"""Fixtures of the JSON API tests: a Flask app on the `database` fixture (SQLite and
PostgreSQL, see tests/conftest.py), its test client, and three authors (a member,
another member and a moderator) with their bearer headers.

The app runs the embedded projection runner (no Redis) like the default deployment;
reads that follow a write pass the write's `position` as `min_position`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from uuid import UUID

import pytest
from flask import Flask
from flask.testing import FlaskClient

from domain.application import Discussions
from domain.model import MEMBER, MODERATOR
from domain.settings import Database, Settings
from web import create_app
from workers.bootstrap import forget_services

API = "/api/v1"

# For tests of the web layer alone (validation, error shapes): SQLite is enough. The
# flows that reach the read models' SQL run on both backends (the default).
sqlite_only = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


@dataclass(frozen=True)
class Caller:
    id: UUID
    name: str
    role: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_app(database: Database, **overrides) -> Flask:
    settings = dict(
        redis_url=None,
        embedded_runner=True,
        write_rate_limit="10000 per minute",
        read_wait_seconds=5.0,
    )
    settings.update(overrides)
    return create_app(Settings.from_env(database=database, **settings))


def stop_app(flask_app: Flask) -> None:
    flask_app.extensions["discuss"].stop()
    forget_services()


@pytest.fixture(autouse=True)
def _secret_key(monkeypatch) -> None:
    # Without it, create_app writes a generated key to a file (var/ for PostgreSQL).
    monkeypatch.setenv("DISCUSS_SECRET_KEY", "test-secret")


@pytest.fixture
def app_factory(database: Database) -> Iterator:
    """Make more apps on the same database (other settings); all stopped at the end."""
    made: list[Flask] = []

    def factory(**overrides) -> Flask:
        made.append(make_app(database, **overrides))
        return made[-1]

    yield factory
    for flask_app in made:
        stop_app(flask_app)


@pytest.fixture
def flask_app(app_factory) -> Flask:
    return app_factory()


@pytest.fixture
def client(flask_app: Flask) -> FlaskClient:
    return flask_app.test_client()


def _register(app: Discussions, name: str, role: str) -> Caller:
    registration = app.register_author(name, role)
    return Caller(registration.author_id, registration.name, role, registration.token)


@pytest.fixture
def member(app: Discussions) -> Caller:
    return _register(app, "Ada", MEMBER)


@pytest.fixture
def other_member(app: Discussions) -> Caller:
    return _register(app, "Brian", MEMBER)


@pytest.fixture
def moderator(app: Discussions) -> Caller:
    return _register(app, "Mo", MODERATOR)


@pytest.fixture
def thread(client: FlaskClient, moderator: Caller) -> dict:
    """An open thread (opened through the API by the moderator): {id, key, position}."""
    response = client.post(
        f"{API}/threads",
        json={"title": "A thread", "key": "posts/a-thread", "body": "The post."},
        headers=moderator.headers,
    )
    assert response.status_code == 201, response.json
    return response.json


def post(client: FlaskClient, caller: Caller, thread_id: str, text: str, **extra) -> dict:
    headers = {**caller.headers, **extra.pop("headers", {})}
    body = {"text": text, **extra}
    response = client.post(f"{API}/threads/{thread_id}/comments", json=body, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The one error shape: {"error": {"code", "message", "fields"?}}."""
    assert response.status_code == status, (response.status_code, response.data[:500])
    assert response.mimetype == "application/json"
    error = response.json["error"]
    assert set(error) <= {"code", "message", "fields", "request_id"}, error
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    if code is not None:
        assert error["code"] == code, error
    return error
