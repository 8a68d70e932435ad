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
the comments, so both are spooled to disk (`spool.CommentSpool`), then the threads
are read back one page at a time: memory stays flat.

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
from workers.importing.spool import CommentSpool
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
    with CommentSpool() as spool:
        _spool(path, summary, spool, (base_url or "").rstrip("/"), progress)
        yield from _threads(spool, summary)


def _spool(
    path: str | Path,
    summary: ImportSummary,
    spool: CommentSpool,
    base_url: str,
    progress: Progress | None,
) -> None:
    version = None
    for member, number, line, value in json_members(path, progress):
        if member == "version":
            version = value
        elif member == "comments" and number:
            key = _key(path, line, number, value, base_url)
            spool.add(key, _comment(path, line, value, summary))
            summary.found["comments"] += 1
        elif member == "commenters" and number and isinstance(value, dict):
            if value.get("commenterHex"):
                spool.name(str(value["commenterHex"]), str(value.get("name") or ""))
            summary.found["commenters"] += 1
    if version is not None and version not in VERSIONS:
        raise ImportFormatError(
            path, None, f"Commento export version {version!r}; this importer reads version 1"
        )


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


def _threads(spool: CommentSpool, summary: ImportSummary) -> Iterator[ThreadSpec]:
    for key in spool.groups():
        comments = spool.comments([key])
        for comment in comments:  # author_name holds the commenterHex until now
            if comment.author_name:
                name = spool.name(comment.author_name)
                if name is None:
                    summary.notes["commenter not in the export (imported as Anonymous)"] += 1
                comment.author_name = name or ""
        yield ThreadSpec(
            key=key, title="", at=None, comments=comments, source_id=key, line=comments[0].line
        )


def _comment(path: str | Path, line: int, record: dict, summary: ImportSummary) -> CommentSpec:
    """The comment, its author still named by commenterHex ("" if anonymous)."""
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
    spec = CommentSpec(
        source_id=source_id,
        parent_source_id=None if parent in ("", ROOT) else parent,
        author_name="" if commenter == ANONYMOUS else commenter,
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
