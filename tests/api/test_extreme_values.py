"""Every GET operation of the OpenAPI document, every query parameter it declares, and
every number in a path, with the values a prober types: a 4xx in the one error shape
(or a 200 when the value is a valid place with nothing in it), never a 500.

The property-based fuzz of tests/api/test_openapi.py draws values from the declared
ranges; this one aims at the edges past them (64-bit overflow, far dates, NaN)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.api.conftest import API, assert_error, post, sqlite_only

pytestmark = sqlite_only

EXTREME = [
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "99999999999999999999999999999999",
    "-1",
    "0",
    "9999-12-31",
    "0001-01-01",
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59+14:00",
    "0001-01-01T00:00:00-14:00",
    "NaN",
    "inf",
    "1e309",
    "é",
    "\u202e1",
    "\x00",
    "",
]
HUGE_PATH_NUMBERS = ["0", "9223372036854775807", "9223372036854775808", "1" + "0" * 40]


def _get_operations(client) -> list[tuple[str, list[str]]]:
    spec = client.get(f"{API}/openapi.json").json
    out = []
    for path, item in spec["paths"].items():
        op = item.get("get")
        if op is None:
            continue
        params = [p for p in op.get("parameters", []) + item.get("parameters", [])]
        out.append((path, [p["name"] for p in params if p.get("in") == "query"]))
    return out


def _check(response, url: str, failures: list) -> None:
    if response.status_code >= 500:
        failures.append((url, response.status_code))
    elif response.status_code >= 400:
        try:
            assert_error(response, response.status_code)
        except AssertionError:
            failures.append((url, response.status_code, "not the error shape"))


@pytest.fixture
def filled(client, thread, member, moderator) -> dict[str, str]:
    comment = post(client, member, thread["id"], "probe")
    client.patch(
        f"{API}/comments/{comment['comment']}",
        json={"text": "probe, edited"},
        headers={**member.headers, "If-Match": '"1"'},
    )
    return {
        "{thread_id}": thread["id"],
        "{comment_id}": comment["comment"],
        "{key}": thread["key"],
        "{author_id}": str(member.id),
        "{revision}": "1",
    }


def _fill(path: str, filled: dict[str, str]) -> str:
    for name, value in filled.items():
        path = path.replace(name, value)
    return path


def test_extreme_query_values_are_a_4xx_in_the_error_shape(client, filled, moderator):
    failures: list = []
    for path, names in _get_operations(client):
        url = _fill(path, filled)
        for name in names:
            for value in EXTREME:
                query = f"{url}?{name}={quote(value)}"
                _check(client.get(query, headers=moderator.headers), query, failures)
    assert not failures, failures


def test_extreme_numbers_in_paths_are_a_4xx_in_the_error_shape(
    client, flask_app, filled, moderator
):
    failures: list = []
    for rule in flask_app.url_map.iter_rules():
        if not rule.rule.startswith(API) or "<int:" not in rule.rule:
            continue
        for value in HUGE_PATH_NUMBERS:
            url = rule.rule.replace("<uuid:comment_id>", filled["{comment_id}"])
            url = url.replace("<int:revision>", value)
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                response = client.open(
                    url, method=method, json={"basis": "legal_request"}, headers=moderator.headers
                )
                _check(response, f"{method} {url}", failures)
    assert not failures, failures
