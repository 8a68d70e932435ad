"""The operator command line: `discuss --help`.

Reads the settings (DISCUSS_DATABASE_URL, default: the embedded SQLite file, and the
rest: README, Configuration) once per invocation, and builds what a command needs with
the bootstrap (workers/bootstrap.py).
"""

from __future__ import annotations

import sys
from uuid import UUID

import click

from domain.errors import DomainError
from domain.model import MEMBER, MODERATOR, OPERATOR_ID
from domain.sealing import MasterKeyError
from projections.setup import initialise
from workers.audit_cli import export, verify
from workers.bootstrap import command_services, command_settings
from workers.erasure_cli import COMMANDS as ERASURE_COMMANDS
from workers.history_cli import export_thread_command, import_history_command
from workers.importing.cli import import_group
from workers.outbox_cli import COMMANDS as OUTBOX_COMMANDS
from workers.outbox_cli import print_channels
from workers.rebuild_cli import rebuild_command
from workers.rules_cli import rules_group
from workers.webhooks_cli import COMMANDS as WEBHOOK_COMMANDS
from workers.worker_cli import worker_command


class DomainErrorsAsUsage(click.Group):
    """Show domain errors, and a missing or wrong master key, as one clear line and
    exit 1, not a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except DomainError as error:
            click.echo(f"error: {error.message}", err=True)
            sys.exit(1)
        except MasterKeyError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(1)


@click.group(cls=DomainErrorsAsUsage)
def main() -> None:
    """Operate the discussion backend."""


@main.command("init-db")
def init_db() -> None:
    """Create the event store's and the projections' tables (safe to run again)."""
    settings = command_settings()
    initialise(settings)
    click.echo(f"initialised {settings.database.backend} store")


@main.command("register")
@click.argument("name")
@click.option("--moderator", is_flag=True, help="Register a moderator instead of a member.")
def register(name: str, moderator: bool) -> None:
    """Register an author and print its token (shown once; only a hash is kept)."""
    with command_services() as services:
        reg = services.app.register_author(name, MODERATOR if moderator else MEMBER)
    click.echo(f"author id: {reg.author_id}\nrole: {reg.role}\ntoken: {reg.token}")


@main.command("open-thread")
@click.argument("title")
@click.option("--key", help="The host page's URL or slug.")
@click.option("--body", help="The post's text.")
def open_thread(title: str, key: str | None, body: str | None) -> None:
    """Open a thread as the operator."""
    with command_services() as services:
        opened = services.app.open_thread(OPERATOR_ID, title, key=key, body=body)
    click.echo(f"thread id: {opened.thread_id}\nposition: {opened.position}")


@main.command("load-demo")
def load_demo() -> None:
    """Load the demo thread (28 comments) unless it is there already."""
    from workers.seed import load_seed

    with command_services() as services:
        result = load_seed(services.app)
    state = f"loaded {result.comments} comments" if result.created else "already loaded"
    click.echo(f"demo thread {result.thread_id}: {state}")


@main.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def status(as_json: bool) -> None:
    """Each projection's position, the head of the log, and the lag."""
    import json

    with command_services() as services:
        rows = [s.as_dict() for s in services.engine.status()]
        channels = services.outbox.status()  # outward channels: never rebuilt
    if as_json:
        click.echo(
            json.dumps(
                rows + [{**c, "name": c["channel"], "kind": "channel"} for c in channels], indent=2
            )
        )
        return
    click.echo(
        f"{'projection':<12} {'gen':>3} {'position':>9} {'head':>9} {'lag':>7} {'lag s':>8}  error"
    )
    for r in rows:
        click.echo(
            f"{r['name']:<12} {r['generation']:>3} {r['position']:>9} {r['head']:>9}"
            f" {r['lag_events']:>7} {r['lag_seconds']:>8.2f}  {r['error'] or ''}"
        )
    click.echo("")
    print_channels(channels)


@main.command("catch-up")
def catch_up() -> None:
    """Bring every projection up to the head of the log once, then exit."""
    with command_services() as services:
        engine = services.engine
        for name in engine.projections:
            click.echo(f"{name}: applied {engine.catch_up(name)} events")


@main.command("sweep")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between sweeps.")
def sweep(interval: float) -> None:
    """Catch every projection up periodically, forever: heals projections when a
    catch-up job was never enqueued (e.g. Redis was down at the moment of a write)."""
    from workers.runner import BackgroundRunner

    with command_services(wait=True) as services:  # a store down at start is waited for
        runner = BackgroundRunner(services.engine, interval=interval)
        click.echo(f"sweeping every {interval}s; Ctrl-C to stop")
        try:
            runner.start()
            while True:
                runner._thread.join(3600)
        except KeyboardInterrupt:
            runner.stop()


def _uuid(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a UUID") from None


for command in (
    import_group,
    export,
    verify,
    rebuild_command,
    import_history_command,
    export_thread_command,
    *ERASURE_COMMANDS,
    rules_group,
    *OUTBOX_COMMANDS,
    worker_command,
    *WEBHOOK_COMMANDS,
):
    main.add_command(command)

if __name__ == "__main__":
    main()
