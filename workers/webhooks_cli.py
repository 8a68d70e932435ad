"""`discuss webhooks …`: the operator's command line of the webhooks (domain/webhooks.py,
workers/webhooks.py). The operator may allow one endpoint on a loopback or private
address (`--allow-private`); through the API moderators may not."""

from __future__ import annotations

import json
from uuid import UUID

import click

from domain.model import OPERATOR_ID
from domain.webhooks import EVENTS, disable_webhook, enable_webhook, register_webhook
from projections import webhooks
from workers.bootstrap import command_services
from workers.webhook_http import check_destination


def _endpoint_id(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an endpoint id") from None


@click.group("webhooks")
def webhooks_group() -> None:
    """Signed webhooks: endpoints, their delivery log, redelivery."""


@webhooks_group.command("add")
@click.argument("url")
@click.option(
    "--events",
    required=True,
    help=f"Comma-separated, some of: {', '.join(EVENTS)}.",
)
@click.option("--secret", default=None, help="A whsec_ secret (default: a new one, printed).")
@click.option("--allow-private", is_flag=True, help="Allow a loopback or private address.")
def add(url: str, events: str, secret: str | None, allow_private: bool) -> None:
    """Register an endpoint; prints its id and secret."""
    with command_services() as services:
        allowed = allow_private or services.settings.webhook_allow_private
        check_destination(url, allowed)
        done = register_webhook(
            services.app, OPERATOR_ID, url, events.split(","), secret, allow_private=allowed
        )
        click.echo(f"id: {done.endpoint_id}")
        click.echo(f"secret: {done.secret}")
        click.echo(f"position: {done.position}")


@webhooks_group.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_endpoints(as_json: bool) -> None:
    """Every endpoint, enabled or not, with its failures in a row."""
    with command_services() as services:
        services.outbox.catch_up()
        rows = webhooks.endpoints(services.engine.store)
        if as_json:
            click.echo(json.dumps(rows, indent=2))
            return
        for r in rows:
            state = "enabled" if r["enabled"] else f"disabled ({r['disabled_reason']})"
            click.echo(
                f"{r['id']} {r['url']} [{','.join(r['events'])}] {state}"
                f" failures={r['failures_in_a_row']}"
            )


@webhooks_group.command("deliveries")
@click.argument("endpoint_id")
@click.option("--limit", default=50, show_default=True)
def deliveries(endpoint_id: str, limit: int) -> None:
    """The endpoint's delivery log, newest first."""
    with command_services() as services:
        page = webhooks.deliveries(
            services.engine.store, str(_endpoint_id(endpoint_id)), None, limit
        )
        for d in page["deliveries"]:
            click.echo(
                f"{d['webhook_id']:>8} {d['event']:<28} {d['state']:<8} tries={d['attempts']}"
                f" {d['last_error'] or ''}"
            )


@webhooks_group.command("redeliver")
@click.argument("endpoint_id")
@click.option("--from", "from_position", type=int, required=True, help="A log position.")
def redeliver(endpoint_id: str, from_position: int) -> None:
    """Send every delivery to the endpoint from a position on again (same webhook-id)."""
    with command_services() as services:
        count = webhooks.redeliver(
            services.engine.store, str(_endpoint_id(endpoint_id)), from_position
        )
        click.echo(f"{count} deliveries due now")


@webhooks_group.command("disable")
@click.argument("endpoint_id")
@click.option("--reason", default="disabled by the operator")
def disable(endpoint_id: str, reason: str) -> None:
    with command_services() as services:
        disable_webhook(services.app, OPERATOR_ID, _endpoint_id(endpoint_id), reason)
        click.echo("disabled")


@webhooks_group.command("enable")
@click.argument("endpoint_id")
def enable(endpoint_id: str) -> None:
    with command_services() as services:
        enable_webhook(services.app, OPERATOR_ID, _endpoint_id(endpoint_id))
        click.echo("enabled")


COMMANDS = (webhooks_group,)
