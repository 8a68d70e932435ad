"""`discuss import wxr`: WordPress exports (shared/fixtures/import), read back from the store."""

# ruff: noqa: RUF001 -- the real exports' Cyrillic letters and typographic quotes

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from uuid import NAMESPACE_URL, uuid5

import pytest

from domain.application import Discussions
from domain.imports import ImportRun
from domain.model import HIDDEN, OPERATOR_ID, VISIBLE, Author, Comment, Thread
from tests.support.store import all_events, author_name, readable, stored_events, utc
from workers.importing.run import import_file
from workers.importing.specs import ImportFormatError, NotThisFormat
from workers.importing.writer import comment_id

FIXTURES = Path(os.environ.get("DISCUSS_FIXTURES", "/work/shared/fixtures")) / "import"
ISSO = FIXTURES / "isso-wordpress.xml"
A11Y = FIXTURES / "wordpress-a11y-unit-test-data.xml"
ISSO_POST = "http://example.tld/2014/test/"
ISSO_P4 = "http://example.tld/?p=4"
A11Y_BASE = "http://wpthemetestdata.wordpress.com"
A11Y_PAGE = f"{A11Y_BASE}/about/page-with-comments/"
A11Y_TEMPLATE = f"{A11Y_BASE}/2012/01/03/template-comments/"
A11Y_PINGS = f"{A11Y_BASE}/2012/01/01/template-pingbacks-an-trackbacks/"


# ---- reading the store back --------------------------------------------------------


def comment(app: Discussions, key: str, source_id: str) -> Comment:
    return readable(app, app.repository.get(comment_id("wxr", key, source_id)))


def depth(app: Discussions, item: Comment) -> int:
    levels = 0
    while item.parent_id is not None:
        item = app.repository.get(item.parent_id)
        levels += 1
    return levels


def thread_comments(app: Discussions, key: str) -> list[Comment.Posted]:
    thread_id = Thread.id_for_key(key)
    return [
        e for _, e in all_events(app) if isinstance(e, Comment.Posted) and e.thread_id == thread_id
    ]


def copy_with(tmp_path: Path, source: Path, *replacements: tuple[str, str]) -> Path:
    text = source.read_text(encoding="utf-8")
    for old, new in replacements:
        assert text.count(old) == 1, f"{old!r} must occur once in {source.name}"
        text = text.replace(old, new)
    target = tmp_path / source.name
    target.write_text(text, encoding="utf-8")
    return target


def line_of(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if needle in line)


# ---- the isso export: nesting, dates, authors, idempotency ---------------------------


def test_isso_export_imports_every_comment_with_its_nesting_dates_and_authors(app):
    summary = import_file(app, ISSO, "wxr")

    assert (summary.threads_created, summary.comments, summary.hidden, summary.retracted) == (
        2, 8, 0, 0,
    )  # fmt: skip
    assert summary.authors == 5
    assert not summary.skipped and not summary.orphans

    thread = app.repository.get(Thread.id_for_key(ISSO_POST))
    assert (thread.title, thread.key, thread.opened_by) == ("Hello, World…", ISSO_POST, OPERATOR_ID)
    assert thread.created_on == utc("2014-01-14 17:31:03")  # the post's date

    expected = {  # id: (parent, author, text, date)
        "2": (None, "Ohai", "Erster!1", "2014-01-14 17:32:12"),
        "6": (None, "Tester", "Zweiter.", "2014-04-29 15:21:27"),
        "7": ("6", "Tester", "Drölfter!", "2014-04-29 15:21:35"),  # only a GMT date
        "8": ("7", "Tester", "Yet another reply.", "2014-04-29 15:21:45"),
        "9": ("7", "Tester", "...", "2014-04-29 15:21:52"),
        "10": (
            None, "Multiline Author",
            "When you have a comment with multiple lines:\nWordPress exports it like this.",
            "2022-06-06 02:13:14",  # GMT, not the local 12:13:14
        ),
        "11": (None, "Letzter :/", "...", "2022-06-07 15:21:56"),
    }  # fmt: skip
    for source_id, (parent, name, text, date) in expected.items():
        item = comment(app, ISSO_POST, source_id)
        assert item.thread_id == thread.id
        assert item.parent_id == (comment_id("wxr", ISSO_POST, parent) if parent else None)
        assert (author_name(app, item), item.text, item.state) == (name, text, VISIBLE)
        assert item.created_on == utc(date), source_id
    assert depth(app, comment(app, ISSO_POST, "8")) == 2
    assert len(thread_comments(app, ISSO_POST)) == 7

    # Comment ids 11 repeat across posts: they are different comments.
    other = comment(app, ISSO_P4, "11")
    assert other.id != comment(app, ISSO_POST, "11").id
    assert (author_name(app, other), other.created_on) == ("Anonymous", utc("2014-04-29 15:21:57"))
    second = app.repository.get(Thread.id_for_key(ISSO_P4))
    assert second.title == "..."
    assert second.created_on == utc("2014-04-29 15:21:57")  # no post date: its first comment
    assert Thread.id_for_key("http://example.tld/?p=6") not in app.repository  # no comments

    # Stable ids, from the source's ids; authors known by name.
    assert comment(app, ISSO_POST, "2").id == uuid5(NAMESPACE_URL, f"/import/wxr/{ISSO_POST}/2")
    tester = comment(app, ISSO_POST, "6").author_id
    assert tester == uuid5(NAMESPACE_URL, "/import/wxr/authors/Tester")
    assert {comment(app, ISSO_POST, i).author_id for i in "6789"} == {tester}
    assert isinstance(app.repository.get(tester), Author)

    # Log order: authors, then the thread, then parents before their replies.
    positions = {e.originator_id: n for n, e in all_events(app)}
    assert positions[tester] < positions[thread.id] < positions[comment(app, ISSO_POST, "6").id]
    for reply in "789":
        item = comment(app, ISSO_POST, reply)
        assert positions[item.parent_id] < positions[item.id]


def test_the_run_is_recorded_once_and_a_second_import_records_nothing(app):
    first = import_file(app, ISSO, "wxr", operator="alice")

    last_position, last = all_events(app)[-1]
    assert isinstance(last, ImportRun.Recorded)
    assert first.position == last_position == app.recorder.max_notification_id()
    assert (last.source_format, last.file_name, last.operator, last.actor_id) == (
        "wxr", str(ISSO.resolve()), "alice", OPERATOR_ID,
    )  # fmt: skip
    assert last.file_sha256 == hashlib.sha256(ISSO.read_bytes()).hexdigest()
    assert last.counts["threads_created"] == 2 and last.counts["comments"] == 8
    assert last.error is None

    before = app.recorder.max_notification_id()
    second = import_file(app, ISSO, "wxr", operator="alice")
    assert app.recorder.max_notification_id() == before, "a second import recorded something"
    assert (second.comments, second.present, second.threads_unchanged) == (0, 8, 2)
    assert second.position is None and not second.changed


# ---- the a11y export: 9 deep, pingbacks, a comment with no date and no status ------


def test_a11y_export_nests_nine_deep_and_skips_pingbacks(app):
    summary = import_file(app, A11Y, "wxr")

    assert summary.threads_created == 5
    assert summary.comments == 25
    assert dict(summary.skipped) == {"pingback": 4}
    # 167 has no status; "Template: Password Protected" (password "enter") has one comment
    assert (summary.hidden, dict(summary.held)) == (
        0, {"imported-no-status": 1, "imported-password-protected": 1},
    )  # fmt: skip
    assert dict(summary.notes) == {"undated": 1}

    deepest = comment(app, A11Y_TEMPLATE, "915")
    assert deepest.text == "Comment Depth 10\n\nAlso an author comment."
    assert depth(app, deepest) == 9
    chain, item = [], deepest
    while item.parent_id is not None:
        item = readable(app, app.repository.get(item.parent_id))
        chain.append(item.text.split("\n")[0])
    assert chain == [f"Comment Depth {n:02}" for n in range(9, 0, -1)]
    assert max(depth(app, app.repository.get(e.originator_id)) for _, e in all_events(app)
               if isinstance(e, Comment.Posted)) == 9  # fmt: skip
    assert comment(app, A11Y_TEMPLATE, "905").created_on == utc("2013-03-14 15:01:21")
    assert author_name(app, comment(app, A11Y_TEMPLATE, "905")) == "Jane Bloggs"

    names = {app.display_name(app.repository.get(e.originator_id)) for _, e in all_events(app)
             if isinstance(e, Author.Registered)}  # fmt: skip
    assert names == {
        "Anon", "tellyworthtest2", "John Doe", "Anonymous User", "Jane Doe", "Jane Bloggs",
        "Fred Bloggs", "Joe Bloggs",
    }  # fmt: skip

    # Only the comment among the pingbacks came in.
    assert [e.text for e in thread_comments(app, A11Y_PINGS)] == [
        "This is a comment amongst pingbacks and trackbacks."
    ]

    # HTML to plain text.
    html = comment(app, A11Y_TEMPLATE, "881").text
    assert html.startswith("Headings\n\nHeader one\n\nHeader two\n\n")
    assert "John Saddington (http://example.org/) $1 Because that's all" in html
    assert "<h2>" not in html and "<td>" not in html


def test_a_comment_without_status_or_date_comes_in_held_dated_at_the_thread_start(sqlite_app):
    """a11y comment 167 has neither wp:comment_approved nor any date: imported held for
    review ("imported-no-status": WordPress does not show it either), dated at the
    thread's start, counted undated."""
    import_file(sqlite_app, A11Y, "wxr")

    anon = comment(sqlite_app, A11Y_PAGE, "167")
    thread = sqlite_app.repository.get(Thread.id_for_key(A11Y_PAGE))
    assert (anon.text, anon.awaiting_review, author_name(sqlite_app, anon)) == (
        "Anonymous comment.",
        True,
        "Anon",
    )
    # the page has no date; its earliest comment (168, GMT 00:49:03) starts the thread
    assert thread.created_on == anon.created_on == utc("2007-09-04 00:49:03")
    posted, held = stored_events(sqlite_app, anon.id)
    assert isinstance(held, Comment.Held)
    assert (held.rules, held.actor_id) == (["imported-no-status"], OPERATOR_ID)
    assert held.timestamp == posted.timestamp  # never visible here
    assert comment(sqlite_app, A11Y_PAGE, "168").created_on == utc("2007-09-04 00:49:03")


def test_include_pings_brings_pingbacks_with_their_names_unescaped(sqlite_app):
    summary = import_file(sqlite_app, A11Y, "wxr", include_pings=True)

    assert summary.comments == 29 and not summary.skipped
    ping = comment(sqlite_app, A11Y_PINGS, "921")
    assert author_name(sqlite_app, ping) == "Ping 1 « What’s a tellyworth?"
    assert ping.text == "[...] Trackback test. [...]"
    long_name = author_name(sqlite_app, comment(sqlite_app, A11Y_PINGS, "922"))
    assert len(long_name) == 80 and long_name.startswith("Ping 2 with a much longer title")
    assert long_name.endswith("…")


def test_small_threads_share_a_write_and_no_thread_is_split(sqlite_app):
    """Each save holds whole threads; the a11y export's five small threads (and their
    authors, some in several threads) go in one write, then the run's record."""
    saves: list[list[str]] = []
    save = sqlite_app.save

    def counting_save(*aggregates, **kwargs):
        saves.append([type(a).__name__ for a in aggregates])
        return save(*aggregates, **kwargs)

    sqlite_app.save = counting_save
    summary = import_file(sqlite_app, A11Y, "wxr")

    assert summary.threads_created == 5
    assert len(saves) == 2, "one write for the threads, one for the run's record"
    threads, record = saves
    assert threads.count("Thread") == 5 and threads.count("Comment") == 25
    assert threads.count("Author") == 8  # each author once, though several post in 2 threads
    assert record == ["ImportRun"]


def test_the_same_page_twice_in_a_file_is_one_thread(sqlite_app, tmp_path):
    key = "https://site.example/a/"
    path = wxr_file(tmp_path, [(key, "A", [c(1)]), (key, "A again", [c(2)])])
    summary = import_file(sqlite_app, path, "wxr")

    assert (summary.threads_created, summary.threads_extended, summary.comments) == (1, 1, 2)
    assert app_title(sqlite_app, key) == "A"
    assert comment(sqlite_app, key, "2").thread_id == comment(sqlite_app, key, "1").thread_id


# ---- states and edge cases, on a file made for them -----------------------------------


def wxr_file(tmp_path: Path, items: list[tuple[str, str, list[str]]], name="made.xml") -> Path:
    """A WXR 1.1 file: items of (link, title, [<wp:comment> bodies])."""
    body = "".join(
        f"<item><title>{title}</title><link>{link}</link>"
        f"<wp:post_date_gmt>2020-01-01 00:00:00</wp:post_date_gmt>"
        + "".join(f"\n<wp:comment>{c}</wp:comment>" for c in comments)
        + "\n</item>\n"
        for link, title, comments in items
    )
    path = tmp_path / name
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"'
        ' xmlns:wp="http://wordpress.org/export/1.1/"><channel>\n' + body + "</channel></rss>\n",
        encoding="utf-8",
    )
    return path


def c(cid, parent="0", approved="1", kind="", text=None, date="2020-01-02 00:00:00"):
    parts = [
        f"<wp:comment_id>{cid}</wp:comment_id>",
        f"<wp:comment_author>A{cid}</wp:comment_author>",
    ]
    if date is not None:
        parts.append(f"<wp:comment_date_gmt>{date}</wp:comment_date_gmt>")
    parts.append(f"<wp:comment_content><![CDATA[{text or f'text {cid}'}]]></wp:comment_content>")
    if approved is not None:
        parts.append(f"<wp:comment_approved>{approved}</wp:comment_approved>")
    parts.append(
        f"<wp:comment_type>{kind}</wp:comment_type><wp:comment_parent>{parent}</wp:comment_parent>"
    )
    return "".join(parts)  # fmt: skip


def test_pending_spam_trash_pings_other_types_and_empty_comments(sqlite_app, tmp_path):
    key = "https://site.example/a/"
    path = wxr_file(tmp_path, [(key, "A &amp; B", [
        c(1, date="2020-01-02 10:00:00"),
        c(2, parent="1", approved="0"),
        c(3, parent="1", approved="spam"),
        c(4, parent="3", date="2020-01-03 00:00:00"),  # a reply to spam: attached to 1
        c(5, approved="trash"),
        c(6, approved="post-trashed"),
        c(7, kind="pingback"),
        c(8, kind="trackback"),
        c(9, kind="order_note"),  # WooCommerce's private notes are not comments
        c(10, text="<p> </p>"),
        c(11, approved=None),
        c(12, parent="4", date=None),  # undated: dated like its parent
        c(13, parent="999"),  # the parent is not in the file
        c(14, parent="10"),  # a reply to an empty comment: top-level
        c(15, kind="comment", date="2020-01-02 00:00:00"),
    ]), ("https://site.example/only-spam/", "S", [c(1, approved="spam")])])  # fmt: skip
    summary = import_file(sqlite_app, path, "wxr")

    assert dict(summary.skipped) == {
        "spam": 2, "trash": 2, "pingback": 1, "trackback": 1, "type order_note": 1, "empty": 1,
    }  # fmt: skip
    assert dict(summary.notes) == {
        "reparented": 2, "undated": 1, "threads with nothing to import": 1,
    }  # fmt: skip
    assert [(o.source_id, o.why) for o in summary.orphans] == [("13", "parent 999 missing")]
    assert summary.threads_created == 1
    assert Thread.id_for_key("https://site.example/only-spam/") not in sqlite_app.repository
    assert (summary.comments, summary.hidden) == (8, 0)
    assert dict(summary.held) == {"imported-pending": 1, "imported-no-status": 1}
    assert app_title(sqlite_app, key) == "A & B"

    def get(cid):
        return comment(sqlite_app, key, str(cid))

    assert get(2).awaiting_review and get(2).state != HIDDEN
    posted, held = stored_events(sqlite_app, get(2).id)
    assert (held.rules, held.timestamp) == (["imported-pending"], posted.timestamp)
    assert get(11).awaiting_review
    assert get(4).parent_id == get(1).id
    assert get(12).parent_id == get(4).id
    assert get(12).created_on == get(4).created_on == utc("2020-01-03 00:00:00")
    assert get(13).parent_id is None and get(14).parent_id is None
    assert get(15).state == VISIBLE
    for skipped in (3, 5, 6, 7, 8, 9, 10):
        assert comment_id("wxr", key, str(skipped)) not in sqlite_app.repository


def app_title(app: Discussions, key: str) -> str:
    return app.repository.get(Thread.id_for_key(key)).title


def test_a_new_export_with_more_comments_extends_the_threads(sqlite_app, tmp_path):
    import_file(sqlite_app, ISSO, "wxr")
    newer = copy_with(tmp_path, ISSO, (
        "<wp:comment_id>11</wp:comment_id>\n                <wp:comment_author><![CDATA[Letzter",
        "<wp:comment_id>12</wp:comment_id><wp:comment_parent>10</wp:comment_parent>"
        "<wp:comment_author>New</wp:comment_author>"
        "<wp:comment_date_gmt>2023-01-01 00:00:00</wp:comment_date_gmt>"
        "<wp:comment_content>late reply</wp:comment_content>"
        "<wp:comment_approved>1</wp:comment_approved></wp:comment><wp:comment>"
        "<wp:comment_id>11</wp:comment_id>\n                <wp:comment_author><![CDATA[Letzter",
    ))  # fmt: skip
    summary = import_file(sqlite_app, newer, "wxr")

    assert (summary.threads_extended, summary.threads_unchanged) == (1, 1)
    assert (summary.comments, summary.present, summary.authors) == (1, 8, 1)
    late = comment(sqlite_app, ISSO_POST, "12")
    assert late.parent_id == comment(sqlite_app, ISSO_POST, "10").id
    assert sqlite_app.repository.get(late.thread_id).version == 1  # the thread is as it was


def test_a_thread_opened_here_for_the_same_page_receives_the_comments(sqlite_app):
    opened = sqlite_app.open_thread(OPERATOR_ID, "Our own title", key=ISSO_POST)
    summary = import_file(sqlite_app, ISSO, "wxr")

    assert (summary.threads_created, summary.threads_extended, summary.comments) == (1, 1, 8)
    thread = sqlite_app.repository.get(opened.thread_id)
    assert thread.title == "Our own title"
    assert comment(sqlite_app, ISSO_POST, "2").thread_id == opened.thread_id


# ---- malformed files: clear errors, nothing half-imported ------------------------------


def test_a_malformed_record_mid_file_stops_the_import_and_its_thread_has_no_events(
    sqlite_app, tmp_path
):
    broken = copy_with(tmp_path, A11Y, ("<wp:comment_id>906</wp:comment_id>", ""))
    # the record's <wp:comment> is two lines above its author (the id's line is empty now)
    bad_line = line_of(broken, "<wp:comment_author><![CDATA[Fred Bloggs]]>") - 2

    with pytest.raises(ImportFormatError) as raised:
        import_file(sqlite_app, broken, "wxr")

    assert raised.value.line == bad_line
    assert str(raised.value) == (
        f"{broken}, line {bad_line}: a comment in the item {A11Y_TEMPLATE!r} has no wp:comment_id"
    )
    # The thread before the bad one is complete; the bad one (and those after) left nothing.
    assert len(thread_comments(sqlite_app, A11Y_PAGE)) == 3
    template_id = Thread.id_for_key(A11Y_TEMPLATE)
    for _, event in all_events(sqlite_app):
        assert event.originator_id != template_id
        assert getattr(event, "thread_id", None) != template_id
    assert Thread.id_for_key(A11Y_PINGS) not in sqlite_app.repository
    # What was done is on record, with the error.
    run = all_events(sqlite_app)[-1][1]
    assert isinstance(run, ImportRun.Recorded)
    assert run.counts["threads_created"] == 1 and f"line {bad_line}" in run.error


def test_an_xml_syntax_error_names_the_line_and_keeps_earlier_threads(sqlite_app, tmp_path):
    broken = copy_with(tmp_path, ISSO, ("<title>...</title>", "<title>...</titel>"))
    with pytest.raises(ImportFormatError) as raised:
        import_file(sqlite_app, broken, "wxr")

    line = line_of(broken, "</titel>")  # column 25: where "titel" starts
    assert str(raised.value) == (
        f"{broken}, line {line}: XML syntax error at column 25: mismatched tag"
    )
    assert len(thread_comments(sqlite_app, ISSO_POST)) == 7
    assert Thread.id_for_key(ISSO_P4) not in sqlite_app.repository
    assert thread_comments(sqlite_app, ISSO_P4) == []


@pytest.mark.parametrize(
    ("comments", "bad", "message"),
    [
        ([c(1), c(1)], 1, "comment 1 appears twice in the thread"),
        ([c(1, parent="2"), c(2, parent="1")], 0,
         "comment 1 is its own ancestor (replies loop: 1 -> 2 -> 1)"),
        ([c(2), c(1, date="yesterday")], 1,
         "comment 1 in the item 'https://site.example/b/': the date 'yesterday' is not"
         " YYYY-MM-DD HH:MM:SS"),
    ],
)  # fmt: skip
def test_a_bad_second_thread_is_not_imported_and_the_first_is(
    sqlite_app, tmp_path, comments, bad, message
):
    path = wxr_file(tmp_path, [
        ("https://site.example/a/", "A", [c(1), c(2, parent="1")]),
        ("https://site.example/b/", "B", comments),
    ])  # fmt: skip
    with pytest.raises(ImportFormatError) as raised:
        import_file(sqlite_app, path, "wxr")

    assert message in str(raised.value)
    assert raised.value.line == line_of(path, "<title>B</title>") + 1 + bad  # a comment a line
    assert len(thread_comments(sqlite_app, "https://site.example/a/")) == 2
    assert thread_comments(sqlite_app, "https://site.example/b/") == []
    assert Thread.id_for_key("https://site.example/b/") not in sqlite_app.repository


def test_a_value_the_domain_rejects_stops_with_the_item_named(sqlite_app, tmp_path):
    long_key = "https://site.example/" + "x" * 2000
    path = wxr_file(tmp_path, [("https://site.example/a/", "A", [c(1)]), (long_key, "B", [c(1)])])
    with pytest.raises(ImportFormatError) as raised:
        import_file(sqlite_app, path, "wxr")
    assert "key is 2021 characters; the limit is 2000" in str(raised.value)
    assert len(thread_comments(sqlite_app, "https://site.example/a/")) == 1


def test_an_item_with_comments_but_no_link_is_malformed(sqlite_app, tmp_path):
    path = wxr_file(tmp_path, [("https://site.example/a/", "A", [c(1)]), ("", "No link", [c(1)])])
    with pytest.raises(ImportFormatError) as raised:
        import_file(sqlite_app, path, "wxr")
    assert raised.value.line == line_of(path, "<title>No link</title>")
    assert raised.value.message == "the item 'No link' has comments but no <link>"
    assert len(thread_comments(sqlite_app, "https://site.example/a/")) == 1


def test_a_file_that_is_not_wxr_is_refused(sqlite_app):
    with pytest.raises(
        NotThisFormat, match=r"not a WordPress export \(WXR\): it looks like a Disqus export"
    ):
        import_file(sqlite_app, FIXTURES / "isso-disqus.xml", "wxr")
    assert sqlite_app.recorder.max_notification_id() is None
