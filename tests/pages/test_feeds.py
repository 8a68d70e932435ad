"""Atom feeds (issue 16, item 4), parsed with feedparser: recent comments site-wide and
per thread, replies to one author, the moderators' recent changes; ETag/304 from the
log's positions, RFC 5005 paging links, `<link rel="alternate">` on the pages, and
nothing the visibility policy withholds, even when it was withheld after being listed."""

from __future__ import annotations

import re
from uuid import UUID

import feedparser
import pytest

from domain.model import MEMBER, MODERATOR
from tests.pages.conftest import THREAD_URL, demo_thread_id, page

HIDDEN = "a secret that a moderator removes"
RETRACTED = "words their author takes back"
ERASED = "words that are erased for good"
SUPPRESSED = "a revision a moderator suppresses"
KEPT = "an ordinary visible reply"


def services(flask_app):
    return flask_app.extensions["discuss"].services


def settled(flask_app, position: int) -> None:
    assert flask_app.extensions["discuss"].wait_for(position, timeout=10)


def feed(client, url: str, status: int = 200, **kwargs):
    response = client.get(url, **kwargs)
    assert response.status_code == status, (url, response.status_code, response.data[:300])
    if status == 200:
        assert response.mimetype == "application/atom+xml"
    parsed = feedparser.parse(response.data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed, response


def texts(parsed) -> list[str]:
    return [e.content[0].value for e in parsed.entries]


def links(parsed) -> dict[str, str]:
    return {link.rel: link.href for link in parsed.feed.links}


@pytest.fixture
def people(flask_app):
    app = services(flask_app).app
    ada = app.register_author("Ada", MEMBER)
    bob = app.register_author("Bob", MEMBER)
    mo = app.register_author("Mo", MODERATOR)
    return ada, bob, mo


def test_site_feed_lists_recent_comments_newest_first(client, flask_app, people):
    ada, bob, _ = people
    app = services(flask_app).app
    thread = UUID(demo_thread_id(flask_app))
    first = app.post_comment(ada.author_id, thread, "first of two")
    second = app.post_comment(bob.author_id, thread, "second of two", parent_id=first.comment_id)
    settled(flask_app, second.position)
    parsed, _ = feed(client, "/feeds/comments.atom")
    assert parsed.feed.title == "Recent comments"
    assert texts(parsed)[:2] == ["second of two", "first of two"]
    top = parsed.entries[0]
    assert top.id == f"urn:uuid:{second.comment_id}"
    assert top.author == "Bob"
    assert top.link.endswith(f"/c/{second.comment_id}")
    assert "Welcome" not in top.title  # the demo thread's title is in every title
    assert top.title.startswith("Bob on ")


def test_thread_feed_and_page_links(client, flask_app, people):
    ada, _, _ = people
    app = services(flask_app).app
    thread = UUID(demo_thread_id(flask_app))
    other = app.open_thread(people[2].author_id, "Another thread")
    elsewhere = app.post_comment(ada.author_id, other.thread_id, "in the other thread")
    here = app.post_comment(ada.author_id, thread, "in the demo thread")
    settled(flask_app, here.position)
    parsed, _ = feed(client, f"/feeds/threads/{thread}.atom")
    assert "in the demo thread" in texts(parsed)
    assert "in the other thread" not in texts(parsed)
    assert links(parsed)["alternate"].endswith(THREAD_URL)
    html = page(client, THREAD_URL)
    assert 'type="application/atom+xml" title="Comments on' in html
    assert f"/feeds/threads/{thread}.atom" in html
    assert 'href="/feeds/comments.atom"' in page(client, "/")
    assert elsewhere.comment_id


def test_replies_to_one_author(client, flask_app, people):
    ada, bob, _ = people
    app = services(flask_app).app
    thread = UUID(demo_thread_id(flask_app))
    mine = app.post_comment(ada.author_id, thread, "Ada's comment")
    reply = app.post_comment(bob.author_id, thread, "Bob answers Ada", parent_id=mine.comment_id)
    bobs = app.post_comment(bob.author_id, thread, "Bob alone")
    other = app.post_comment(ada.author_id, thread, "Ada answers Bob", parent_id=bobs.comment_id)
    settled(flask_app, other.position)
    parsed, _ = feed(client, f"/feeds/authors/{ada.author_id}/replies.atom")
    assert parsed.feed.title == "Replies to Ada"
    assert texts(parsed) == ["Bob answers Ada"]
    assert reply.comment_id
    # Linked from the author's account page.
    client.set_cookie("discuss_token", ada.token)
    assert f"/feeds/authors/{ada.author_id}/replies.atom" in page(client, "/account")


def test_unknown_thread_or_author_is_404_and_bad_cursor_400(client, flask_app):
    assert client.get(f"/feeds/threads/{UUID(int=1)}.atom").status_code == 404
    assert client.get(f"/feeds/authors/{UUID(int=1)}/replies.atom").status_code == 404
    assert client.get("/feeds/comments.atom?before=abc").status_code == 400
    assert client.get("/feeds/comments.atom?before=0").status_code == 400
    assert client.get("/feeds/comments.atom?before=5&after=2").status_code == 400


def test_etag_and_304_move_with_the_log(client, flask_app, people):
    ada, _, _ = people
    app = services(flask_app).app
    _, response = feed(client, "/feeds/comments.atom")
    etag = response.headers["ETag"]
    again = client.get("/feeds/comments.atom", headers={"If-None-Match": etag})
    assert again.status_code == 304
    posted = app.post_comment(ada.author_id, UUID(demo_thread_id(flask_app)), "news")
    settled(flask_app, posted.position)
    changed = client.get("/feeds/comments.atom", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag


def test_paged_with_rfc5005_links_covers_every_entry_once(client, flask_app, people):
    ada, _, _ = people
    app = services(flask_app).app
    thread = UUID(demo_thread_id(flask_app))
    last = None
    for n in range(7):
        last = app.post_comment(ada.author_id, thread, f"paged comment {n}")
    settled(flask_app, last.position)
    seen, url, pages = [], f"/feeds/threads/{thread}.atom?limit=4", 0
    while url:
        parsed, _ = feed(client, url)
        pages += 1
        seen += texts(parsed)
        found = links(parsed)
        assert "first" in found
        if pages > 1:
            assert "previous" in found
        url = found.get("next")
    assert pages > 2
    assert len(seen) == len(set(seen))
    assert [t for t in seen if t.startswith("paged")] == [
        f"paged comment {n}" for n in range(6, -1, -1)
    ]
    # Walking back: `previous` from the second page leads to the newest entries.
    first, _ = feed(client, f"/feeds/threads/{thread}.atom?limit=4")
    second, _ = feed(client, links(first)["next"])
    back, _ = feed(client, links(second)["previous"])
    assert texts(back) == texts(first)


def test_withheld_comments_never_appear_and_leave_the_feed_later(client, flask_app, people):
    ada, bob, mo = people
    app = services(flask_app).app
    thread = UUID(demo_thread_id(flask_app))
    root = app.post_comment(ada.author_id, thread, "Ada's root")
    made = {
        text: app.post_comment(bob.author_id, thread, text, parent_id=root.comment_id)
        for text in (HIDDEN, RETRACTED, ERASED, SUPPRESSED, KEPT)
    }
    settled(flask_app, made[KEPT].position)
    urls = ["/feeds/comments.atom", f"/feeds/threads/{thread}.atom"]
    urls.append(f"/feeds/authors/{ada.author_id}/replies.atom")
    for url in urls:  # listed while visible
        parsed, _ = feed(client, url)
        assert {HIDDEN, RETRACTED, ERASED, SUPPRESSED, KEPT} <= set(texts(parsed)), url
    app.hide_comment(mo.author_id, made[HIDDEN].comment_id, "spam")
    app.retract_comment(bob.author_id, made[RETRACTED].comment_id)
    app.erase_comment(mo.author_id, made[ERASED].comment_id, "personal_data")
    last = app.suppress_revision(mo.author_id, made[SUPPRESSED].comment_id, 1, reason="doxxing")
    settled(flask_app, last.position)
    for url in urls:
        parsed, response = feed(client, url)
        body = response.get_data(as_text=True)
        assert texts(parsed).count(KEPT) == 1, url
        for gone in (HIDDEN, RETRACTED, ERASED, SUPPRESSED):
            assert gone not in body, (url, gone)


def test_replies_to_a_withheld_comment_do_not_name_its_author(client, flask_app, people):
    ada, bob, mo = people
    app = services(flask_app).app
    thread = UUID(demo_thread_id(flask_app))
    root = app.post_comment(ada.author_id, thread, "Ada's comment, soon removed")
    reply = app.post_comment(bob.author_id, thread, "a reply", parent_id=root.comment_id)
    settled(flask_app, reply.position)
    parsed, _ = feed(client, f"/feeds/authors/{ada.author_id}/replies.atom")
    assert texts(parsed) == ["a reply"]
    hid = app.hide_comment(mo.author_id, root.comment_id, "off topic")
    settled(flask_app, hid.position)
    parsed, _ = feed(client, f"/feeds/authors/{ada.author_id}/replies.atom")
    assert texts(parsed) == []


def test_an_erased_author_leaves_every_feed(client, flask_app, people):
    ada, bob, _ = people
    app = services(flask_app).app
    thread = UUID(demo_thread_id(flask_app))
    posted = app.post_comment(bob.author_id, thread, "Bob's words, soon erased")
    settled(flask_app, posted.position)
    assert "Bob's words, soon erased" in texts(feed(client, "/feeds/comments.atom")[0])
    erased = app.erase_author(bob.author_id, bob.author_id, "author_request")
    settled(flask_app, erased.position)
    parsed, response = feed(client, "/feeds/comments.atom")
    assert "Bob's words" not in response.get_data(as_text=True)
    assert "Bob" not in [e.author for e in parsed.entries]
    assert ada


def test_recent_changes_for_moderators_by_header_or_feed_token(client, flask_app, people):
    ada, _, mo = people
    app = services(flask_app).app
    thread = UUID(demo_thread_id(flask_app))
    posted = app.post_comment(ada.author_id, thread, "a comment to hide")
    hid = app.hide_comment(mo.author_id, posted.comment_id, "a moderator's reason")
    settled(flask_app, hid.position)
    assert client.get("/feeds/changes.atom").status_code == 401
    member = {"Authorization": f"Bearer {ada.token}"}
    assert client.get("/feeds/changes.atom", headers=member).status_code == 403
    assert client.get("/feeds/changes.atom?token=forged").status_code == 403
    moderator = {"Authorization": f"Bearer {mo.token}"}
    parsed, response = feed(client, "/feeds/changes.atom", headers=moderator)
    assert response.headers["Cache-Control"].startswith("private")
    kinds = [e.tags[0].term for e in parsed.entries]
    assert kinds[:2] == ["Comment.Hidden", "Comment.Posted"]  # every event, newest first
    assert "a moderator's reason" in parsed.entries[0].summary
    # The audit page links the feed with a token that works without headers.
    client.set_cookie("discuss_token", mo.token)
    html = page(client, "/audit")
    token_url = re.search(r'href="(http://localhost/feeds/changes\.atom\?token=[^"]+)"', html)
    assert token_url, "the audit page links the recent changes feed"
    client.delete_cookie("discuss_token")
    by_token, _ = feed(
        client, token_url.group(1).replace("http://localhost", "").replace("&amp;", "&")
    )
    assert [e.id for e in by_token.entries] == [e.id for e in parsed.entries]
    # A feed token stops working once its moderator's account is erased.
    app.erase_author(mo.author_id, mo.author_id, "author_request")
    url = token_url.group(1).replace("http://localhost", "").replace("&amp;", "&")
    assert client.get(url).status_code == 403
