"""`discuss import wxr|disqus|remark42 FILE`: bring discussions in from other systems.

Shows a progress bar (bytes read; on a terminal) and prints a summary. Importing
the same file again changes nothing. A malformed file stops the import with one
line, `error: <file>, line <n>: <what>`, and exit status 1; threads before the bad
record are imported, the thread of the bad record is not.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import click
from tqdm import tqdm

from workers.bootstrap import command_services
from workers.importing.run import import_file
from workers.importing.specs import ImportFormatError, ImportSummary

FILE = click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)


@click.group("import")
def import_group() -> None:
    """Import comments from WordPress, Disqus or Remark42 exports (as the operator)."""


@import_group.command("wxr")
@click.argument("file", type=FILE)
@click.option(
    "--include-pings",
    is_flag=True,
    help="Import pingbacks and trackbacks too (skipped and counted by default).",
)
def wxr(file: Path, include_pings: bool) -> None:
    """Import a WordPress export (WXR 1.0-1.2): a thread per post with comments."""
    _run(file, "wxr", include_pings=include_pings)


@import_group.command("disqus")
@click.argument("file", type=FILE)
def disqus(file: Path) -> None:
    """Import a Disqus XML export: a thread per page with posts."""
    _run(file, "disqus")


@import_group.command("remark42")
@click.argument("file", type=FILE)
def remark42(file: Path) -> None:
    """Import Remark42 comment records (a JSON array, or one record per line)."""
    _run(file, "remark42")


def _run(file: Path, source_format: str, **options) -> None:
    with command_services() as services:
        bar = tqdm(
            total=file.stat().st_size,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=f"importing {file.name}",
            file=sys.stderr,
            disable=None,
            leave=False,
        )

        def on_thread(summary: ImportSummary) -> None:
            bar.set_postfix(
                threads=summary.threads_created + summary.threads_extended,
                comments=summary.comments,
                refresh=False,
            )

        try:
            summary = import_file(
                services.app,
                file,
                source_format,
                progress=bar.update,
                on_thread=on_thread,
                operator=_operator(),
                **options,
            )
        except ImportFormatError as error:
            bar.close()
            click.echo(f"error: {error}", err=True)
            sys.exit(1)
        finally:
            bar.close()
    click.echo(f"imported {file} ({source_format})")
    for line in summary.lines():
        click.echo(f"  {line}")
    if summary.position is None:
        click.echo("  nothing new: no events recorded")
    else:
        click.echo(f"  recorded up to position {summary.position}")


def _operator() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None
