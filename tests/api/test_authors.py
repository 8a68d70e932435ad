"""POST /authors (open registration), GET /authors/me, GET /authors/{id}."""

from __future__ import annotations

import pytest

from tests.api.conftest import API, assert_error, sqlite_only


def test_registration_returns_a_token_that_authenticates(client):
    response = client.post(f"{API}/authors", json={"name": "  Zoe  "})
    assert response.status_code == 201
    body = response.json
    assert set(body) == {"id", "name", "role", "token"}
    assert body["name"] == "Zoe" and body["role"] == "member"
    assert response.headers["Location"] == f"{API}/authors/{body['id']}"
    assert response.headers["Cache-Control"] == "no-store"  # the token is shown once

    me = client.get(f"{API}/authors/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.json == {"id": body["id"], "name": "Zoe", "role": "member"}


@sqlite_only
def test_registration_can_be_switched_off(app_factory):
    client = app_factory(open_registration=False).test_client()
    assert_error(client.post(f"{API}/authors", json={"name": "Zoe"}), 403, "registration_closed")


@sqlite_only
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 81}, "name"),
        ({"name": 7}, "name"),
        ({"name": "Zoe", "role": "moderator"}, "role"),  # no self-promotion: unknown field
        ({"name": "bad\x07name"}, "name"),  # the domain's rule, same shape
        ({"name": "   "}, "name"),
    ],
)
def test_registration_refuses_bad_fields_by_name(client, body, field):
    error = assert_error(client.post(f"{API}/authors", json=body), 422)
    assert field in error["fields"], error


@sqlite_only
def test_me_needs_a_valid_token(client, member):
    assert_error(client.get(f"{API}/authors/me"), 401, "unauthenticated")
    bad = {"Authorization": f"Bearer {member.id}.not-the-secret"}
    response = client.get(f"{API}/authors/me", headers=bad)
    assert_error(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert_error(client.get(f"{API}/authors/me", headers={"Authorization": "Basic x"}), 401)


@sqlite_only
def test_an_authors_card_is_public_and_cacheable(client, moderator):
    response = client.get(f"{API}/authors/{moderator.id}")
    assert response.status_code == 200
    assert response.json == {"id": str(moderator.id), "name": "Mo", "role": "moderator"}
    etag = response.headers["ETag"]
    again = client.get(f"{API}/authors/{moderator.id}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""


@sqlite_only
def test_an_unknown_author_is_404(client, thread):
    assert_error(client.get(f"{API}/authors/{thread['id']}"), 404, "author_not_found")
