"""Jobs that only tests enqueue."""

from __future__ import annotations

import os

from workers.bootstrap import services_for


def services_identity() -> list[int]:
    """Which process ran the job, and which Services object it used."""
    return [os.getpid(), id(services_for())]


def slow_catch_up(seconds: float) -> dict[str, int]:
    """A catch-up job that first takes `seconds` (a worker busy when Redis stops)."""
    import time

    from workers.jobs import catch_up

    time.sleep(seconds)
    return catch_up()
