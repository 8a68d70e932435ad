"""`discuss worker`: the RQ worker of catch-up jobs (workers/rq_worker.py), on the
settings' Redis and queue; it waits for Redis when it is down, at start or later."""

from __future__ import annotations

import click

from workers.bootstrap import command_settings


@click.command("worker")
def worker_command() -> None:
    """Run catch-up jobs from the queue (DISCUSS_REDIS_URL, DISCUSS_QUEUE) forever."""
    from workers.rq_worker import run_worker

    settings = command_settings()
    if not settings.redis_url:
        raise click.UsageError("DISCUSS_REDIS_URL is not set: the worker needs Redis")
    run_worker(settings.queue, settings.redis_url)
