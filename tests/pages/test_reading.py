"""Reading pages with the test client: the thread list, the demo thread's layout and
numbering, placeholders, "continue this thread", pagination, and that everything reads
without JavaScript (server-rendered text and dates, no inline script)."""

from __future__ import annotations

import re

from tests.pages.conftest import (
    THREAD_URL,
    comment_tree,
    demo_thread_id,
    numbered,
    page,
    send,
    sign_in,
    text_of,
)
from web.pages.common import PAGE_DEPTH, PAGE_LIMIT


def seed_tree(comments: list[dict], prefix: str = "") -> list[tuple]:
    return [
        (f"{prefix}{i}", c["author"], seed_tree(c.get("replies", []), f"{prefix}{i}."))
        for i, c in enumerate(comments, 1)
    ]


def count(tree: list[tuple]) -> int:
    return sum(1 + count(replies) for _, _, replies in tree)


def test_thread_list_shows_title_count_and_activity(client):
    html = page(client, "/")
    assert "#SaveLabour \u2013 Vote Jeremy" in html
    assert "28 comments" in html
    assert re.search(r'last activity <time datetime="[0-9T:-]+Z"', html)
    assert f'href="{THREAD_URL}"' in html


def test_demo_thread_is_numbered_and_nested_as_the_seed_file(client, seed):
    html = page(client, THREAD_URL)
    tree = comment_tree(html)
    assert tree == seed_tree(seed["comments"])
    assert count(tree) == 28
    numbers = [n for n, _ in numbered(html)]
    assert numbers[:4] == ["1", "2", "3", "3.1"]
    assert "6.2.1.1" in numbers and numbers[-1] == "7.2"
    six = next(node for node in tree if node[0] == "6")
    assert count(six[2]) == 17  # the 17 descendants of comment 6


def test_thread_page_is_a_blog_comment_section(client, seed):
    html = page(client, THREAD_URL)
    text = text_of(html)
    assert "<h1" in html and "#SaveLabour \u2013 Vote Jeremy" in html
    assert seed["body"][:60] in text
    assert "Bazza says:" in " ".join(text.split())
    assert '<ol class="comment-list">' in html and '<ol class="replies"' in html
    assert "<article" in html and "<main" in html and "<nav" in html
    assert 'class="skip-link" href="#main"' in html
    # Every comment text is on the page, as text (line breaks kept by CSS pre-line).
    first = seed["comments"][0]["text"]
    assert first.split("\n")[0] in text


def test_reading_works_without_javascript(client):
    response = client.get(THREAD_URL)
    html = response.get_data(as_text=True)
    # Dates are readable as served; scripts only enhance them.
    assert re.search(
        r'<time datetime="[^"]+Z" title="[^"]+UTC" data-relative>\d+ \w+ \d{4} at', html
    )
    # No inline script at all; every script is a file, which the CSP enforces.
    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts and all("src=" in s for s in scripts)
    assert "onclick" not in html and "javascript:" not in html
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    # Reply links are plain links to a page with a form.
    assert re.search(r'href="/c/[0-9a-f-]+/reply"', html)


def test_static_files_are_served(client):
    for path in ("/static/css/site.css", "/static/js/time.js", "/static/js/timeline.js"):
        assert client.get(path).status_code == 200, path


def test_thread_by_id_and_unknown_thread(client, flask_app):
    thread_id = demo_thread_id(flask_app)
    assert "#SaveLabour" in page(client, f"/t/{thread_id}")
    html = page(client, "/t/no/such/thread", status=404)
    assert "Not found" in html and "<html" in html


def test_unknown_page_is_html_for_browsers_and_json_for_the_api(client):
    response = client.get("/nowhere", headers={"Accept": "text/html"})
    assert response.status_code == 404 and response.mimetype == "text/html"
    response = client.get("/api/v1/nowhere", headers={"Accept": "text/html"})
    assert response.status_code == 404 and response.mimetype == "application/json"


def test_comment_permalink_redirects_to_its_place(client):
    html = page(client, THREAD_URL)
    _, comment_id = numbered(html)[8]
    response = client.get(f"/c/{comment_id}")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"{THREAD_URL}#c-{comment_id}")


def test_deep_replies_continue_on_their_own_page(client):
    sign_in(client, "Deep Diver")
    html = page(client, THREAD_URL)
    parent = dict(numbered(html))["7.1.1"]
    ids = []
    for level in range(PAGE_DEPTH):
        response = send(client, f"/c/{parent}/reply", f"/c/{parent}/reply", {"text": f"L{level}"})
        assert response.status_code == 302
        parent = response.headers["Location"].rsplit("#c-", 1)[1]
        ids.append(parent)
    html = page(client, THREAD_URL)
    numbers = dict(numbered(html))
    assert "7.1.1.1.1.1" in numbers  # depth 5 is on the thread page
    assert "7.1.1.1.1.1.1" not in numbers  # depth 6 is not...
    assert "Continue this thread" in html  # ...a link leads on
    link = re.search(r'href="(/t/[0-9a-f-]+/c/([0-9a-f-]+))">Continue this thread', html)
    assert link and link.group(2) == ids[2]  # from the comment at depth 5
    sub = page(client, link.group(1))
    assert "Continue this thread from comment 7.1.1.1.1.1" in sub
    sub_numbers = dict(numbered(sub))
    assert sub_numbers["7.1.1.1.1.1"] == ids[2]
    assert sub_numbers["7.1.1.1.1.1.1"] == ids[3]
    assert sub_numbers["7.1.1.1.1.1.1.1"] == ids[4]
    # A deep comment's permalink is the page of its parent's replies, anchored to it.
    assert client.get(f"/c/{ids[3]}").headers["Location"].endswith(f"/c/{ids[2]}#c-{ids[3]}")


def test_big_threads_are_paginated_and_numbering_goes_on(client):
    sign_in(client, "Prolific")
    for i in range(PAGE_LIMIT - 7 + 2):  # the demo has 7 top-level comments
        response = send(
            client,
            THREAD_URL,
            f"/threads/{_thread_id(client)}/comments",
            {"text": f"Top {i}"},
        )
        assert response.status_code == 302
    last = response.headers["Location"]
    assert "cursor=" in last  # the new comment is on page 2, and the redirect says so
    first = page(client, THREAD_URL)
    assert "page 1 of 2" in first and "Later comments" in first
    top_numbers = [n for n, _ in numbered(first) if "." not in n]
    assert top_numbers == [str(i) for i in range(1, PAGE_LIMIT + 1)]
    next_url = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = page(client, next_url)
    assert [n for n, _ in numbered(second)] == [str(PAGE_LIMIT + 1), str(PAGE_LIMIT + 2)]
    assert "Earlier comments" in second and "Top 19" in second
    assert last.split("#")[0].endswith(next_url.split("?")[1])


def _thread_id(client) -> str:
    html = page(client, THREAD_URL)
    return re.search(r'action="/threads/([0-9a-f-]+)/comments"', html).group(1)
