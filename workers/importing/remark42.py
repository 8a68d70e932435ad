"""Remark42 comment records: a JSON array of comments, or one JSON record per line
(Remark42's backup format, whose first line -- `{"version": ..., "users": ...}` --
is not a comment and is skipped).

Streamed: the file is read in chunks and decoded one record at a time (a record
may be at most 16 MiB). Comments of a page may be anywhere in the file, so they
are spooled to disk (`spool.CommentSpool`) until the end, then yielded a thread at
a time: memory holds one thread (and a title per page), whatever the file's size.

A record is a comment: `id`, `pid` (parent id, "" for none), `text` (rendered
HTML, whitespace collapsed like a browser), `user.name` (else `user.id`),
`locator.url` (the thread's key), `time` (RFC 3339), `delete` (true: imported
retracted with a placeholder text, never the deleted words; its replies stay),
`title` (the page's title, if given; else the URL).

Malformed records stop the import with an error naming the record (its number
and line): not an object, no `id`, no `locator.url`, an unreadable `time`, a
`text` that is not a string. A parent that is not in the thread makes the reply
top-level (a note). No `time`: imported undated (see the writer).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workers.importing.dates import iso_date
from workers.importing.html_text import html_to_text
from workers.importing.jsonstream import json_records
from workers.importing.specs import (
    RETRACTED,
    CommentSpec,
    ImportFormatError,
    ImportSummary,
    ThreadSpec,
)
from workers.importing.spool import CommentSpool
from workers.importing.xmlstream import Progress


def read_remark42(
    path: str | Path, summary: ImportSummary, *, progress: Progress | None = None
) -> Iterator[ThreadSpec]:
    pages: dict[str, ThreadSpec] = {}  # url -> the thread without its comments
    with CommentSpool() as spool:
        for number, line, record in json_records(path, progress):
            header = isinstance(record, dict) and "version" in record and "id" not in record
            if number == 1 and header:
                continue  # the backup format's header
            url, title, comment = _comment(path, number, line, record)
            page = pages.get(url)
            if page is None:
                page = pages[url] = ThreadSpec(
                    key=url, title=title, at=None, comments=[], source_id=url, line=line
                )
            page.title = page.title or title
            spool.add(url, comment)
        for url, page in pages.items():
            page.comments = spool.comments([url])
            yield page


def _comment(path, number: int, line: int, record: Any) -> tuple[str, str, CommentSpec]:
    what = f"record {number}"
    if not isinstance(record, dict):
        raise ImportFormatError(path, line, f"{what} is not a JSON object")
    source_id = str(record.get("id") or "").strip()
    if not source_id:
        raise ImportFormatError(path, line, f"{what} has no id")
    what = f"record {number} (id {source_id})"
    locator = record.get("locator")
    url = str(locator.get("url") or "").strip() if isinstance(locator, dict) else ""
    if not url:
        raise ImportFormatError(path, line, f"{what} has no locator.url")
    text = record.get("text") or ""
    if not isinstance(text, str):
        raise ImportFormatError(path, line, f"{what}: text is not a string")
    try:
        at = iso_date(str(record.get("time") or ""))
    except ValueError as error:
        raise ImportFormatError(path, line, f"{what}: {error}") from None
    user = record.get("user") if isinstance(record.get("user"), dict) else {}
    deleted = bool(record.get("delete"))
    comment = CommentSpec(
        source_id=source_id,
        parent_source_id=str(record.get("pid") or "").strip() or None,
        author_name=str(user.get("name") or user.get("id") or ""),
        text="" if deleted else html_to_text(text),
        at=at,
        line=line,
    )
    if deleted:
        comment.state, comment.reason = RETRACTED, "deleted in source"
    return url, str(record.get("title") or ""), comment
