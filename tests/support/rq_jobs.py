"""Jobs that only tests enqueue."""

from __future__ import annotations

import os

from workers.bootstrap import services_for


def services_identity() -> list[int]:
    """Which process ran the job, and which Services object it used."""
    return [os.getpid(), id(services_for())]
