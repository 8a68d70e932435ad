"""Stream JSON files a record at a time, with the line each record starts on.

`json.JSONDecoder.raw_decode` over a buffer refilled in chunks: a record (at most
MAX_RECORD) is decoded when complete, so memory holds one record, whatever the
file's size, and every error names its line. Written here rather than taken from
`ijson` because ijson reports byte offsets, not lines, and the messages of every
importer name the line.

- `json_records`: the elements of a top-level array, or concatenated values
  (JSON Lines);
- `json_members`: the members of a top-level object, each element of an array
  member yielded on its own (Commento's `{"version": 1, "comments": [...],
  "commenters": [...]}`).
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from workers.importing.specs import ImportFormatError
from workers.importing.xmlstream import Progress

CHUNK = 64 * 1024
MAX_RECORD = 16 * 1024 * 1024
_WS = re.compile(r"\s*")
_DECODER = json.JSONDecoder()


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


def json_members(
    path: str | Path, progress: Progress | None = None
) -> Iterator[tuple[str, int, int, Any]]:
    """Yields (key, number, line, value) for a top-level object: each element of an
    array member as (key, 1, 2, ...), any other member once as (key, 0, line, value)."""
    with open(path, "rb") as file:
        reader = _Reader(path, file, progress)
        if reader.peek() != "{":
            raise ImportFormatError(path, 1, "not a JSON object")
        reader.pos += 1
        first = True
        while True:
            char = reader.peek()
            if char == "}":
                reader.pos += 1
                if reader.peek() != "":
                    raise ImportFormatError(
                        path, reader.line_at(reader.pos), "text after the end of the object"
                    )
                return
            if char == "":
                raise ImportFormatError(
                    path, reader.line_at(reader.pos), "the file ends inside the object"
                )
            if not first:
                if char != ",":
                    raise ImportFormatError(
                        path, reader.line_at(reader.pos), "JSON syntax error: expected ',' or '}'"
                    )
                reader.pos += 1
                reader.peek()
            first = False
            line = reader.line_at(reader.pos)
            key = reader.value(0)
            if not isinstance(key, str) or reader.peek() != ":":
                raise ImportFormatError(path, line, "JSON syntax error: expected a member name")
            reader.pos += 1
            if reader.peek() != "[":
                yield key, 0, reader.line_at(reader.pos), reader.value(0)
                continue
            reader.pos += 1
            number = 0
            while True:
                char = reader.peek()
                if char == "]":
                    reader.pos += 1
                    break
                if char == "":
                    raise ImportFormatError(
                        path, reader.line_at(reader.pos), f"the file ends inside {key!r}"
                    )
                if number:
                    if char != ",":
                        raise ImportFormatError(
                            path,
                            reader.line_at(reader.pos),
                            f"JSON syntax error: expected ',' or ']' after {key} {number}",
                        )
                    reader.pos += 1
                    reader.peek()
                number += 1
                yield key, number, reader.line_at(reader.pos), reader.value(number)


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
