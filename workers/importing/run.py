"""One import run: a file, its reader, the writer, and the record of the run.

First the file's shape is checked against the format named (`sniff`: another
format stops the run with exit status 2 and what the file looks like). A run that
finds no comment at all stops with an error saying what it found: an import that
brought nothing never passes for one that worked. A dry run reads and resolves
everything, reads the store to say what is there already, and writes nothing.

The run is recorded (an `ImportRun`, see domain/imports.py) only when it changed
something: importing the same file again records nothing at all. A run that fails
on a malformed record after importing some threads is recorded too, with the
error, so that what it did is on file; the threads before the bad record stay
imported (each thread is atomic), the bad record's thread has nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import partial
from pathlib import Path

from domain.application import Discussions
from domain.imports import record_import
from domain.model import OPERATOR_ID
from workers.importing.commento import read_commento
from workers.importing.disqus import read_disqus
from workers.importing.isso import read_isso
from workers.importing.remark42 import read_remark42
from workers.importing.sniff import check_format
from workers.importing.specs import ImportFormatError, ImportSummary
from workers.importing.writer import ThreadWriter
from workers.importing.wxr import read_wxr

READERS = {
    "wxr": read_wxr,
    "disqus": read_disqus,
    "remark42": read_remark42,
    "isso": read_isso,
    "commento": read_commento,
}
MAX_ORPHANS_RECORDED = 1000


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def import_file(
    app: Discussions,
    path: str | Path,
    source_format: str,
    *,
    include_pings: bool = False,
    base_url: str | None = None,
    dry_run: bool = False,
    strict: bool = False,
    progress: Callable[[int], None] | None = None,
    on_thread: Callable[[ImportSummary], None] | None = None,
    operator: str | None = None,
) -> ImportSummary:
    """Import a file; raises ImportFormatError (after recording what was done, if
    anything) when the file or a record is malformed, NotThisFormat when the file is
    another format, SourceUnreadable when a source database cannot be read.

    `strict`: an orphan (a reply whose parent is not in the file) stops the run.
    `dry_run`: the full report, nothing written (no ImportRun either)."""
    if source_format not in READERS:
        raise ValueError(f"unknown format {source_format!r}; known: {sorted(READERS)}")
    path = Path(path)
    check_format(path, source_format)
    sha256 = file_sha256(path)
    summary = ImportSummary(source_format, dry_run=dry_run)
    reader = READERS[source_format]
    if source_format == "wxr":
        reader = partial(reader, include_pings=include_pings)
    elif source_format in ("isso", "commento"):
        reader = partial(reader, base_url=base_url)
    writer = ThreadWriter(app, summary, path, strict=strict)
    record = partial(
        record_import,
        app,
        source_format=source_format,
        file_name=str(path.resolve()),
        file_sha256=sha256,
        operator=operator,
        actor_id=OPERATOR_ID,
    )
    comments = 0
    try:
        for spec in reader(path, summary, progress=progress):
            comments += len(spec.comments)
            _check_strict(path, summary, strict)  # e.g. Disqus posts without their thread
            writer.write(spec)
            if on_thread is not None:
                on_thread(summary)
        _check_strict(path, summary, strict)
        if not comments:
            found = ", ".join(f"{n} {what}" for what, n in sorted(summary.found.items()))
            raise ImportFormatError(
                path, None, f"no comments found ({found or 'nothing recognisable'})"
            )
    except ImportFormatError as error:
        writer.finish()  # the complete threads before the bad record
        if summary.changed and not dry_run:
            record(
                counts=summary.counts(),
                orphans=summary.orphans[:MAX_ORPHANS_RECORDED],
                error=str(error),
            )
        raise
    writer.finish()
    if summary.changed and not dry_run:
        summary.position = record(
            counts=summary.counts(), orphans=summary.orphans[:MAX_ORPHANS_RECORDED], error=None
        )
    return summary


def _check_strict(path: Path, summary: ImportSummary, strict: bool) -> None:
    if strict and summary.orphans:
        orphan = summary.orphans[0]
        raise ImportFormatError(
            path,
            orphan.line,
            f"comment {orphan.source_id}: {orphan.why} (--strict: orphans are errors)",
        )
