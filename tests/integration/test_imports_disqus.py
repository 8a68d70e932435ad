"""`discuss import disqus`: Disqus exports (shared/fixtures/import), read back from the store."""

# ruff: noqa: RUF001 -- the real exports' Cyrillic letters and typographic quotes

from __future__ import annotations

import os
from pathlib import Path

import pytest

from domain.application import Discussions
from domain.imports import ImportRun
from domain.model import OPERATOR_ID, RETRACTED, VISIBLE, Comment, Thread
from tests.support.store import all_events, author_name, readable, stored_events, utc
from workers.importing.run import import_file
from workers.importing.specs import ImportFormatError
from workers.importing.writer import RETRACTED_TEXT, comment_id

FIXTURES = Path(os.environ.get("DISCUSS_FIXTURES", "/work/shared/fixtures")) / "import"
ISSO = FIXTURES / "isso-disqus.xml"
REMARK = FIXTURES / "remark42-disqus.xml"
HELLO = "http://example.org/"
REDACTED = "http://localhost:4000/blog/2013/02/12/redacted/index.html"
PODCAST = "https://radio-t.com/p/2011/03/05/podcast-229/"
OLD_PODCAST = "http://radio-t.umputun.com/2011/03/229_8880.html"


def post(app: Discussions, key: str, dsq_id: str) -> Comment:
    return readable(app, app.repository.get(comment_id("disqus", key, dsq_id)))


def without_lines(text: str, first: str, last: str) -> str:
    """The text without the lines from the one that is `first` to the next that is `last`."""
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.strip() == first)
    end = next(i for i in range(start, len(lines)) if lines[i].strip() == last)
    return "".join(lines[:start] + lines[end + 1 :])


def disqus_file(tmp_path: Path, body: str, name: str = "made.xml") -> Path:
    path = tmp_path / name
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<disqus xmlns="http://disqus.com"'
        ' xmlns:dsq="http://disqus.com/disqus-internals">\n' + body + "</disqus>\n",
        encoding="utf-8",
    )
    return path


def p(dsq_id, thread, parent=None, spam="false", deleted="false", at="2020-01-01T00:00:00Z",
      name=None, message=None):  # fmt: skip
    parent_xml = f'<parent dsq:id="{parent}"/>' if parent else ""
    return (
        f'<post dsq:id="{dsq_id}"><message><![CDATA[{message or f"<p>post {dsq_id}</p>"}]]>'
        f"</message><createdAt>{at}</createdAt><isDeleted>{deleted}</isDeleted>"
        f"<isSpam>{spam}</isSpam><author><name>{name or f'N{dsq_id}'}</name></author>"
        f'<thread dsq:id="{thread}"/>{parent_xml}</post>\n'
    )


def t(dsq_id, link, title="T", at="2019-01-01T00:00:00Z"):
    return (
        f'<thread dsq:id="{dsq_id}"><id/><link>{link}</link><title>{title}</title>'
        f"<createdAt>{at}</createdAt></thread>\n"
    )


# ---- the isso export ---------------------------------------------------------------------


def test_isso_export_threads_posts_deleted_placeholder_and_orphan(app):
    summary = import_file(app, ISSO, "disqus")

    assert (summary.threads_created, summary.comments, summary.retracted) == (2, 5, 1)
    assert [o.source_id for o in summary.orphans] == ["6"]  # its thread (1337) is not in the file
    assert not summary.skipped
    assert summary.authors == 3  # peter, user, Empty -- not "where am I?"
    assert "  6 (line 66): thread missing" in summary.lines()

    hello = app.repository.get(Thread.id_for_key(HELLO))
    assert (hello.title, hello.created_on) == ("Hello, World!", utc("2012-12-12 12:12:12"))
    regular, reply = post(app, HELLO, "4"), post(app, HELLO, "5")
    assert (regular.text, author_name(app, regular), regular.parent_id) == ("...", "peter", None)
    assert regular.created_on == utc("2013-10-10 19:20:29")
    assert (reply.text, author_name(app, reply), reply.parent_id) == (
        "Hello, World.", "user", regular.id,
    )  # fmt: skip
    assert reply.created_on == utc("2013-10-11 06:51:33")

    # A deleted post is a retracted placeholder that keeps its reply.
    deleted, kept_reply = post(app, HELLO, "9"), post(app, HELLO, "11")
    assert (deleted.state, deleted.text) == (RETRACTED, RETRACTED_TEXT)
    posted, retracted = stored_events(app, deleted.id)
    assert isinstance(retracted, Comment.Retracted)
    assert (retracted.reason, retracted.actor_id) == ("deleted in source", OPERATOR_ID)
    assert retracted.timestamp == posted.timestamp == utc("2013-10-10 19:20:29")
    assert (kept_reply.parent_id, kept_reply.state, kept_reply.text) == (
        deleted.id, VISIBLE, "Hello, World.",
    )  # fmt: skip

    # The thread with an empty <id/> and <title/>: known by its link, titled by it.
    redacted = app.repository.get(Thread.id_for_key(REDACTED))
    assert (redacted.title, redacted.created_on) == (REDACTED, utc("2013-02-12 16:29:45"))
    empty = post(app, REDACTED, "8")
    assert (empty.text, author_name(app, empty)) == (
        "Message from thread with empty title and id", "Empty",
    )  # fmt: skip

    # Nothing of the orphan; no thread for the one without link or posts.
    assert sum(isinstance(e, Comment.Posted) for _, e in all_events(app)) == 5
    assert sum(isinstance(e, Thread.Opened) for _, e in all_events(app)) == 2
    run = all_events(app)[-1][1]
    assert isinstance(run, ImportRun.Recorded)
    assert (run.source_format, run.orphans, run.counts["orphans"]) == (
        "disqus", ["6 (line 66): thread missing"], 1,
    )  # fmt: skip

    before = app.recorder.max_notification_id()
    again = import_file(app, ISSO, "disqus")
    assert app.recorder.max_notification_id() == before, "a second import recorded something"
    assert (again.comments, again.present, [str(o) for o in again.orphans]) == (
        0, 5, ["6 (line 66): thread missing"],
    )  # fmt: skip


def test_a_post_of_a_thread_without_link_or_id_is_skipped_and_counted(sqlite_app, tmp_path):
    text = ISSO.read_text(encoding="utf-8").replace(
        "  </disqus>", p("99", thread="3") + "  </disqus>"
    )
    path = tmp_path / "isso-disqus.xml"
    path.write_text(text, encoding="utf-8")
    summary = import_file(sqlite_app, path, "disqus")
    assert dict(summary.skipped) == {"thread without link": 1}
    assert summary.comments == 5


# ---- the remark42 test export: malformed at the top and in the middle --------------------


def test_remark42_export_is_malformed_and_each_fault_is_named_until_it_imports(
    sqlite_app, tmp_path
):
    """The file starts with a stray backtick, has a post without dsq:id and a post whose
    thread reference is not XML. Each is reported with its line, importing nothing; once
    all are mended, the rest imports, the spam post skipped."""

    def attempt(text: str) -> ImportFormatError:
        path = tmp_path / "remark42-disqus.xml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ImportFormatError) as raised:
            import_file(sqlite_app, path, "disqus")
        assert sqlite_app.recorder.max_notification_id() is None  # nothing at all
        return raised.value

    original = REMARK.read_text(encoding="utf-8")
    lines = original.splitlines()

    with pytest.raises(ImportFormatError) as raised:
        import_file(sqlite_app, REMARK, "disqus")
    assert str(raised.value) == (
        f"{REMARK}, line 1: XML syntax error at column 1: not well-formed (invalid token)"
    )

    text = original.removeprefix("`")
    error = attempt(text)
    assert (error.line, error.message) == (102, "a <post> has no dsq:id")
    assert lines[101].strip() == "<post>"

    text = without_lines(text, "<post>", "</post>")  # lines move up by 16
    error = attempt(text)
    assert error.line == 147 - 16
    assert error.message.startswith("XML syntax error at column 24: not well-formed")
    assert lines[146].strip() == "<thread dsq:id=247937687/>"  # column 24: the unquoted value

    text = text.replace("<thread dsq:id=247937687/>", '<thread dsq:id="247937687"/>')
    error = attempt(text)  # now its date and flag are read, and refused
    assert (error.line, error.message) == (
        135 - 16, "post x299986073: <isSpam> is '123', not true or false",
    )  # fmt: skip
    text = text.replace("<isSpam>123</isSpam>", "<isSpam>false</isSpam>")
    error = attempt(text)
    assert error.message == (
        "post x299986073: the date '2011-x09-30T22:48:43Z' is not an ISO 8601 date"
    )

    text = without_lines(text, '<post dsq:id="x299986073">', "</post>")
    path = tmp_path / "mended.xml"
    path.write_text(text, encoding="utf-8")
    summary = import_file(sqlite_app, path, "disqus")

    assert (summary.threads_created, summary.comments) == (2, 3)
    assert dict(summary.skipped) == {"spam": 1}
    fox = post(sqlite_app, PODCAST, "299619020")
    assert fox.text == (
        "The quick brown fox jumps over the lazy dog.\n\nsome link (https://https://radio-t.com)"
    )
    assert (author_name(sqlite_app, fox), fox.created_on) == (
        "Alexander Blah", utc("2011-08-31 15:16:29"),
    )  # fmt: skip
    assert post(sqlite_app, PODCAST, "299744309").text == (
        "Microsoft показал проводник Windows 8 с ленточным интерфейсом.\n\n"
        "http://blogs.msdn.com/b/b8/archive/2011/08/29/improvements-in-windows-explorer.aspx"
    )
    engine = post(sqlite_app, OLD_PODCAST, "299986072")
    assert author_name(sqlite_app, engine) == "No Username"
    assert engine.text.startswith(
        "Google App Engine скоро выходит из превью статуса.\n\nСейчас письмо пришло от гугла.\n\n"
        "Для платных приложений использущих High Replication Datastore (HRD) будет 99.95% uptime"
        " SLA.\nБудут Премьер"
    )
    threads = {
        sqlite_app.repository.get(Thread.id_for_key(k)).title for k in (PODCAST, OLD_PODCAST)
    }
    assert threads == {"Радио-Т: Радио-Т 229"}
    assert comment_id("disqus", PODCAST, "299986073") not in sqlite_app.repository  # spam


# ---- order, duplicates, spam parents -------------------------------------------------------


def test_replies_and_threads_before_what_they_refer_to(sqlite_app, tmp_path):
    path = disqus_file(tmp_path, (
        p("3", thread="10", parent="2", at="2020-01-03T00:00:00Z")
        + p("2", thread="10", parent="1", at="2020-01-02T00:00:00Z")
        + p("1", thread="10", at="2020-01-01T00:00:00Z")
        + t("10", "https://site.example/late-thread/", title="Late")
    ))  # fmt: skip
    summary = import_file(sqlite_app, path, "disqus")

    key = "https://site.example/late-thread/"
    assert (summary.threads_created, summary.comments, summary.orphans) == (1, 3, [])
    first, second, third = (post(sqlite_app, key, i) for i in "123")
    assert (first.parent_id, second.parent_id, third.parent_id) == (None, first.id, second.id)
    positions = {e.originator_id: n for n, e in all_events(sqlite_app)}
    assert positions[first.id] < positions[second.id] < positions[third.id]
    assert sqlite_app.repository.get(first.thread_id).title == "Late"


def test_threads_with_the_same_link_merge_and_replies_to_spam_move_up(sqlite_app, tmp_path):
    key = "https://site.example/page/"
    path = disqus_file(tmp_path, (
        t("1", key, title="", at="2019-05-01T00:00:00Z")
        + t("2", key, title="Second name", at="2019-02-01T00:00:00Z")
        + p("10", thread="1")
        + p("11", thread="2", parent="10", spam="true")
        + p("12", thread="2", parent="11", at="2020-01-05T00:00:00+02:00")
        + p("13", thread="1", deleted="true", spam="true")
    ))  # fmt: skip
    summary = import_file(sqlite_app, path, "disqus")

    assert (summary.threads_created, summary.comments) == (1, 2)
    assert dict(summary.skipped) == {"spam": 2}
    assert dict(summary.notes) == {"reparented": 1}
    thread = sqlite_app.repository.get(Thread.id_for_key(key))
    assert (thread.title, thread.created_on) == ("Second name", utc("2019-02-01 00:00:00"))
    reply = post(sqlite_app, key, "12")
    assert reply.parent_id == post(sqlite_app, key, "10").id
    assert reply.created_on == utc("2020-01-04 22:00:00")  # the offset, in UTC


def test_a_file_that_is_not_disqus_is_refused(sqlite_app):
    with pytest.raises(ImportFormatError, match="not a Disqus export: it looks like a WordPress"):
        import_file(sqlite_app, FIXTURES / "isso-wordpress.xml", "disqus")
