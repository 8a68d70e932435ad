"""Display names are unique in a normalised form, and names that hide or flip text are
refused (issue 12, item 1). A refused registration stores no event."""

from __future__ import annotations

import pytest

from tests.api.conftest import API, assert_error, sqlite_only

pytestmark = sqlite_only


def _head(flask_app) -> int:
    return flask_app.extensions["discuss"].services.app.head_position()


@pytest.mark.parametrize(
    "name",
    [
        "Mo",  # the moderator's name, exactly
        "mo",  # case
        "MO",
        "\uff2d\uff4f",  # fullwidth (NFKC)
        "\u041c\u043e",  # Cyrillic capital EM, Cyrillic small O (confusables skeleton)
        "M\u200bo",  # a zero-width space inside
    ],
)
def test_a_moderators_name_cannot_be_taken(flask_app, client, moderator, name):
    before = _head(flask_app)
    error = assert_error(client.post(f"{API}/authors", json={"name": name}), 409, "name_taken")
    assert "name" in error.get("fields", {})
    assert _head(flask_app) == before


def test_a_members_name_cannot_be_taken_twice(flask_app, client):
    assert client.post(f"{API}/authors", json={"name": "Zoë Adams"}).status_code == 201
    before = _head(flask_app)
    for same in ("zoë adams", "ZOË ADAMS", "Zoe\u0308 Adams", " Zoë  Adams "):
        assert_error(client.post(f"{API}/authors", json={"name": same}), 409, "name_taken")
    assert _head(flask_app) == before
    assert client.post(f"{API}/authors", json={"name": "Zoë Adamson"}).status_code == 201


@pytest.mark.parametrize(
    "name",
    [
        "\u202eevil",  # right-to-left override
        "Ada\u202e",
        "\u2067Ada\u2069",  # right-to-left isolate
        "A\u200fda",  # right-to-left mark
        "\u200b",  # only a zero-width space
        "\u200b\u200c\u2060",  # only invisible characters
        "\u3164",  # Hangul filler: a letter that shows nothing
        "\u115f\u1160",
    ],
)
def test_names_that_hide_or_flip_text_are_refused(flask_app, client, name):
    before = _head(flask_app)
    error = assert_error(client.post(f"{API}/authors", json={"name": name}), 422, "name_invalid")
    assert "name" in error.get("fields", {}), error
    assert _head(flask_app) == before


def test_the_api_says_the_role_of_a_comments_author(client, moderator, member, thread):
    for caller in (moderator, member):
        response = client.post(
            f"{API}/threads/{thread['id']}/comments", json={"text": "hi"}, headers=caller.headers
        )
        assert response.status_code == 201
        position = response.json["position"]
    page = client.get(f"{API}/threads/{thread['id']}?min_position={position}").json
    roles = {c["author"]["name"]: c["author"]["role"] for c in page["comments"]}
    assert roles == {"Mo": "moderator", "Ada": "member"}
