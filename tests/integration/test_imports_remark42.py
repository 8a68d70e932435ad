"""`discuss import remark42`: Remark42 comment records (shared/fixtures/import)."""

# ruff: noqa: RUF001 -- the real exports' Cyrillic letters and typographic quotes

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import pytest

from domain.application import Discussions
from domain.model import RETRACTED, Comment, Thread
from domain.settings import Database
from projections.setup import open_application
from tests.support.store import readable
from workers.importing import jsonstream, remark42
from workers.importing.run import import_file
from workers.importing.specs import ImportFormatError
from workers.importing.writer import RETRACTED_TEXT, comment_id

FIXTURES = Path(os.environ.get("DISCUSS_FIXTURES", "/work/shared/fixtures")) / "import"
RECORDS = FIXTURES / "remark42-comments.json"
PAGE = "https://radio-t.com/p/2017/12/16/podcast-576/"


@pytest.fixture
def app(sqlite_database: Database):
    application = open_application(sqlite_database)
    yield application
    application.close()


def records() -> list[dict]:
    return json.loads(RECORDS.read_text(encoding="utf-8"))


def stored(app: Discussions, source_id: str) -> Comment:
    return readable(app, app.repository.get(comment_id("remark42", PAGE, source_id)))


def depth(app: Discussions, item: Comment) -> int:
    levels = 0
    while item.parent_id is not None:
        item = app.repository.get(item.parent_id)
        levels += 1
    return levels


def all_states(app: Discussions) -> list[bytes]:
    return [n.state for n in app.recorder.select_notifications(start=1, limit=100_000)]


def write(tmp_path: Path, text: str, name: str = "records.json") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_every_record_comes_in_with_its_parent_date_author_and_plain_text(app):
    summary = import_file(app, RECORDS, "remark42")

    data = records()
    assert (summary.threads_created, summary.comments, summary.authors) == (1, 58, 38)
    assert not summary.skipped and not summary.notes
    thread = app.repository.get(Thread.id_for_key(PAGE))
    assert thread.title == PAGE  # the records carry no title
    assert thread.created_on == min(datetime.fromisoformat(r["time"]) for r in data)
    for record in data:
        item = stored(app, record["id"])
        assert item.thread_id == thread.id
        parent = comment_id("remark42", PAGE, record["pid"]) if record["pid"] else None
        assert item.parent_id == parent, record["id"]
        assert item.created_on == datetime.fromisoformat(record["time"]), record["id"]
        assert app.display_name(app.repository.get(item.author_id)) == record["user"]["name"]
        assert "<p>" not in item.text and "<br>" not in item.text and "&#" not in item.text
    replies = [r for r in data if r["pid"]]
    assert len(replies) == 31
    assert max(depth(app, stored(app, r["id"])) for r in replies) == 3  # 4 levels

    first = stored(app, "3665976683")
    assert first.text == "Новая реклама - позор! Отписка, немедленно!!111"
    assert str(first.created_on) == "2017-12-17 04:47:50+00:00"
    assert '"Увеличение члена"' in stored(app, "3666132431").text
    assert stored(app, "3666702637").text.startswith("Полнейший восторг!\nОбожаю вас ребята!)\n")
    assert "https://hyper.is/ который" in stored(app, "3665991835").text

    before = app.recorder.max_notification_id()
    again = import_file(app, RECORDS, "remark42")
    assert app.recorder.max_notification_id() == before
    assert (again.comments, again.present) == (0, 58)


def test_a_deleted_record_is_a_placeholder_whose_words_are_nowhere(app, tmp_path):
    data = records()
    target = next(r for r in data if r["id"] == "3665976683")
    target["delete"] = True
    path = write(tmp_path, json.dumps(data, ensure_ascii=False))
    summary = import_file(app, path, "remark42")

    assert (summary.comments, summary.retracted) == (58, 1)
    deleted = stored(app, "3665976683")
    assert (deleted.state, deleted.text) == (RETRACTED, RETRACTED_TEXT)
    children = [r["id"] for r in data if r["pid"] == "3665976683"]
    assert len(children) >= 2
    assert {stored(app, c).parent_id for c in children} == {deleted.id}
    words = "Новая реклама - позор!".encode()  # (a reply parodies the first two words)
    assert not any(words in state for state in all_states(app))


def test_json_lines_with_a_backup_header_read_the_same_records(app, tmp_path):
    """Remark42's backup format: a header line, then one record per line. Same ids, so
    after the array's import nothing is new."""
    lines = [json.dumps({"version": 1, "users": [], "posts": []})]
    lines += [json.dumps(record, ensure_ascii=False) for record in records()]
    path = write(tmp_path, "\n".join(lines) + "\n", "backup.jsonl")

    first = import_file(app, path, "remark42")
    assert (first.comments, first.threads_created) == (58, 1)
    before = app.recorder.max_notification_id()
    assert import_file(app, RECORDS, "remark42").present == 58
    assert app.recorder.max_notification_id() == before


def test_the_reader_streams_across_chunk_boundaries(monkeypatch):
    monkeypatch.setattr(jsonstream, "CHUNK", 7)  # every record spans many reads
    read = list(remark42.json_records(RECORDS))
    assert [value for _, _, value in read] == records()
    text = RECORDS.read_text(encoding="utf-8").splitlines()
    for number, line, _ in read:
        assert text[line - 1].strip() in ("[{", "{"), (number, line)
    assert read[1][:2] == (2, 22)


@pytest.mark.parametrize(
    ("mend", "message"),
    [
        (lambda r: r.pop("id"), "record 30 has no id"),
        (lambda r: r.update(locator={"site": "site"}), "record 30 (id {id}) has no locator.url"),
        (lambda r: r.update(time="yesterday"),
         "record 30 (id {id}): the date 'yesterday' is not an ISO 8601 date"),
        (lambda r: r.update(text=["not", "text"]), "record 30 (id {id}): text is not a string"),
    ],
)  # fmt: skip
def test_a_malformed_record_is_named_and_nothing_is_imported(app, tmp_path, mend, message):
    data = records()
    source_id = data[29]["id"]
    mend(data[29])
    path = write(tmp_path, json.dumps(data, ensure_ascii=False, indent=1))
    with pytest.raises(ImportFormatError) as raised:
        import_file(app, path, "remark42")

    text = path.read_text(encoding="utf-8").splitlines()
    starts = [n for n, line in enumerate(text, 1) if line in (" {", "[ {", "[{")]
    assert raised.value.line == starts[29]
    assert raised.value.message == message.format(id=source_id)
    assert app.recorder.max_notification_id() is None  # one page: nothing of it


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('[{"id": "1", "locator": {"url": "u"}},\n {"id": "2",\n  "pid": }]', 3,
         "JSON syntax error in record 2: Expecting value"),
        ('[{"id": "1", "locator": {"url": "u"}} {"id": "2"}]', 1,
         "JSON syntax error: expected ',' or ']' after record 1"),
        ('[\n"text"\n]', 2, "record 1 is not a JSON object"),
        ("", 1, "the file is empty"),
        ('[{"id": "1", "locator": {"url": "u"}}', 1, "the file ends inside the array"),
    ],
)  # fmt: skip
def test_json_syntax_errors_name_the_line(app, tmp_path, text, line, message):
    with pytest.raises(ImportFormatError) as raised:
        import_file(app, write(tmp_path, text), "remark42")
    assert (raised.value.line, raised.value.message) == (line, message)
