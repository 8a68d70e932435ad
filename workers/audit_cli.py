"""Operator commands of the audit trail: `discuss export` and `discuss verify`.

export  the full event history (or one thread's) as JSON Lines, one event per line:
        the complete decoded payload, its position, time, actor, type, thread,
        comment, and its link in the hash chain. Streams page by page.
verify  walks the log, recomputes the hash chain and reports the first position
        where the stored events no longer match the recorded chain (or a checkpoint
        POSITION:HASH kept elsewhere, e.g. from GET /api/v1/audit/head): exit code 0
        when intact, 1 otherwise.
"""

from __future__ import annotations

import base64
import sys
from contextlib import ExitStack
from typing import Any
from uuid import UUID

import click
import orjson

from domain.settings import Database
from projections import hash_chain
from projections.audit_log import comment_of, thread_of, type_name
from projections.engine import iso
from projections.registry import build_engine
from projections.setup import open_application


def _database() -> Database:
    try:
        return Database.from_env()
    except ValueError as error:
        raise click.UsageError(str(error)) from None


def _progress_bar(enabled: bool | None, total: int, what: str) -> Any:
    from tqdm import tqdm

    show = sys.stderr.isatty() if enabled is None else enabled
    return tqdm(total=total, unit=" events", desc=what, disable=not show, file=sys.stderr)


def _payload(event: Any) -> dict[str, Any]:
    return dict(vars(event))


def _default(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def export_lines(
    app: Any,
    engine: Any,
    thread_id: str | None = None,
    on_event=None,
    errors: list[int] | None = None,
):
    """Yield one JSON line (bytes) per event of the log, or of one thread. An event that
    cannot be decoded (a damaged store) is exported with an "error" and no payload, and
    its position is added to `errors`."""
    links = hash_chain.recorded_links(engine)
    link = next(links, None)
    for n in hash_chain.notifications(app):
        if on_event:
            on_event(n.id)
        while link is not None and link["position"] < n.id:
            link = next(links, None)
        line: dict[str, Any] = {"position": n.id}
        try:
            event = engine.decoder.decode(n)
            thread = thread_of(event)
            if thread_id is not None and thread != thread_id:
                continue
            actor = getattr(event, "actor_id", None)
            line.update(
                time=iso(event.timestamp),
                actor=str(actor) if actor is not None else None,
                type=type_name(event),
                thread=thread,
                comment=comment_of(event),
            )
            payload = _payload(event)
        except Exception as error:
            if errors is not None:
                errors.append(n.id)
            line.update(error=f"cannot decode the stored event: {type(error).__name__}: {error}")
            payload = None
        line.update(
            originator_id=str(n.originator_id),
            originator_version=n.originator_version,
            topic=n.topic,
            payload=payload,
            link=link["link"] if link is not None and link["position"] == n.id else None,
        )
        # The stored record's exact state, for `discuss import-history`: the JSON
        # transcoder's UTF-8 text, or base64 if not UTF-8 (a compressed or encrypted state).
        state = bytes(n.state)
        try:
            line["state"] = state.decode("utf-8")
        except UnicodeDecodeError:
            line["state_base64"] = base64.b64encode(state).decode("ascii")
        yield orjson.dumps(line, default=_default, option=orjson.OPT_NON_STR_KEYS) + b"\n"


@click.command("export")
@click.option("--thread", "thread", default=None, help="Only this thread's events (its id).")
@click.option(
    "-o",
    "--output",
    default="-",
    show_default=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="The JSON Lines file to write ('-' for standard output).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar on standard error (default: when it is a terminal).",
)
def export(thread: str | None, output: str, progress: bool | None) -> None:
    """Export the event history as JSON Lines (one event per line, with its chain link)."""
    if thread is not None:
        try:
            thread = str(UUID(thread))
        except ValueError:
            raise click.BadParameter(f"{thread!r} is not a UUID", param_hint="--thread") from None
    database = _database()
    app = open_application(database)
    engine = build_engine(app, database)
    try:
        head = app.recorder.max_notification_id() or 0
        with ExitStack() as stack:
            out = sys.stdout.buffer if output == "-" else stack.enter_context(open(output, "wb"))
            bar = stack.enter_context(_progress_bar(progress, head, "export"))
            done = {"last": 0}

            def advance(position: int) -> None:
                bar.update(position - done["last"])
                done["last"] = position

            count, errors = 0, []
            for line in export_lines(app, engine, thread, on_event=advance, errors=errors):
                out.write(line)
                count += 1
            out.flush()
        where = "standard output" if output == "-" else output
        what = f"thread {thread}" if thread else "the log"
        click.echo(f"exported {count} events of {what} to {where}", err=True)
    finally:
        engine.store.close()
        app.close()
    if errors:
        shown = ", ".join(map(str, errors[:10])) + (" ..." if len(errors) > 10 else "")
        click.echo(
            f"error: {len(errors)} stored events could not be decoded (positions {shown});"
            " they are exported with an error and no payload: run `discuss verify`",
            err=True,
        )
        sys.exit(1)


def _checkpoint(ctx, param, values: tuple[str, ...]) -> list[hash_chain.Checkpoint]:
    try:
        return [hash_chain.Checkpoint.parse(v) for v in values]
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@click.command("verify")
@click.option(
    "--checkpoint",
    "checkpoints",
    multiple=True,
    metavar="POSITION:HASH",
    callback=_checkpoint,
    help="A chain head kept elsewhere (GET /api/v1/audit/head); may be repeated.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar on standard error (default: when it is a terminal).",
)
def verify(checkpoints: list[hash_chain.Checkpoint], progress: bool | None) -> None:
    """Check the event log against its hash chain (and checkpoints): exit 1 if tampered."""
    database = _database()
    app = open_application(database)
    engine = build_engine(app, database)
    try:
        head = app.recorder.max_notification_id() or 0
        with _progress_bar(progress, head, "verify") as bar:
            done = {"last": 0}

            def advance(position: int) -> None:
                bar.update(position - done["last"])
                done["last"] = position

            result = hash_chain.verify(app, engine, checkpoints, on_event=advance)
    finally:
        engine.store.close()
        app.close()
    if result.ok:
        click.echo(f"OK: {result.message}")
        click.echo(f"head: {result.head}:{result.head_link}")
        for cp in result.checkpoints:
            click.echo(f"checkpoint {cp.position}: matches")
        return
    click.echo(
        f"TAMPERED at position {result.position} ({result.problem}): {result.message}", err=True
    )
    sys.exit(1)
