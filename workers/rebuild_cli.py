"""`discuss rebuild NAME | --all`: rebuild projections into fresh tables, then switch.

The old tables keep serving until the switch; Ctrl-C (or a kill) stops after the page in
progress is rolled back, and running the command again continues where it stopped:
the projection in progress from its position, the ones already switched not again.
"""

from __future__ import annotations

import sys

import click

from projections.engine import ProjectionFailed
from projections.rebuild import REBUILD_PAGE_SIZE, Plan, drop_stale, rebuild
from projections.rebuild_runs import start_run
from workers.bootstrap import command_services


@click.command("rebuild")
@click.argument("names", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Rebuild every projection.")
@click.option(
    "--page-size", default=REBUILD_PAGE_SIZE, show_default=True, help="Events per transaction."
)
@click.option(
    "--grace",
    default=2.0,
    show_default=True,
    help="Seconds the old tables stay after the switch, for readers still using them.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def rebuild_command(names: tuple[str, ...], all_: bool, page_size: int, grace: float, quiet: bool):
    """Rebuild projection NAME (or --all) from the first event, then switch atomically."""
    with command_services() as services:
        engine = services.engine
        known = list(engine.projections)
        if all_:
            names = tuple(known)
        if not names:
            raise click.UsageError(f"name a projection ({', '.join(known)}) or use --all")
        unknown = [n for n in names if n not in engine.projections]
        if unknown:
            raise click.UsageError(f"unknown projection {unknown[0]!r}; known: {', '.join(known)}")
        # A run killed earlier continues: the projections it had switched are skipped
        # (only the old tables a kill left behind are dropped).
        left = start_run(engine, names)
        for name in names:
            if name not in left:
                drop_stale(engine, name, keep=engine.generation(name))
        for name in left:
            _rebuild_one(engine, name, page_size, grace, quiet)


class _Progress:
    """The plan's line and a progress bar on stderr."""

    def __init__(self, name: str, quiet: bool):
        self.name = name
        self.quiet = quiet
        self.bar = None

    def planned(self, plan: Plan) -> None:
        verb = "continuing" if plan.resumed else "building"
        click.echo(
            f"{self.name}: {verb} generation {plan.generation} (serving: {plan.serving}),"
            f" from position {plan.position} to {plan.head}",
            err=True,
        )
        if not self.quiet:
            self.bar = click.progressbar(
                length=max(plan.head - plan.position, 1), label=self.name, file=sys.stderr
            )
            self.bar.__enter__()

    def paged(self, last: int, count: int) -> None:
        if self.bar is not None:
            self.bar.update(count)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _rebuild_one(engine, name: str, page_size: int, grace: float, quiet: bool) -> None:
    progress = _Progress(name, quiet)
    try:
        done = rebuild(
            engine,
            name,
            page_size=page_size,
            on_plan=progress.planned,
            on_page=progress.paged,
            grace=grace,
        )
    except KeyboardInterrupt:
        progress.close()
        click.echo(f"\n{name}: interrupted; run the same command again to continue", err=True)
        sys.exit(130)
    except ProjectionFailed as failure:
        progress.close()
        click.echo(
            f"\nerror: {failure}\n{name}: the old generation still serves; fix the cause"
            " and run the same command again to continue",
            err=True,
        )
        sys.exit(1)
    progress.close()
    click.echo(
        f"{name}: generation {done.generation} serving at position {done.position}"
        f" ({done.applied} events in {done.seconds:.1f}s); generation"
        f" {done.old_generation} dropped"
    )
