"""The OpenAPI document: generated from the schemas, served with a browsable page of
vendored assets, and true: a property-based fuzz (schemathesis) of every operation,
positive and negative data, finds no 5xx and no response that breaks the document."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import API, post

EXAMPLES = 20  # per operation: about 25 operations, some 500 requests in all
ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "web" / "static" / "vendor" / "swagger-ui-dist"


@pytest.fixture
def database(sqlite_database):
    return sqlite_database


def test_the_document_lists_every_operation_with_its_errors(client):
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert (
        client.get(
            f"{API}/openapi.json", headers={"If-None-Match": response.headers["ETag"]}
        ).status_code
        == 304
    )
    spec = response.json
    assert spec["openapi"].startswith("3.")
    operations = {
        (method.upper(), path): op
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in ("get", "post", "patch", "delete", "put")
    }
    expected = {
        ("POST", "/api/v1/authors"),
        ("GET", "/api/v1/authors/me"),
        ("GET", "/api/v1/threads"),
        ("POST", "/api/v1/threads"),
        ("GET", "/api/v1/threads/{thread_id}"),
        ("GET", "/api/v1/threads/by-key/{key}"),
        ("POST", "/api/v1/threads/{thread_id}/lock"),
        ("POST", "/api/v1/threads/{thread_id}/unlock"),
        ("POST", "/api/v1/threads/{thread_id}/comments"),
        ("GET", "/api/v1/comments/{comment_id}"),
        ("PATCH", "/api/v1/comments/{comment_id}"),
        ("DELETE", "/api/v1/comments/{comment_id}"),
        ("POST", "/api/v1/comments/{comment_id}/hide"),
        ("POST", "/api/v1/comments/{comment_id}/restore"),
        ("GET", "/api/v1/health"),
        ("GET", "/api/v1/projections"),
    }
    assert expected <= set(operations)
    edit = operations[("PATCH", "/api/v1/comments/{comment_id}")]
    assert {
        "200",
        "400",
        "401",
        "403",
        "404",
        "409",
        "412",
        "413",
        "415",
        "422",
        "428",
        "429",
        "500",
        "503",
    } <= set(edit["responses"])
    headers = {p["name"] for p in edit["parameters"] if p["in"] == "header"}
    assert headers == {"If-Match"}
    post_op = operations[("POST", "/api/v1/threads/{thread_id}/comments")]
    assert {"200", "201"} <= set(post_op["responses"])
    assert post_op["responses"]["201"]["headers"]["Location"]["required"] is True
    read = operations[("GET", "/api/v1/threads/{thread_id}")]
    assert "304" in read["responses"] and "ETag" in read["responses"]["200"]["headers"]
    assert spec["components"]["schemas"]["NewComment"]["additionalProperties"] is False
    error = spec["components"]["schemas"]["ErrorResponse"]
    assert error["required"] == ["error"]


def test_the_docs_page_uses_only_vendored_assets(client):
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "nothing from another site"
    assert "<script>" not in html  # no inline script: the CSP forbids it
    for asset in re.findall(r"(?:src|href)=\"(/static/[^\"]+)\"", html):
        assert client.get(asset).status_code == 200, asset
    assert (VENDOR / "LICENSE").read_text().startswith("\n") or (VENDOR / "LICENSE").exists()
    assert "Apache License" in (VENDOR / "LICENSE").read_text()
    assert "validatorUrl: null" in (ROOT / "web/static/vendor/api-docs-init.js").read_text()


# ---- fuzzing -----------------------------------------------------------------------


@pytest.fixture
def fuzz_target(app_factory, app, moderator, member, other_member):
    """An app with some data, so that fuzzed ids sometimes name real things."""
    flask_app = app_factory(read_wait_seconds=0.05)
    client = flask_app.test_client()
    thread = client.post(
        f"{API}/threads", json={"title": "Fuzz", "key": "fuzz"}, headers=moderator.headers
    ).json
    top = post(client, member, thread["id"], "top")
    reply = post(client, other_member, thread["id"], "reply", parent_id=top["comment"])
    return {
        "app": flask_app,
        "ids": {
            "thread_id": thread["id"],
            "comment_id": reply["comment"],
            "author_id": str(member.id),
            "key": "fuzz",
        },
        "callers": [moderator.headers, member.headers, other_member.headers, {}],
    }


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def _strategies(operation, ids: dict[str, str]) -> list:
    """Positive and negative cases, each with generated ids and with real ones (past
    the 404s). schemathesis's own pytest integration (from_fixture) does not run
    under pytest 9, so the strategies are driven by Hypothesis directly."""
    names = [p.name for p in operation.path_parameters]
    real = {name: ids[name] for name in names if name in ids}
    found = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        found.append(operation.as_strategy(generation_mode=mode))
        if real:
            found.append(operation.as_strategy(generation_mode=mode, path_parameters=real))
    return found


def test_the_api_keeps_its_openapi_promises(fuzz_target):
    schema = schemathesis.openapi.from_wsgi(f"{API}/openapi.json", fuzz_target["app"])
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 16
    # Erasing one's own account signs its caller out for good: fuzzed last, so that every
    # other operation is still fuzzed with the callers signed in.
    operations.sort(key=lambda op: (op.method.upper(), op.path) == ("DELETE", f"{API}/authors/me"))
    for operation in operations:
        cases = st.one_of(_strategies(operation, fuzz_target["ids"]))

        @given(case=cases, caller=st.sampled_from(fuzz_target["callers"]))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.generate],
        )
        def fuzz(case, caller):
            case.call_and_validate(headers=caller, checks=CHECKS)

        fuzz()
