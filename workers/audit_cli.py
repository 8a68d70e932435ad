"""Operator commands of the audit trail: `discuss export` and `discuss verify`.

export  the full event history (or one thread's) as JSON Lines, one event per line:
        the complete decoded payload, its position, time, actor, type, thread,
        comment, its link in the hash chain, and the stored record exactly as stored
        (personal content sealed: an export never holds plaintext). Streams page by
        page. With --open (the operator's export, to move a store: see
        workers/history_import.py), each line with content also carries it opened
        through the visibility policy (the RECORD surface, the operator as viewer:
        everything but erased content, which is null and named in "withheld").
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

from domain.model import Author, Comment
from projections import hash_chain, visibility
from projections.audit_log import comment_of, thread_of, type_name
from projections.engine import ProjectionFailed, iso
from projections.visibility import RECORD, SHOWN, Opening, Verdict
from workers.bootstrap import command_services
from workers.history_import import OPENED, WITHHELD, content_of

# Events whose content is opened together (one read of decisions and keys).
OPEN_CHUNK = 500


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
    *,
    open_content: bool = False,
):
    """Yield one JSON line (bytes) per event of the log, or of one thread. An event that
    cannot be decoded (a damaged store) is exported with an "error" and no payload, and
    its position is added to `errors`. With `open_content`, lines of events with
    content also carry it opened (`opened_content`); the decisions projection should be
    caught up first (a key destroyed by an erasure it has not seen yet opens to
    nothing all the same: "unavailable")."""
    links = hash_chain.recorded_links(engine)
    link = next(links, None)
    chunk: list[tuple[dict[str, Any], Any]] = []

    def lines():
        opened = (
            opened_content(engine, [(line["position"], e) for line, e in chunk if e is not None])
            if open_content
            else {}
        )
        for line, _ in chunk:
            found = opened.get(line["position"])
            if found is not None:
                line[OPENED], withheld = found
                if withheld:
                    line[WITHHELD] = withheld
            yield orjson.dumps(line, default=_default, option=orjson.OPT_NON_STR_KEYS) + b"\n"
        chunk.clear()

    for n in hash_chain.notifications(app):
        if on_event:
            on_event(n.id)
        while link is not None and link["position"] < n.id:
            link = next(links, None)
        line: dict[str, Any] = {"position": n.id}
        event = None
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
            payload, event = None, None
        line.update(
            originator_id=str(n.originator_id),
            originator_version=n.originator_version,
            topic=n.topic,
            payload=payload,
            link=link["link"] if link is not None and link["position"] == n.id else None,
        )
        # The stored record's exact state, for `discuss import-history` and the chain:
        # the JSON transcoder's UTF-8 text, or base64 if not UTF-8 (a compressed state).
        state = bytes(n.state)
        try:
            line["state"] = state.decode("utf-8")
        except UnicodeDecodeError:
            line["state_base64"] = base64.b64encode(state).decode("ascii")
        chunk.append((line, event))
        if len(chunk) >= OPEN_CHUNK:
            yield from lines()
    yield from lines()


def opened_content(
    engine: Any, events: list[tuple[int, Any]]
) -> dict[int, tuple[dict[str, str | None], dict[str, dict[str, str | None]]]]:
    """position -> (opened, withheld) for the events that carry content: each value as
    the visibility policy lets the operator read it in the record (RECORD surface,
    OPERATOR_VIEWER: a moderator's view, so everything but erased content), opened in
    one batch. A withheld value is None in `opened` and named in `withheld` with why
    ("erased", or "unavailable": its key is lost) and the policy's words."""
    found = [(p, e, c) for p, e in events if (c := content_of(e))]
    if not found:
        return {}
    decided = visibility.decisions_for(
        engine, {str(e.originator_id) for _, e, _ in found if isinstance(e, Comment.Event)}
    )
    erased = visibility.erased_authors(
        engine, {str(e.originator_id) for _, e, _ in found if isinstance(e, Author.Event)}
    )
    opening = Opening(engine)
    verdicts: dict[tuple[int, str], Verdict] = {}
    for position, event, content in found:
        for name, value in content.items():
            verdict = _record_verdict(event, name, decided, erased)
            verdicts[position, name] = verdict
            if verdict.shown:
                opening.want(value)
    opening.run()
    result = {}
    for position, _, content in found:
        opened: dict[str, str | None] = {}
        withheld: dict[str, dict[str, str | None]] = {}
        for name, value in content.items():
            verdict = verdicts[position, name]
            plain = None
            if verdict.shown:
                plain, unavailable = opening.text(value)
                if unavailable:
                    verdict = Verdict(False, "unavailable")
            opened[name] = plain
            if not verdict.shown:
                withheld[name] = {"why": verdict.why, "note": verdict.note}
        result[position] = (opened, withheld)
    return result


def _record_verdict(event: Any, name: str, decided: dict, erased: dict) -> Verdict:
    """The policy's verdict on one content field of one event, for the operator."""
    viewer = visibility.OPERATOR_VIEWER
    if isinstance(event, Author.Event):  # a display name
        row = erased.get(str(event.originator_id))
        return Verdict(False, "erased", row["erased_at"]) if row else SHOWN
    d = decided.get(str(event.originator_id))
    # Whose comment it is matters to the policy only for a viewer who is not a moderator.
    author = str(event.author_id) if isinstance(event, Comment.Posted) else None
    version = event.originator_version
    if name == "text":  # Posted, Edited: that revision's text
        return visibility.text_verdict(d, viewer, author, version, RECORD)
    if isinstance(event, Comment.Edited):  # its edit reason
        return visibility.reason_verdict(d, viewer, author, version, RECORD)
    if isinstance(event, Comment.Retracted):  # the author's note: as the comment
        return visibility.text_verdict(d, viewer, author, None, RECORD)
    if visibility.moderation_reason_shown(d, viewer):  # hide, restore, (un)suppress
        return SHOWN
    return Verdict(False, "erased", d.erased_at if d is not None else None)


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
    "--open",
    "open_content",
    is_flag=True,
    help="Also write each event's personal content opened (operator only: the file then"
    " holds plaintext; erased content stays out). What `import-history` needs to move the"
    " history into a new store.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar on standard error (default: when it is a terminal).",
)
def export(thread: str | None, output: str, open_content: bool, progress: bool | None) -> None:
    """Export the event history as JSON Lines (one event per line, with its chain link)."""
    if thread is not None:
        try:
            thread = str(UUID(thread))
        except ValueError:
            raise click.BadParameter(f"{thread!r} is not a UUID", param_hint="--thread") from None
    with command_services() as services:
        app, engine = services.app, services.engine
        if open_content:
            try:
                engine.catch_up("decisions")  # today's erasures, for the policy
            except ProjectionFailed as error:
                click.echo(f"error: the decisions cannot be brought up to date: {error}", err=True)
                sys.exit(1)
        head = app.recorder.max_notification_id() or 0
        with ExitStack() as stack:
            out = sys.stdout.buffer if output == "-" else stack.enter_context(open(output, "wb"))
            bar = stack.enter_context(_progress_bar(progress, head, "export"))
            done = {"last": 0}

            def advance(position: int) -> None:
                bar.update(position - done["last"])
                done["last"] = position

            count, errors = 0, []
            lines = export_lines(
                app, engine, thread, on_event=advance, errors=errors, open_content=open_content
            )
            for line in lines:
                out.write(line)
                count += 1
            out.flush()
        where = "standard output" if output == "-" else output
        what = f"thread {thread}" if thread else "the log"
        click.echo(f"exported {count} events of {what} to {where}", err=True)
        if open_content:
            click.echo(
                "the export holds personal content in plaintext (--open): keep it out of"
                " reach, and delete it once imported",
                err=True,
            )
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
    with command_services() as services:
        app, engine = services.app, services.engine
        head = app.recorder.max_notification_id() or 0
        with _progress_bar(progress, head, "verify") as bar:
            done = {"last": 0}

            def advance(position: int) -> None:
                bar.update(position - done["last"])
                done["last"] = position

            result = hash_chain.verify(app, engine, checkpoints, on_event=advance)
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
