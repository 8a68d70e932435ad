"""Commento / Commento++ JSON export: `{"version": 1, "comments": [...], "commenters": [...]}`.

Where the shape comes from: Commento's own export, `domainExportBegin` in
api/domain_export.go of github.com/adtac/commento (the `dataExport` struct:
version 1, `comments` and `commenters`, marshalled by Go's encoding/json, gzipped
for download), with the `comment` struct of api/comment.go (commentHex, domain,
url -- the page's path --, commenterHex, markdown, html, parentHex, score, state,
creationDate, direction, deleted) and the `commenter` struct of api/commenter.go
(commenterHex, email, name, link, photo, provider, joinDate, isModerator).
Commento's importer of its own format (api/domain_import_commento.go) reads the
same shape and requires version 1; Commento++ (souramoo/commentoplusplus) is a
fork that keeps these structs. Values, from the same source: `parentHex` is
"root" for a top-level comment; `state` is "approved", "unapproved" (waiting
for moderation) or "flagged" (marked as spam by Akismet); a deleted comment
keeps its row with `deleted` true, markdown "[deleted]" and commenterHex
"anonymous" (api/comment_delete.go); anonymous comments have commenterHex
"anonymous". The export selects no `html` (it is empty) and no titles.

Streamed: the file is decoded a record at a time (`jsonstream.json_members`).
Comments of a page may be anywhere, and the commenters (their names) come after
the comments, so both are spooled to a temporary SQLite file on disk, then the
threads are read back one page at a time: memory stays flat.

Decisions: the key is `base_url` + `url` if a base is given, else
"https://" + `domain` + `url` (Commento stores the host without a scheme);
"approved" visible, "unapproved" held for review ("imported-pending"), "flagged"
skipped as spam, any other state held ("imported-no-status"); deleted comments
retracted with the placeholder text (their replies keep their place); the text is
`markdown` as typed (else `html` converted); the author is the commenter's
`name`, "Anonymous" for "anonymous" or an unknown commenter (counted). Not kept,
and counted: `score` (no votes here), commenters' email, link and photo.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workers.importing.dates import iso_date
from workers.importing.html_text import html_to_text
from workers.importing.jsonstream import json_members
from workers.importing.specs import (
    HELD,
    NO_STATUS_IN_SOURCE,
    PENDING_IN_SOURCE,
    RETRACTED,
    CommentSpec,
    ImportFormatError,
    ImportSummary,
    ThreadSpec,
)
from workers.importing.xmlstream import Progress

ROOT = "root"
ANONYMOUS = "anonymous"
DELETED_TEXT = "[deleted]"
VERSIONS = (1,)


def read_commento(
    path: str | Path,
    summary: ImportSummary,
    *,
    base_url: str | None = None,
    progress: Progress | None = None,
) -> Iterator[ThreadSpec]:
    with tempfile.TemporaryDirectory(prefix="commento-import-") as scratch:
        spool = sqlite3.connect(Path(scratch) / "spool.db")
        try:
            _spool(path, summary, spool, (base_url or "").rstrip("/"), progress)
            yield from _threads(path, spool, summary)
        finally:
            spool.close()


def _spool(
    path: str | Path,
    summary: ImportSummary,
    spool: sqlite3.Connection,
    base_url: str,
    progress: Progress | None,
) -> None:
    spool.executescript(
        "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
        "CREATE TABLE comments (seq INTEGER PRIMARY KEY, key TEXT, line INTEGER, commenter TEXT,"
        " record TEXT);"
        "CREATE INDEX comments_key ON comments (key, seq);"
        "CREATE TABLE commenters (hex TEXT PRIMARY KEY, name TEXT);"
    )
    version = None
    for member, number, line, value in json_members(path, progress):
        if member == "version":
            version = value
        elif member == "comments" and number:
            key = _key(path, line, number, value, base_url)
            spool.execute(
                "INSERT INTO comments (key, line, commenter, record) VALUES (?, ?, ?, ?)",
                (key, line, str(value.get("commenterHex") or ANONYMOUS), json.dumps(value)),
            )
            summary.found["comments"] += 1
        elif member == "commenters" and number and isinstance(value, dict):
            if value.get("commenterHex"):
                spool.execute(
                    "INSERT OR REPLACE INTO commenters VALUES (?, ?)",
                    (str(value["commenterHex"]), str(value.get("name") or "")),
                )
            summary.found["commenters"] += 1
    if version is not None and version not in VERSIONS:
        raise ImportFormatError(
            path, None, f"Commento export version {version!r}; this importer reads version 1"
        )
    spool.commit()


def _key(path, line: int, number: int, record: Any, base_url: str) -> str:
    if not isinstance(record, dict):
        raise ImportFormatError(path, line, f"comment {number} is not a JSON object")
    if not str(record.get("commentHex") or "").strip():
        raise ImportFormatError(path, line, f"comment {number} has no commentHex")
    page = str(record.get("url") or "").strip()
    if not page:
        raise ImportFormatError(
            path, line, f"comment {record['commentHex']} has no url (the page's path)"
        )
    if base_url and page.startswith("/"):
        return base_url + page
    domain = str(record.get("domain") or "").strip().rstrip("/")
    if domain and page.startswith("/"):
        return f"https://{domain}{page}"
    return page


def _threads(
    path: str | Path, spool: sqlite3.Connection, summary: ImportSummary
) -> Iterator[ThreadSpec]:
    pages = spool.execute("SELECT key, min(seq) AS first FROM comments GROUP BY key ORDER BY first")
    for key, _ in pages:
        rows = spool.execute(
            "SELECT c.line, c.record, a.name, a.hex IS NOT NULL FROM comments c"
            " LEFT JOIN commenters a ON a.hex = c.commenter WHERE c.key = ? ORDER BY c.seq",
            (key,),
        ).fetchall()
        comments = [
            _comment(path, line, json.loads(record), name, known, summary)
            for line, record, name, known in rows
        ]
        yield ThreadSpec(
            key=key, title="", at=None, comments=comments, source_id=key, line=rows[0][0]
        )


def _comment(
    path: str | Path,
    line: int,
    record: dict,
    name: str | None,
    known: bool,
    summary: ImportSummary,
) -> CommentSpec:
    source_id = str(record["commentHex"]).strip()
    parent = str(record.get("parentHex") or ROOT).strip()
    commenter = str(record.get("commenterHex") or ANONYMOUS)
    markdown = record.get("markdown") or ""
    html = record.get("html") or ""
    text = markdown if isinstance(markdown, str) and markdown else ""
    if not text and isinstance(html, str):
        text = html_to_text(html)
    try:
        at = iso_date(str(record.get("creationDate") or ""))
    except ValueError as error:
        raise ImportFormatError(path, line, f"comment {source_id}: {error}") from None
    if commenter != ANONYMOUS and not known:
        summary.notes["commenter not in the export (imported as Anonymous)"] += 1
    spec = CommentSpec(
        source_id=source_id,
        parent_source_id=None if parent in ("", ROOT) else parent,
        author_name=(name or "") if commenter != ANONYMOUS else "",
        text=text,
        at=at,
        line=line,
    )
    state = str(record.get("state") or "").strip().lower()
    if record.get("deleted") is True or (markdown == DELETED_TEXT and commenter == ANONYMOUS):
        spec.state, spec.reason, spec.text = RETRACTED, "deleted in source", ""
    elif state == "flagged":
        spec.skip = "spam"
    elif state == "unapproved":
        spec.state, spec.reason = HELD, PENDING_IN_SOURCE
    elif state != "approved":
        spec.state, spec.reason = HELD, NO_STATUS_IN_SOURCE
    if record.get("score"):
        summary.skipped["score (no votes here)"] += 1
    return spec
