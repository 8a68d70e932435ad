"""`discuss deliver` (the sender process), `discuss outbox` (what is queued, dead
letters, retry now) — the command line of projections/outbox.py."""

from __future__ import annotations

import json
import time

import click

from workers.bootstrap import command_services
from workers.delivery import deliver_round, senders_for


@click.command("deliver")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between rounds.")
@click.option("--once", is_flag=True, help="One round, then exit.")
def deliver_command(interval: float, once: bool) -> None:
    """Catch the outward channels up and deliver what is due (forever, or --once)."""
    with command_services() as services:
        senders = senders_for(services)
        if not senders:
            click.echo("no channel has a sender configured (DISCUSS_SMTP_URL …)", err=True)
        while True:
            counts = deliver_round(services.outbox, senders)
            if once:
                click.echo(json.dumps(counts))
                return
            time.sleep(interval)


@click.group("outbox")
def outbox_group() -> None:
    """The outbox of outward channels (email …)."""


def channel_rows(services) -> list[dict]:
    return services.outbox.status()


@outbox_group.command("status")
@click.option("--json", "as_json", is_flag=True)
def outbox_status(as_json: bool) -> None:
    """Each channel's position and its deliveries per state."""
    with command_services() as services:
        print_channels(channel_rows(services), as_json)


def print_channels(rows: list[dict], as_json: bool = False) -> None:
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(
        f"{'channel':<12} {'position':>9} {'head':>9} {'pending':>8} {'sent':>8}"
        f" {'dead':>6} {'dropped':>8}  error"
    )
    for r in rows:
        click.echo(
            f"{r['channel']:<12} {r['position']:>9} {r['head']:>9} {r['pending']:>8}"
            f" {r['sent']:>8} {r['dead']:>6} {r['dropped']:>8}  {r['error'] or ''}"
        )


@outbox_group.command("dead")
@click.option("--channel", default=None)
def outbox_dead(channel: str | None) -> None:
    """The dead-lettered deliveries (ids and the last error, never content)."""
    with command_services() as services:
        for row in services.outbox.rows(channel, "dead"):
            click.echo(
                f"{row['channel']} {row['position']} {row['recipient']} {row['kind']}"
                f" tries={row['attempts']} {row['last_error'] or ''}"
            )


@outbox_group.command("retry")
@click.option("--channel", default=None)
@click.option("--position", type=int, default=None)
def outbox_retry(channel: str | None, position: int | None) -> None:
    """Retry now: dead deliveries pending again, waiting ones due now."""
    with command_services() as services:
        click.echo(f"{services.outbox.retry(channel, position)} deliveries due now")


COMMANDS = (deliver_command, outbox_group)
