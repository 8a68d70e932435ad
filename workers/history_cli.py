"""`discuss import-history FILE` and `discuss export-thread THREAD`.

import-history  reads an export of `discuss export --open` (JSON Lines, one stored
                event per line, its content opened) into a new store, sealing the
                content afresh with this store's own keys, so every projection
                comes out as in the source when read through the policy; the new
                store's hash chain is its own (workers/history_import.py). An export
                of a store written before sealing (plaintext) is taken as it is,
                and sealed: the migration path of such a store. An export without
                --open of sealed content is refused: this store cannot open the
                source's keys. Importing the same export again changes nothing; an
                import stopped half-way is completed by running it again. A
                malformed line stops it with `error: FILE, line N: ...` and exit
                status 1.
export-thread   writes a thread's current state as the simple nested JSON of the demo
                thread's file (projections/thread_export.py), as the public sees it
                (the visibility policy, anonymous viewer: withheld comments are
                placeholders), after bringing the thread view and the decisions up
                to date.
"""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from pathlib import Path
from uuid import UUID

import click
from tqdm import tqdm

from projections import queries
from projections.engine import ProjectionFailed
from projections.thread_export import export_thread_state
from workers.bootstrap import command_services
from workers.history_import import BATCH_LINES, HistoryImportError, import_history


@click.command("import-history")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option(
    "--verify/--no-verify",
    default=True,
    show_default=True,
    help="Check each line's chain link and payload against its stored record.",
)
@click.option(
    "--batch",
    "batch_size",
    default=BATCH_LINES,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Events written per transaction.",
)
def import_history_command(file: str, verify: bool, batch_size: int) -> None:
    """Import an event history exported by `discuss export --open` into a new store."""
    with command_services() as services:
        app = services.app
        with ExitStack() as stack:
            if file == "-":
                source, total = sys.stdin.buffer, None
            else:
                source = stack.enter_context(open(file, "rb"))
                total = Path(file).stat().st_size
            bar = stack.enter_context(
                tqdm(
                    total=total,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc="importing history",
                    file=sys.stderr,
                    disable=None,
                    leave=False,
                )
            )

            def lines():
                for line in source:
                    bar.update(len(line))
                    yield line

            def on_batch(summary) -> None:
                bar.set_postfix(written=summary.written, refresh=False)

            try:
                summary = import_history(
                    app, lines(), verify=verify, batch_size=batch_size, on_batch=on_batch
                )
            except HistoryImportError as error:
                bar.close()
                click.echo(f"error: {file}, {error.message}", err=True)
                sys.exit(1)
        # The old store sent this history's mails: outward channels start after it.
        services.outbox.skip_to_head()
    click.echo(f"imported history from {'standard input' if file == '-' else file}")
    for line in summary.lines_of_text():
        click.echo(f"  {line}")
    if summary.changed:
        click.echo("  the projections catch up as usual (runner, sweeper or `discuss catch-up`)")
    else:
        click.echo("  nothing new: no events recorded")


@click.command("export-thread")
@click.argument("thread")
@click.option(
    "-o",
    "--output",
    default="-",
    show_default=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="The JSON file to write ('-' for standard output).",
)
@click.option("--site", default=None, help='The "site" to name in the file (not stored).')
def export_thread_command(thread: str, output: str, site: str | None) -> None:
    """Write a thread's current state (by id or key) as nested JSON: author, text, replies."""
    with command_services() as services:
        engine = services.engine
        try:
            engine.catch_up("threads")
            engine.catch_up("decisions")
        except ProjectionFailed as error:
            click.echo(f"error: the thread view cannot be brought up to date: {error}", err=True)
            sys.exit(1)
        try:
            thread_id = _thread_id(engine, thread)
            data = export_thread_state(engine, thread_id, site=site)
        except queries.NotInView as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(1)
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if output == "-":
        click.echo(text, nl=False)
        return
    Path(output).write_text(text, encoding="utf-8")
    click.echo(f"exported thread {thread_id} to {output}", err=True)


def _thread_id(engine, value: str) -> str:
    """A thread id, or else a key (the host page's URL or slug)."""
    try:
        thread_id = str(UUID(value))
        queries.thread_row(engine, thread_id)
        return thread_id
    except (ValueError, queries.NotInView):
        pass
    try:
        return queries.thread_id_for_key(engine, value)
    except queries.NotInView:
        raise queries.NotInView(f"no thread with id or key {value!r}") from None
