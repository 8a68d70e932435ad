"""One import run: a file, its reader, the writer, and the record of the run.

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
from workers.importing.disqus import read_disqus
from workers.importing.remark42 import read_remark42
from workers.importing.specs import ImportFormatError, ImportSummary
from workers.importing.writer import ThreadWriter
from workers.importing.wxr import read_wxr

READERS = {"wxr": read_wxr, "disqus": read_disqus, "remark42": read_remark42}
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
    progress: Callable[[int], None] | None = None,
    on_thread: Callable[[ImportSummary], None] | None = None,
    operator: str | None = None,
) -> ImportSummary:
    """Import a file; raises ImportFormatError (after recording what was done, if
    anything) when the file or a record is malformed."""
    if source_format not in READERS:
        raise ValueError(f"unknown format {source_format!r}; known: {sorted(READERS)}")
    path = Path(path)
    sha256 = file_sha256(path)
    summary = ImportSummary(source_format)
    reader = READERS[source_format]
    if source_format == "wxr":
        reader = partial(reader, include_pings=include_pings)
    writer = ThreadWriter(app, summary, path)
    record = partial(
        record_import,
        app,
        source_format=source_format,
        file_name=str(path.resolve()),
        file_sha256=sha256,
        operator=operator,
        actor_id=OPERATOR_ID,
    )
    try:
        for spec in reader(path, summary, progress=progress):
            writer.write(spec)
            if on_thread is not None:
                on_thread(summary)
    except ImportFormatError as error:
        writer.finish()  # the complete threads before the bad record
        if summary.changed:
            record(
                counts=summary.counts(),
                orphans=summary.orphans[:MAX_ORPHANS_RECORDED],
                error=str(error),
            )
        raise
    writer.finish()
    if summary.changed:
        summary.position = record(
            counts=summary.counts(), orphans=summary.orphans[:MAX_ORPHANS_RECORDED], error=None
        )
    return summary
