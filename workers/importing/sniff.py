"""What a file looks like, from its first bytes: to refuse a file of another format.

`discuss import FORMAT FILE` checks this before reading: a file that plainly is
something else (a Disqus export named as WordPress, a SQLite database named as
JSON, an HTML page...) stops with exit status 2 and a sentence saying what the
file looks like, instead of importing nothing or failing on some later record.

Only the start of the file is read (SNIFF_BYTES), so this is a guess by shape:
the XML root element and the namespaces declared on it, the first JSON keys, the
SQLite magic string and tables. A file that passes may still be malformed further
on; the readers say where.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from workers.importing.specs import NotThisFormat, SourceUnreadable

SNIFF_BYTES = 64 * 1024
SQLITE_MAGIC = b"SQLite format 3\x00"

# Format -> its name in messages.
NAMES = {
    "wxr": "a WordPress export (WXR)",
    "disqus": "a Disqus export",
    "remark42": "Remark42 comment records",
    "commento": "a Commento/Commento++ export",
    "isso": "an Isso database",
}

_ROOT = re.compile(rb"<([A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)([^>]*)>", re.S)
_XMLNS = re.compile(rb"""xmlns(?::[\w.-]+)?\s*=\s*["']([^"']*)["']""")
_SKIP = re.compile(rb"\s*(<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>)", re.S)


def looks_like(path: str | Path) -> tuple[str | None, str]:
    """(the format it looks like, or None; a description for a message)."""
    with open(path, "rb") as file:
        head = file.read(SNIFF_BYTES)
    if head.startswith(SQLITE_MAGIC):
        return _sqlite(path)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text:
        return None, "an empty file"
    if text[:1] == b"<":
        return _xml(text)
    if text[:1] in (b"{", b"["):
        return _json(text)
    if head[:2] == b"\x1f\x8b":
        return None, "a gzip-compressed file (decompress it first: gunzip FILE)"
    return None, f"neither XML, JSON nor SQLite (it starts with {text[:24]!r})"


FAMILIES = {"wxr": "xml", "disqus": "xml", "remark42": "json", "commento": "json", "isso": "sqlite"}


def check_format(path: str | Path, source_format: str) -> None:
    """Raise NotThisFormat (exit status 2) if the file is plainly not `source_format`:
    another known format, or another kind of file (XML for a JSON format, HTML, a
    database...). A file of the right kind that is merely broken or empty is left
    to the reader, whose error names the line."""
    kind, description = looks_like(path)
    if kind == source_format:
        return
    if kind is None and _family(description) in (FAMILIES.get(source_format), None):
        return
    raise NotThisFormat(
        path, None, f"not {NAMES.get(source_format, source_format)}: it looks like {description}"
    )


def _xml(text: bytes) -> tuple[str | None, str]:
    position = 0
    while match := _SKIP.match(text, position):
        position = match.end()
    root = _ROOT.search(text, position)
    if root is None:
        return None, "XML without a root element in its first 64 KiB"
    name = root.group(2).decode("utf-8", "replace")
    namespaces = [uri.decode("utf-8", "replace") for uri in _XMLNS.findall(root.group(3))]
    if name.lower() == "html":
        return None, "an HTML page, not an export"
    if name == "disqus":
        return "disqus", "a Disqus export (root element <disqus>)"
    if name == "rss":
        wordpress = [uri for uri in namespaces if "wordpress.org/export/" in uri]
        if wordpress:
            return "wxr", f"a WordPress export (namespace {wordpress[0]})"
        declared = ", ".join(namespaces) or "none"
        # Let the WXR reader say what is missing, with the namespaces it finds.
        return "wxr", f"an RSS feed without WordPress's export namespace (namespaces: {declared})"
    return None, f"an XML document with root element <{name}>"


def _json(text: bytes) -> tuple[str | None, str]:
    sample = text[:4096]
    if text[:1] == b"{" and (b'"commentHex"' in text or b'"commenters"' in text):
        return "commento", "a Commento/Commento++ export (commentHex, commenters)"
    if b'"locator"' in text or (b'"version"' in sample and b'"users"' in sample):
        return "remark42", "Remark42 comment records (locator, pid)"
    keys = re.findall(rb'"([\w.-]{1,40})"\s*:', sample)[:6]
    shown = ", ".join(k.decode() for k in dict.fromkeys(keys)) or "no keys"
    return None, f"JSON of another shape (first keys: {shown})"


def _sqlite(path: str | Path) -> tuple[str | None, str]:
    try:
        connection = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
        try:
            tables = {
                row[0]
                for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        finally:
            connection.close()
    except sqlite3.Error as error:
        raise SourceUnreadable(path, None, unreadable_database(error)) from None
    if {"threads", "comments"} <= tables and "preferences" in tables:
        return "isso", "an Isso database (tables threads, comments, preferences)"
    if "stored_events" in tables or any(t.endswith("_events") for t in tables):
        return None, "an event store (this product's own database), not an export"
    return None, f"a SQLite database with tables {', '.join(sorted(tables)) or 'none'}"


def unreadable_database(error: sqlite3.Error) -> str:
    """The message for a SQLite database that cannot be read, with what to do."""
    text = str(error)
    if "locked" in text or "busy" in text:
        return (
            f"the database is locked ({text}): another program is writing to it; stop it"
            " (or copy the file while it is stopped) and import again"
        )
    return f"the database cannot be read: {text}"


def _family(description: str) -> str | None:
    """The kind of file a description of an unrecognised file names (None: unknown)."""
    if description.startswith(("an XML", "XML")):
        return "xml"
    if description.startswith("JSON"):
        return "json"
    if description.startswith(("an HTML", "a gzip", "a SQLite", "an event store")):
        return "other"
    return None  # empty or unreadable text: the reader says where
