"""`discuss import wxr|disqus|remark42|isso|commento FILE`: bring discussions in.

Shows a progress bar (bytes read; on a terminal) and prints a summary. Importing
the same file again changes nothing ("unchanged"). A malformed file stops the
import with one line, `error: <file>, line <n>: <what>`, and exit status 1;
threads before the bad record are imported, the thread of the bad record is not.
A file that yields no comment at all is an error too (exit status 1, saying what
was found); a file of another format, exit status 2 with what it looks like.
`--dry-run` prints the full report (every orphan) and writes nothing; `--strict`
makes any orphan (a reply whose parent is not in the file) an error.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import click
from tqdm import tqdm

from workers.bootstrap import command_services
from workers.importing.publish import PUBLISHABLE, publish_held
from workers.importing.run import import_file
from workers.importing.specs import ImportFormatError, ImportSummary

FILE = click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)


@click.group("import")
def import_group() -> None:
    """Import comments from WordPress, Disqus, Remark42, Isso or Commento (as the operator)."""


def _common(command):
    command = click.option(
        "--strict", is_flag=True, help="Any orphan (reply whose parent is missing) is an error."
    )(command)
    return click.option("--dry-run", is_flag=True, help="Print the full report; write nothing.")(
        command
    )


BASE_URL = click.option(
    "--base-url",
    default=None,
    help="Prefix for the source's page paths, e.g. https://blog.example.org (the thread keys).",
)


@import_group.command("wxr")
@click.argument("file", type=FILE)
@click.option(
    "--include-pings",
    is_flag=True,
    help="Import pingbacks and trackbacks too (skipped and counted by default).",
)
@_common
def wxr(file: Path, include_pings: bool, dry_run: bool, strict: bool) -> None:
    """Import a WordPress export (WXR 1.0-1.2): a thread per post with comments."""
    _run(file, "wxr", include_pings=include_pings, dry_run=dry_run, strict=strict)


@import_group.command("disqus")
@click.argument("file", type=FILE)
@_common
def disqus(file: Path, dry_run: bool, strict: bool) -> None:
    """Import a Disqus XML export: a thread per page with posts."""
    _run(file, "disqus", dry_run=dry_run, strict=strict)


@import_group.command("remark42")
@click.argument("file", type=FILE)
@_common
def remark42(file: Path, dry_run: bool, strict: bool) -> None:
    """Import Remark42 comment records (a JSON array, or one record per line)."""
    _run(file, "remark42", dry_run=dry_run, strict=strict)


@import_group.command("isso")
@click.argument("file", type=FILE)
@BASE_URL
@_common
def isso(file: Path, base_url: str | None, dry_run: bool, strict: bool) -> None:
    """Import an Isso database (comments.db, read directly and read-only)."""
    _run(file, "isso", base_url=base_url, dry_run=dry_run, strict=strict)


@import_group.command("commento")
@click.argument("file", type=FILE)
@BASE_URL
@_common
def commento(file: Path, base_url: str | None, dry_run: bool, strict: bool) -> None:
    """Import a Commento or Commento++ JSON export (gunzip the downloaded file first)."""
    _run(file, "commento", base_url=base_url, dry_run=dry_run, strict=strict)


@import_group.command("publish")
@click.argument("key")
@click.option(
    "--rule",
    "rules",
    multiple=True,
    default=PUBLISHABLE,
    show_default=True,
    help="Approve the comments held under this rule (repeatable).",
)
@click.option("--reason", default=None, help="The approval's reason (moderators see it).")
def publish(key: str, rules: tuple[str, ...], reason: str | None) -> None:
    """Publish the imported comments of a password-protected or private post (by its key:
    the post's URL), held for review until the site owner decides they may be public."""
    with command_services() as services:
        done = publish_held(services.app, services.engine, key, tuple(rules), reason)
    click.echo(f"{key}: {done.approved} comment(s) approved; {done.left} left awaiting review")


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
            sys.exit(error.exit_status)
        finally:
            bar.close()
    if summary.dry_run:
        click.echo(f"dry run of {file} ({source_format}): nothing written")
    else:
        click.echo(f"imported {file} ({source_format})")
    for line in summary.lines():
        click.echo(f"  {line}")
    if summary.dry_run:
        return
    if summary.position is None:
        click.echo("  nothing new: no events recorded")
    else:
        click.echo(f"  recorded up to position {summary.position}")


def _operator() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None
