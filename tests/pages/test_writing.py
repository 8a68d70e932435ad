"""Writing through the pages' forms: post, reply, edit, retract. Each write redirects
to the comment, already visible (read-your-writes); a refused write shows the form
again with the error next to it, a 4xx status and the text kept."""

from __future__ import annotations

import re

from tests.pages.conftest import (
    THREAD_URL,
    comment_tree,
    demo_thread_id,
    numbered,
    page,
    send,
    send_form,
    sign_in,
    text_of,
)


def post_top(client, flask_app, text: str, **extra):
    thread_id = demo_thread_id(flask_app)
    return send(client, THREAD_URL, f"/threads/{thread_id}/comments", {"text": text, **extra})


def new_id(response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:800]
    return response.headers["Location"].rsplit("#c-", 1)[1]


def test_signed_out_visitors_are_asked_to_sign_in(client):
    html = page(client, THREAD_URL)
    assert "Sign in to join the discussion" in html
    assert 'action="/threads/' not in html
    reply = re.search(r'href="(/c/[0-9a-f-]+/reply)"', html).group(1)
    response = client.get(reply)
    assert response.status_code == 302 and "/signin?next=" in response.headers["Location"]


def test_post_redirects_to_the_new_comment_already_visible(client, flask_app):
    sign_in(client, "Ada")
    response = post_top(client, flask_app, "Hello from Ada.\nSecond line.")
    comment_id = new_id(response)
    assert response.headers["Location"].startswith(THREAD_URL)
    html = page(client, response.headers["Location"].split("#")[0])  # no retry, no wait
    assert f'id="c-{comment_id}"' in html
    assert dict(numbered(html))["8"] == comment_id
    assert "Hello from Ada.\nSecond line." in html  # shown with pre-line, not <br>
    assert "Ada" in text_of(html) and "29 comments" in html


def test_reply_three_deep_is_numbered_and_nested(client, flask_app):
    sign_in(client, "Ada")
    parent = new_id(post_top(client, flask_app, "Level 0"))
    ids = [parent]
    for level in (1, 2, 3):
        response = send(client, f"/c/{parent}/reply", f"/c/{parent}/reply", {"text": f"L{level}"})
        parent = new_id(response)
        ids.append(parent)
    html = page(client, THREAD_URL)
    numbers = dict(numbered(html))
    assert [numbers[n] for n in ("8", "8.1", "8.1.1", "8.1.1.1")] == ids
    assert comment_tree(html)[-1] == (
        "8",
        "Ada",
        [("8.1", "Ada", [("8.1.1", "Ada", [("8.1.1.1", "Ada", [])])])],
    )


def test_the_same_form_sent_twice_posts_once(client, flask_app):
    sign_in(client, "Ada")
    first = post_top(client, flask_app, "Once", client_key="k-123")
    second = post_top(client, flask_app, "Once", client_key="k-123")
    assert new_id(first) == new_id(second)
    assert page(client, THREAD_URL).count(">Once</div>") == 1


def test_empty_comment_is_refused_next_to_the_form(client, flask_app):
    sign_in(client, "Ada")
    response = post_top(client, flask_app, "   \n  ")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Text is empty after trimming whitespace" in html
    assert 'class="field__error"' in html and 'aria-invalid="true"' in html
    assert "#SaveLabour" in html  # the thread page, with the form at its foot


def test_refused_reply_keeps_the_text(client, flask_app):
    sign_in(client, "Ada")
    html = page(client, THREAD_URL)
    parent = dict(numbered(html))["2"]
    bad = "A control character \x07 here, <b>and markup</b>"
    response = send(client, f"/c/{parent}/reply", f"/c/{parent}/reply", {"text": bad})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "control character (U+0007)" in body
    assert "&lt;b&gt;and markup&lt;/b&gt;" in body  # kept, escaped, in the textarea


def test_edit_twice_and_the_history_link(client, flask_app):
    sign_in(client, "Ada")
    comment_id = new_id(post_top(client, flask_app, "The first text."))
    for text in ("The second text.", "The third, final text."):
        response = send_form(
            client, f"/c/{comment_id}/edit", f"/c/{comment_id}/edit", {"text": text}
        )
        assert new_id(response) == comment_id
    html = page(client, THREAD_URL)
    assert "The third, final text." in html and "The first text." not in html
    assert f'href="/c/{comment_id}/history"' in html and "edited \u00d72" in html


def test_stale_edit_is_a_conflict_that_keeps_the_text(client, flask_app):
    sign_in(client, "Ada")
    comment_id = new_id(post_top(client, flask_app, "Version one."))
    form_page = page(client, f"/c/{comment_id}/edit")
    assert 'name="expected_version" value="1"' in form_page
    send_form(client, f"/c/{comment_id}/edit", f"/c/{comment_id}/edit", {"text": "Version two."})
    token = re.search(r'name="csrf_token" value="([^"]+)"', form_page).group(1)
    response = client.post(
        f"/c/{comment_id}/edit",
        data={"csrf_token": token, "text": "My late edit.", "expected_version": "1"},
    )
    assert response.status_code == 412
    html = response.get_data(as_text=True)
    assert "This comment changed since you opened it" in html
    assert "My late edit." in html and "Version two." in html
    assert 'name="expected_version" value="2"' in html


def test_others_cannot_edit_or_retract(client, flask_app):
    sign_in(client, "Ada")
    comment_id = new_id(post_top(client, flask_app, "Mine."))
    other = flask_app.test_client()
    sign_in(other, "Brian")
    html = page(other, THREAD_URL)
    assert f'href="/c/{comment_id}/edit"' not in html
    assert other.get(f"/c/{comment_id}/edit").status_code == 403
    response = send(other, f"/c/{comment_id}/reply", f"/c/{comment_id}/retract", {})
    assert response.status_code == 403
    assert "Mine." in page(other, THREAD_URL)


def test_retract_leaves_a_placeholder_that_keeps_its_replies(client, flask_app):
    sign_in(client, "Ada")
    html = page(client, THREAD_URL)
    parent = new_id(post_top(client, flask_app, "Soon gone."))
    reply = new_id(send(client, f"/c/{parent}/reply", f"/c/{parent}/reply", {"text": "Stays."}))
    response = send(
        client, f"/c/{parent}/retract", f"/c/{parent}/retract", {"reason": "Changed my mind"}
    )
    assert new_id(response) == parent
    html = page(client, THREAD_URL)
    numbers = dict(numbered(html))
    assert numbers["8"] == parent and numbers["8.1"] == reply
    assert "Soon gone." not in html and "Stays." in html
    assert re.search(r"This comment was retracted by its author on \d{1,2} \w+ \d{4}\.", html)
    assert "Reason: Changed my mind" in html
    assert f'href="/c/{parent}/reply"' not in html  # no replies to a placeholder


def test_locked_thread_refuses_posts_on_the_form(client, flask_app):
    from tests.pages.conftest import sign_in_moderator

    sign_in(client, "Ada")
    moderator = flask_app.test_client()
    sign_in_moderator(moderator, flask_app)
    thread_id = demo_thread_id(flask_app)
    form_page = page(client, THREAD_URL)
    response = send(moderator, f"/threads/{thread_id}/lock", f"/threads/{thread_id}/lock", {})
    assert response.status_code == 302
    token = re.search(r'name="csrf_token" value="([^"]+)"', form_page).group(1)
    response = client.post(
        f"/threads/{thread_id}/comments", data={"csrf_token": token, "text": "Too late"}
    )
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "The thread is locked: no new comments or edits" in html
    assert ">Too late</textarea>" in html  # kept in the form, not posted
    assert "This thread is locked" in page(client, THREAD_URL)
