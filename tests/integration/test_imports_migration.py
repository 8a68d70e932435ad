"""Issue 15: every real WordPress export imports, or fails loudly (small WXR variants
built here: https namespace, password-protected and private posts, a post whose only
comment is pending, a reply before its parent, a reply whose parent is missing)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from domain.model import Comment, Thread
from domain.settings import Database
from projections import queries
from projections.queries import PageRequest
from projections.setup import open_application
from tests.support.store import stored_events
from tests.support.views import close, fresh_engine
from workers.cli import main
from workers.importing.run import import_file
from workers.importing.specs import ImportFormatError
from workers.importing.writer import comment_id

SITE = "https://blog.example.org"
FIXTURES = Path(os.environ.get("DISCUSS_FIXTURES", "/work/shared/fixtures")) / "import"


def comment_xml(
    cid: int, text: str, *, parent: int = 0, approved: str = "1", author: str = "Reader"
) -> str:
    return f"""
    <wp:comment>
      <wp:comment_id>{cid}</wp:comment_id>
      <wp:comment_author><![CDATA[{author}]]></wp:comment_author>
      <wp:comment_date_gmt>2024-03-0{cid % 9 + 1} 10:00:00</wp:comment_date_gmt>
      <wp:comment_content><![CDATA[{text}]]></wp:comment_content>
      <wp:comment_approved>{approved}</wp:comment_approved>
      <wp:comment_type>comment</wp:comment_type>
      <wp:comment_parent>{parent}</wp:comment_parent>
    </wp:comment>"""


def item_xml(slug: str, comments: str, *, status: str = "publish", password: str = "") -> str:
    return f"""
  <item>
    <title>Post {slug}</title>
    <link>{SITE}/{slug}/</link>
    <wp:post_id>{len(slug)}</wp:post_id>
    <wp:post_date_gmt>2024-03-01 09:00:00</wp:post_date_gmt>
    <wp:status>{status}</wp:status>
    <wp:post_password>{password}</wp:post_password>
    <wp:post_type>post</wp:post_type>{comments}
  </item>"""


def wxr(tmp_path: Path, *items: str, namespace: str = "https://wordpress.org/export/1.2/") -> Path:
    path = tmp_path / "export.xml"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"\n'
        '     xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        f'     xmlns:wp="{namespace}">\n<channel>\n  <title>Blog</title>'
        + "".join(items)
        + "\n</channel>\n</rss>\n",
        encoding="utf-8",
    )
    return path


def line_of(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if needle in line)


def get(app, slug: str, cid: int) -> Comment:
    return app.repository.get(comment_id("wxr", f"{SITE}/{slug}/", str(cid)))


def reader_page(database: Database, slug: str) -> dict:
    engine = fresh_engine(database)
    try:
        engine.catch_up_all()
        thread_id = str(Thread.id_for_key(f"{SITE}/{slug}/"))
        return queries.thread_page(engine, thread_id, PageRequest())
    finally:
        close(engine)


def ids(nodes: list[dict]) -> list[str]:
    return [n["id"] for n in nodes] + [i for n in nodes for i in ids(n["replies"])]


@pytest.fixture
def cli(sqlite_database: Database):
    runner = CliRunner(env={"DISCUSS_DATABASE_URL": sqlite_database.url})
    return lambda *args: runner.invoke(main, ["import", *args])


def head(database: Database) -> int | None:
    app = open_application(database)
    try:
        return app.recorder.max_notification_id()
    finally:
        app.close()


# ---- fail loudly -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "namespace",
    [
        "https://wordpress.org/export/1.2/",
        "https://wordpress.org/export/1.1/",
        "https://wordpress.org/export/1.0/",
        "http://wordpress.org/export/1.1/",
    ],
)
def test_every_namespace_wordpress_reads_imports(sqlite_app, tmp_path, namespace):
    """The real export that was lost: `https://wordpress.org/export/1.2/`."""
    path = wxr(tmp_path, item_xml("a", comment_xml(1, "Hello") + comment_xml(2, "Hi", parent=1)))
    path.write_text(path.read_text().replace("https://wordpress.org/export/1.2/", namespace))

    summary = import_file(sqlite_app, path, "wxr")

    assert (summary.threads_created, summary.comments) == (1, 2)
    assert get(sqlite_app, "a", 2).parent_id == get(sqlite_app, "a", 1).id


def test_a_file_without_wordpress_namespace_exits_1_saying_what_it_found(
    cli, sqlite_database, tmp_path
):
    path = wxr(tmp_path, item_xml("a", comment_xml(1, "Hello")), namespace="http://example.org/wp/")

    result = cli("wxr", str(path))

    assert result.exit_code == 1
    assert "no WordPress export namespace" in result.stderr
    assert "http://example.org/wp/" in result.stderr  # what it declares instead
    assert "1 item(s)" in result.stderr
    assert head(sqlite_database) is None


def test_an_unknown_wxr_version_and_an_export_without_comments_exit_1(cli, tmp_path):
    future = wxr(
        tmp_path, item_xml("a", comment_xml(1, "x")), namespace="http://wordpress.org/export/1.3/"
    )
    result = cli("wxr", str(future))
    assert result.exit_code == 1
    assert "http://wordpress.org/export/1.3/" in result.stderr
    assert "not one of the namespaces WordPress's importer reads" in result.stderr

    empty = wxr(tmp_path, item_xml("a", ""), item_xml("b", ""))
    result = cli("wxr", str(empty))
    assert result.exit_code == 1
    assert "no comments: 2 item(s)" in result.stderr


def test_a_file_of_another_format_exits_2_saying_what_it_looks_like(cli, tmp_path):
    fixtures = FIXTURES
    result = cli("wxr", str(fixtures / "isso-disqus.xml"))
    assert result.exit_code == 2
    assert "not a WordPress export (WXR): it looks like a Disqus export" in result.stderr

    result = cli("remark42", str(fixtures / "isso-0.14-comments.db"))
    assert result.exit_code == 2
    assert "it looks like an Isso database" in result.stderr

    page = tmp_path / "page.html"
    page.write_text("<!DOCTYPE html><html><body>Export</body></html>")
    result = cli("disqus", str(page))
    assert result.exit_code == 2
    assert "it looks like an HTML page" in result.stderr


# ---- source semantics --------------------------------------------------------------------


def test_pending_comments_are_held_for_review_and_never_shown_as_removed(
    sqlite_app, sqlite_database, tmp_path
):
    """A post whose only comment is pending does not show readers a placeholder."""
    path = wxr(
        tmp_path,
        item_xml("only-pending", comment_xml(1, "Wait for me", approved="0")),
        item_xml("mixed", comment_xml(2, "Public") + comment_xml(3, "Pending", approved="0")),
    )

    summary = import_file(sqlite_app, path, "wxr")

    assert summary.held == {"imported-pending": 2}
    assert summary.hidden == 0
    for slug, cid in (("only-pending", 1), ("mixed", 3)):
        pending = get(sqlite_app, slug, cid)
        assert pending.awaiting_review and pending.unpublished
        assert pending.state != "hidden"
        held = stored_events(sqlite_app, pending.id)[-1]
        assert isinstance(held, Comment.Held) and held.rules == ["imported-pending"]
    assert reader_page(sqlite_database, "only-pending")["comments"] == []
    mixed = reader_page(sqlite_database, "mixed")["comments"]
    assert ids(mixed) == [str(get(sqlite_app, "mixed", 2).id)]
    assert all("removed" not in str(node) for node in mixed)


@pytest.mark.parametrize(
    ("status", "password", "rule"),
    [
        ("publish", "s3cret", "imported-password-protected"),
        ("private", "", "imported-private"),
    ],
)
def test_comments_of_protected_or_private_posts_come_in_held_with_the_reason(
    sqlite_app, sqlite_database, tmp_path, status, password, rule
):
    path = wxr(
        tmp_path,
        item_xml(
            "secret",
            comment_xml(1, "Behind the password") + comment_xml(2, "Still pending", approved="0"),
            status=status,
            password=password,
        ),
        item_xml("open", comment_xml(3, "Open")),
    )

    summary = import_file(sqlite_app, path, "wxr")

    assert summary.held == {rule: 1, "imported-pending": 1}
    held = stored_events(sqlite_app, get(sqlite_app, "secret", 1).id)[-1]
    assert isinstance(held, Comment.Held) and held.rules == [rule]
    assert reader_page(sqlite_database, "secret")["comments"] == []
    assert len(reader_page(sqlite_database, "open")["comments"]) == 1
    # Published by approving it, like any comment in the queue.
    sqlite_app.approve_comment(
        sqlite_app.register_author("Mo", role="moderator").author_id,
        get(sqlite_app, "secret", 1).id,
        "the post is public now",
    )
    shown = reader_page(sqlite_database, "secret")["comments"]
    assert ids(shown) == [str(get(sqlite_app, "secret", 1).id)]


def test_a_reply_before_its_parent_in_the_file_is_placed_under_it(sqlite_app, tmp_path):
    path = wxr(
        tmp_path,
        item_xml("late", comment_xml(5, "Reply first", parent=4) + comment_xml(4, "Parent later")),
    )

    summary = import_file(sqlite_app, path, "wxr")

    assert summary.orphans == []
    assert get(sqlite_app, "late", 5).parent_id == get(sqlite_app, "late", 4).id


def test_a_missing_parent_is_reported_by_source_id_and_line(cli, sqlite_app, tmp_path):
    path = wxr(
        tmp_path,
        item_xml("lost", comment_xml(1, "Top") + comment_xml(7, "Whose parent?", parent=99)),
    )
    line = line_of(path, "<wp:comment_id>7<") - 1  # the <wp:comment> line

    result = cli("wxr", str(path))

    assert result.exit_code == 0, result.output
    assert "  orphans: 1" in result.stdout
    assert f"    7 (line {line}): parent 99 missing" in result.stdout
    assert get(sqlite_app, "lost", 7).parent_id is None  # kept, top-level


def test_strict_makes_any_orphan_an_error(cli, sqlite_database, tmp_path):
    path = wxr(
        tmp_path,
        item_xml("fine", comment_xml(1, "Fine")),
        item_xml("lost", comment_xml(7, "Whose parent?", parent=99)),
    )
    line = line_of(path, "<wp:comment_id>7<") - 1

    result = cli("wxr", "--strict", str(path))

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {path}, line {line}: comment 7 replies to 99, which is not in the file"
        " (--strict: orphans are errors)\n"
    )


def test_dry_run_prints_the_full_report_and_writes_nothing(cli, sqlite_database, tmp_path):
    lost = "".join(comment_xml(10 + n, f"orphan {n}", parent=900 + n) for n in range(25))
    path = wxr(
        tmp_path,
        item_xml(
            "a",
            comment_xml(1, "ok")
            + comment_xml(2, "pending", approved="0")
            + comment_xml(3, "spam", approved="spam")
            + comment_xml(4, "bin", approved="trash")
            + lost,
        ),
    )

    result = cli("wxr", "--dry-run", str(path))

    assert result.exit_code == 0, result.output
    assert head(sqlite_database) is None
    out = result.stdout.splitlines()
    assert out[0] == f"dry run of {path} (wxr): nothing written"
    assert "  threads: 1 (1 new, 0 extended, 0 unchanged)" in out
    assert (
        "  comments to import: 27 (hidden 0, retracted 0, held for review 1); already there: 0"
        in out
    )
    assert "  held for review: imported-pending 1" in out
    assert "  skipped: spam 1, trash 1" in out
    assert "  orphans: 25" in out
    listed = [line for line in out if "missing" in line]
    assert len(listed) == 25  # all of them, not the first 20
    assert listed[-1].startswith(f"    34 (line {line_of(path, '<wp:comment_id>34<') - 1}):")


# ---- round trip and repeat ---------------------------------------------------------------


def test_an_interrupted_import_resumed_later_completes_without_duplicates(sqlite_app, tmp_path):
    items = [item_xml(f"p{n}", comment_xml(1, f"first {n}") + comment_xml(2, "r", parent=1))
             for n in range(6)]  # fmt: skip
    path = wxr(tmp_path, *items)
    seen = []

    def interrupt(summary) -> None:
        seen.append(summary.comments)
        if len(seen) == 3:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the file

    with pytest.raises(KeyboardInterrupt):
        import_file(sqlite_app, path, "wxr", on_thread=interrupt)

    again = import_file(sqlite_app, path, "wxr")
    posted = [
        e
        for e in sqlite_app.recorder.select_notifications(start=1, limit=10_000)
        if e.topic.endswith("Comment.Posted")
    ]
    assert len(posted) == 12
    assert again.threads_created + again.threads_unchanged == 6
    assert import_file(sqlite_app, path, "wxr").threads_unchanged == 6


def test_a_truncated_file_names_the_line_and_keeps_the_threads_before(sqlite_app, tmp_path):
    path = wxr(tmp_path, item_xml("a", comment_xml(1, "one")), item_xml("b", comment_xml(2, "two")))
    text = path.read_text()
    cut = text[: text.index("<wp:comment_id>2<")]
    path.write_text(cut)

    with pytest.raises(ImportFormatError) as error:
        import_file(sqlite_app, path, "wxr")

    assert error.value.line == len(cut.splitlines()) + 1 or error.value.line == len(
        cut.splitlines()
    )
    assert get(sqlite_app, "a", 1) is not None


def test_publish_approves_a_protected_posts_comments_and_leaves_the_pending_ones(
    cli, sqlite_database, tmp_path
):
    path = wxr(
        tmp_path,
        item_xml(
            "secret",
            comment_xml(1, "One") + comment_xml(2, "Two", parent=1)
            + comment_xml(3, "Pending", approved="0"),
            password="s3cret",
        ),
    )  # fmt: skip
    assert cli("wxr", str(path)).exit_code == 0
    assert reader_page(sqlite_database, "secret")["comments"] == []

    result = cli("publish", f"{SITE}/secret/")

    assert result.exit_code == 0, result.output
    assert result.stdout == f"{SITE}/secret/: 2 comment(s) approved; 1 left awaiting review\n"
    shown = reader_page(sqlite_database, "secret")["comments"]
    assert len(ids(shown)) == 2 and len(shown) == 1  # the reply under its parent
    again = cli("publish", f"{SITE}/secret/")
    assert again.stdout.endswith(": 0 comment(s) approved; 1 left awaiting review\n")


def test_a_visible_reply_under_a_held_comment_is_counted(sqlite_app, tmp_path):
    """Readers see it once its parent is approved (like WordPress, which does not show
    the replies of a comment it does not show): the report says so."""
    path = wxr(
        tmp_path,
        item_xml(
            "a",
            comment_xml(1, "top") + comment_xml(2, "pending", parent=1, approved="0")
            + comment_xml(3, "reply to pending", parent=2),
        ),
    )  # fmt: skip

    summary = import_file(sqlite_app, path, "wxr")

    assert summary.notes["under a held comment (shown once it is approved)"] == 1


def test_strict_refuses_a_disqus_post_whose_thread_is_missing(cli):
    path = FIXTURES / "isso-disqus.xml"
    result = cli("disqus", "--strict", str(path))
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {path}, line 66: comment 6: thread missing (--strict: orphans are errors)\n"
    )
