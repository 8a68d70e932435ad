"""Every page that takes a value from its URL (query string or a number in the path)
answers extreme values with a page: a 4xx error page (or the page itself, when the
value is simply a place with nothing in it), never a 500.

Found by probing (issue 12): `?cursor=9223372036854775808` and `?at=` with huge
numbers gave 500 (OverflowError) on thread pages and /audit, and so did
`/audit?until=9999-12-31`. The routes are listed here with the values they read; a
page route missing from the list fails the first test, so a new one gets probed too."""

from __future__ import annotations

import pytest

from tests.pages.conftest import THREAD_URL, demo_thread_id, send, sign_in_moderator
from workers.seed import DEMO_KEY

# What a prober types: integers just past 64 bits (both signs), 64-bit edges, far
# dates, not-a-numbers, non-ASCII and control characters, nothing.
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
    "NaN",
    "inf",
    "1e309",
    "é",
    "\u202e1",
    "\x00",
    "",
]

# Each page (endpoint) and the query values it reads.
ROUTE_QUERIES: dict[str, tuple[str, ...]] = {
    "pages.index": ("after_thread",),
    "pages.thread": ("cursor", "at", "step", "after"),
    "pages.subtree": ("cursor",),
    "pages.comment_permalink": (),
    "pages.history": ("from", "to"),
    "pages.erasures": ("cursor",),
    "pages.audit": ("cursor", "thread", "actor", "type", "since", "until"),
    "pages.signin": ("next",),
    "pages.account": (),
    "pages.account_erased": (),
    "pages.erase_account": (),
    "pages.reply": (),
    "pages.edit": (),
    "pages.retract": (),
    "pages.hide": (),
    "pages.restore": (),
    "pages.erase": (),
    "pages.erase_revision": (),
    "pages.suppress_revision": (),
    "pages.unsuppress_revision": (),
    "pages.lock": (),
    "pages.unlock": (),
    "pages.signout_page": ("next",),
    "pages.review": ("after", "decided"),
    "pages.comments_feed": ("before", "after"),
    "pages.thread_feed": ("before", "after"),
    "pages.replies_feed": ("before", "after"),
    "pages.changes_feed": ("before", "after", "token"),
}


def _page_gets(flask_app) -> dict[str, str]:
    return {
        rule.endpoint: rule.rule
        for rule in flask_app.url_map.iter_rules()
        if rule.endpoint.startswith("pages.") and "GET" in (rule.methods or ())
    }


def test_every_page_route_is_probed(flask_app):
    missing = set(_page_gets(flask_app)) - set(ROUTE_QUERIES)
    assert not missing, f"add these page routes to ROUTE_QUERIES: {sorted(missing)}"


@pytest.fixture
def moderator_client(client, flask_app):
    sign_in_moderator(client, flask_app)
    return client


def _a_comment(client, flask_app) -> str:
    thread_id = demo_thread_id(flask_app)
    response = send(client, THREAD_URL, f"/threads/{thread_id}/comments", {"text": "probe"})
    assert response.status_code == 302, response.data[:300]
    return response.headers["Location"].rsplit("#c-", 1)[1]


def _fill(rule: str, ids: dict[str, str], revision: str = "1") -> str:
    return (
        rule.replace("<path:ref>", DEMO_KEY)
        .replace("<uuid:thread_id>", ids["thread"])
        .replace("<uuid:comment_id>", ids["comment"])
        .replace("<int:revision>", revision)
        .replace("<uuid:author_id>", ids.get("author", ids["comment"]))
    )


def _is_a_page(response) -> bool:
    return response.mimetype == "text/html" and b"<html" in response.data[:2000].lower()


def _probe(client, url: str, failures: list) -> None:
    response = client.get(url)
    if response.status_code >= 500 or (response.status_code >= 400 and not _is_a_page(response)):
        failures.append((url, response.status_code))


def test_extreme_query_values_get_a_page_never_a_500(moderator_client, flask_app):
    client = moderator_client
    ids = {"thread": demo_thread_id(flask_app), "comment": _a_comment(client, flask_app)}
    found = client.get(f"/api/v1/comments/{ids['comment']}?min_position=1").json
    ids["author"] = found["comment"]["author"]["id"]
    anonymous = flask_app.test_client()
    failures: list = []
    for endpoint, rule in _page_gets(flask_app).items():
        url = _fill(rule, ids)
        for name in ROUTE_QUERIES.get(endpoint, ()):
            for value in EXTREME:
                query = f"{url}?{name}={value}"
                _probe(client, query, failures)
                if endpoint in ("pages.thread", "pages.index", "pages.history"):
                    _probe(anonymous, query, failures)
    assert not failures, failures


def test_extreme_numbers_in_paths_get_a_page_never_a_500(moderator_client, flask_app):
    client = moderator_client
    ids = {"thread": demo_thread_id(flask_app), "comment": _a_comment(client, flask_app)}
    failures: list = []
    for rule in _page_gets(flask_app).values():
        if "<int:" not in rule:
            continue
        for value in ("0", "9223372036854775807", "9223372036854775808", "1" + "0" * 40):
            _probe(client, _fill(rule, ids, revision=value), failures)
    assert not failures, failures


@pytest.mark.parametrize(
    "query",
    ["cursor=9223372036854775808", "at=9223372036854775808", "at=99999999999999999999"],
)
def test_huge_numbers_on_a_thread_page_are_a_400_page(client, query):
    response = client.get(f"{THREAD_URL}?{query}")
    assert response.status_code in (400, 404), response.status_code
    assert _is_a_page(response)
    assert "Error 4" in response.get_data(as_text=True)


@pytest.mark.parametrize("query", ["until=9999-12-31", "until=10000-01-01", "cursor=" + "9" * 30])
def test_audit_filters_out_of_range_are_refused_on_the_page(moderator_client, query):
    response = moderator_client.get(f"/audit?{query}")
    assert response.status_code in (400, 422), response.status_code
    assert _is_a_page(response)
