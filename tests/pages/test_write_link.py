"""The comment form is reachable from the top of a long thread page: a "Write a
comment" link jumps to it, and "Sign in to join" comes back to it after signing in.
Signing in still only ever returns to a path of this site."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

from tests.pages.conftest import THREAD_URL, continue_url, csrf_of, page, send, sign_in

FORM_FIELD = "new-comment-text"  # the id of the comment form's text box


def write_link(html: str) -> str | None:
    found = re.search(r'<a class="post__write" href="([^"]*)"[^>]*>Write a comment</a>', html)
    return found and found.group(1)


def sign_in_to_join(html: str) -> str:
    found = re.search(r'<a class="button" href="([^"]+)">Sign in to join the discussion</a>', html)
    assert found, "no 'Sign in to join' button"
    return unescape(found.group(1))


def test_a_signed_in_reader_jumps_from_the_top_into_the_text_box(client):
    sign_in(client, "Ada")
    html = page(client, THREAD_URL)
    assert write_link(html) == f"#{FORM_FIELD}"
    assert html.index("Write a comment") < html.index('class="comment-list"')
    assert re.search(rf'<textarea id="{FORM_FIELD}" name="text"', html)


def test_a_reader_not_signed_in_jumps_to_sign_in_to_join(client):
    html = page(client, THREAD_URL)
    assert write_link(html) == "#respond"
    assert 'id="respond" tabindex="-1"' in html
    assert html.index('id="respond"') < html.index("Sign in to join the discussion")


def test_sign_in_to_join_comes_back_to_the_comment_form(client):
    html = page(client, THREAD_URL)
    target = sign_in_to_join(html)
    assert urlsplit(target).path == "/signin"
    assert parse_qs(urlsplit(target).query)["next"] == [f"{THREAD_URL}#{FORM_FIELD}"]

    form = page(client, target)
    assert f'name="next" value="{THREAD_URL}#{FORM_FIELD}"' in form
    response = client.post(
        "/signin",
        data={
            "csrf_token": csrf_of(form),
            "how": "name",
            "name": "Joiner",
            "next": f"{THREAD_URL}#{FORM_FIELD}",
        },
    )
    assert response.status_code == 200  # the token to save, then on
    assert continue_url(response.get_data(as_text=True)) == f"{THREAD_URL}#{FORM_FIELD}"
    back = page(client, THREAD_URL)
    assert f'<textarea id="{FORM_FIELD}"' in back and "Joiner" in back


def test_sign_in_to_join_keeps_the_page_of_comments(client):
    html = page(client, f"{THREAD_URL}?sort=newest")
    assert parse_qs(urlsplit(sign_in_to_join(html)).query)["next"] == [
        f"{THREAD_URL}?sort=newest#{FORM_FIELD}"
    ]


def test_no_write_link_where_nothing_can_be_written(client):
    past = page(client, f"{THREAD_URL}?at=5")
    assert write_link(past) is None and "Write a comment" not in past


def test_still_no_open_redirect_after_sign_in_with_a_fragment(client):
    for target in (
        "https://evil.example/#new-comment-text",
        "//evil.example/#new-comment-text",
        "/\\evil.example#new-comment-text",
        "#new-comment-text",
        "javascript:alert(1)//#x",
    ):
        response = send(
            client,
            "/signin",
            "/signin",
            {"how": "name", "name": f"Eve {len(target)}", "next": target},
        )
        # Refused before anything is stored (issue 12), never followed.
        assert response.status_code == 400, target
        assert "Location" not in response.headers
