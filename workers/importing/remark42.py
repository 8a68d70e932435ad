"""Remark42 comment records: a JSON array of comments, or one JSON record per line
(Remark42's backup format, whose first line -- `{"version": ..., "users": ...}` --
is not a comment and is skipped).

Streamed: the file is read in chunks and decoded one record at a time (a record
may be at most 16 MiB). Comments of a page may be anywhere in the file, so they
are kept as small records until the end, then yielded a thread at a time: memory
grows with the number of comments, not with the file's size.

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

import codecs
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from workers.importing.dates import iso_date
from workers.importing.html_text import html_to_text
from workers.importing.specs import (
    RETRACTED,
    CommentSpec,
    ImportFormatError,
    ImportSummary,
    ThreadSpec,
)
from workers.importing.xmlstream import Progress

CHUNK = 64 * 1024
MAX_RECORD = 16 * 1024 * 1024
_WS = re.compile(r"\s*")
_DECODER = json.JSONDecoder()


def read_remark42(
    path: str | Path, summary: ImportSummary, *, progress: Progress | None = None
) -> Iterator[ThreadSpec]:
    threads: dict[str, ThreadSpec] = {}
    for number, line, record in json_records(path, progress):
        if number == 1 and isinstance(record, dict) and "version" in record and "id" not in record:
            continue  # the backup format's header
        url, title, comment = _comment(path, number, line, record)
        thread = threads.get(url)
        if thread is None:
            thread = threads[url] = ThreadSpec(
                key=url, title=title, at=None, comments=[], source_id=url, line=line
            )
        thread.title = thread.title or title
        thread.comments.append(comment)
    yield from threads.values()


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


def json_records(
    path: str | Path, progress: Progress | None = None
) -> Iterator[tuple[int, int, Any]]:
    """Yields (number, line, value) for each element of a top-level JSON array, or
    each value of a file of concatenated values (JSON Lines), reading in chunks."""
    with open(path, "rb") as file:
        reader = _Reader(path, file, progress)
        first = reader.peek()
        if first == "":
            raise ImportFormatError(path, 1, "the file is empty")
        in_array = first == "["
        if in_array:
            reader.pos += 1
        number = 0
        while True:
            char = reader.peek()
            if in_array and char == "]":
                reader.pos += 1
                if reader.peek() != "":
                    raise ImportFormatError(
                        path, reader.line_at(reader.pos), "text after the end of the array"
                    )
                return
            if char == "":
                if in_array:
                    raise ImportFormatError(
                        path, reader.line_at(reader.pos), "the file ends inside the array"
                    )
                return
            if in_array and number:
                if char != ",":
                    raise ImportFormatError(
                        path,
                        reader.line_at(reader.pos),
                        f"JSON syntax error: expected ',' or ']' after record {number}",
                    )
                reader.pos += 1
                reader.peek()
            number += 1
            line = reader.line_at(reader.pos)
            yield number, line, reader.value(number)


class _Reader:
    def __init__(self, path, file: BinaryIO, progress: Progress | None):
        self.path = path
        self.file = file
        self.progress = progress
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.buffer = ""
        self.pos = 0
        self.line = 1  # the line at the start of the buffer
        self.eof = False

    def more(self) -> bool:
        if self.eof:
            return False
        chunk = self.file.read(CHUNK)
        if self.progress is not None and chunk:
            self.progress(len(chunk))
        try:
            text = self.decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as error:
            raise ImportFormatError(
                self.path, self.line_at(len(self.buffer)), f"not UTF-8: {error.reason}"
            ) from None
        self.eof = not chunk
        self.line += self.buffer.count("\n", 0, self.pos)
        self.buffer = self.buffer[self.pos :] + text
        self.pos = 0
        return not self.eof

    def peek(self) -> str:
        """The next non-blank character ("" at the end of the file)."""
        while True:
            self.pos = _WS.match(self.buffer, self.pos).end()
            if self.pos < len(self.buffer) or not self.more():
                return self.buffer[self.pos : self.pos + 1]

    def line_at(self, pos: int) -> int:
        return self.line + self.buffer.count("\n", 0, pos)

    def value(self, number: int) -> Any:
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buffer, self.pos)
            except json.JSONDecodeError as error:
                # An error near the end of the buffer may just be the chunk's end.
                truncated = error.pos >= len(self.buffer) - 64 or error.msg.startswith(
                    "Unterminated string"
                )
                if self.eof or not truncated:
                    raise ImportFormatError(
                        self.path,
                        self.line_at(error.pos),
                        f"JSON syntax error in record {number}: {error.msg}",
                    ) from None
                if len(self.buffer) - self.pos > MAX_RECORD:
                    raise ImportFormatError(
                        self.path,
                        self.line_at(self.pos),
                        f"record {number} is larger than {MAX_RECORD // 2**20} MiB",
                    ) from None
                self.more()
                continue
            if end == len(self.buffer) and not self.eof and not isinstance(value, dict | list):
                self.more()  # a number or literal may go on in the next chunk
                continue
            self.pos = end
            return value
