"""`discuss rules`: the moderation rules (issue 13).

rules check FILE   parse a rule file and list its rules (a mistake names the line)
rules try FILE     replay the comments and edits already posted through FILE's rules
                   and report what they would have held or refused; nothing changes
"""

from __future__ import annotations

import json
import re
import sys

import click

from domain.moderation_rules import RulesInvalid, load_rules
from projections import rules_replay
from workers.bootstrap import command_services


@click.group("rules")
def rules_group() -> None:
    """Moderation rules: check a rule file, try it on the past."""


def _load(path: str):
    try:
        return load_rules(path)
    except RulesInvalid as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)


@rules_group.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
def check(file: str) -> None:
    """Parse FILE and list its rules (exit 2 naming the line of a mistake)."""
    rules = _load(file)
    click.echo(f"{file}: {len(rules.rules)} rules; trusted after {rules.trusted_after} approvals")
    for rule in rules.rules:
        click.echo(f"  {rule.name}: {rule.kind}, {rule.action}")


@rules_group.command("try")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--since",
    help="A position of the log, or an ISO date or time (e.g. 2026-11-01): replay from there.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def try_command(file: str, since: str | None, as_json: bool) -> None:
    """Replay past posts and edits through FILE's rules; report, change nothing."""
    rules = _load(file)
    with command_services() as services:
        engine = services.engine
        start = 1
        if since:
            if re.fullmatch(r"\d+", since):
                start = int(since)
            elif re.fullmatch(r"\d{4}-\d{2}-\d{2}([T ][0-9:.+Z-]*)?", since):
                engine.catch_up("audit")
                start = rules_replay.position_since(engine, since.replace(" ", "T"))
            else:
                raise click.BadParameter("a position or an ISO date", param_hint="--since")
        report = rules_replay.try_rules(engine, rules, since=start)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(rules_replay.describe(report))
