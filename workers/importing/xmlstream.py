"""Stream an XML file as start/end events with the line each one happened on.

`xml.etree.ElementTree.XMLPullParser` (the C parser behind `iterparse`) is fed the
file a line at a time (at most 64 KiB at a time, so a file on one line is still
streamed); every event read after feeding a piece of line N happened on line N.
That gives records their line numbers for error messages, which `iterparse`
does not. Readers remove each record from the tree once read, so memory stays
flat.

Entities: expat does not fetch external entities, and limits entity expansion
(billion laughs) since 2.4.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

from workers.importing.specs import ImportFormatError

CHUNK = 64 * 1024
Progress = Callable[[int], None]


def xml_events(
    path: str | Path, progress: Progress | None = None, namespaces: set[str] | None = None
) -> Iterator[tuple[int, list[tuple[str, ET.Element]]]]:
    """Yields (line, events): the ("start" or "end", element) events of a line, in
    order (lines without events are left out). Syntax errors raise ImportFormatError
    with the line and column. `namespaces`, if given, receives every namespace URI
    the file declares (to say what a file holds when it is not what was expected)."""
    kinds = ("start", "end") if namespaces is None else ("start", "end", "start-ns")
    parser = ET.XMLPullParser(events=kinds)
    line = 1
    unreported = 0
    with open(path, "rb") as file:
        while True:
            chunk = file.readline(CHUNK)
            try:
                if chunk:
                    parser.feed(chunk)
                else:
                    parser.close()
                events = list(parser.read_events())  # raises the feed's syntax errors
                if namespaces is not None:
                    namespaces.update(v[1] for kind, v in events if kind == "start-ns")
                    events = [e for e in events if e[0] != "start-ns"]
            except ET.ParseError as error:
                raise _syntax_error(path, error) from None
            if events:
                yield line, events
            if not chunk:
                break
            if chunk.endswith(b"\n"):
                line += 1
            unreported += len(chunk)
            if progress is not None and unreported >= CHUNK:
                progress(unreported)
                unreported = 0
    if progress is not None and unreported:
        progress(unreported)


def _syntax_error(path: str | Path, error: ET.ParseError) -> ImportFormatError:
    line, column = getattr(error, "position", (None, -1))
    message = str(error).rsplit(": line ", 1)[0]
    return ImportFormatError(path, line, f"XML syntax error at column {column + 1}: {message}")


def local_name(tag: str) -> str:
    return tag[tag.rfind("}") + 1 :]


def text_of(element: ET.Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""
