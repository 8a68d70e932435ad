"""A child process of the outbox tests: `python -m tests.support.outbox_worker MODE`.

MODE `catch-up`: catch the channels up in small pages until they reach the head of
the log (several of these race; one may be killed -9 mid-page). The settings
(database, SMTP …) come from the environment like any process's."""

from __future__ import annotations

import sys
import time

from domain.settings import Settings
from workers.bootstrap import bootstrap


def catch_up(page_size: int) -> None:
    services = bootstrap(Settings.from_env())
    outbox = services.outbox
    try:
        while True:
            outbox.catch_up(page_size=page_size)
            head = services.app.head_position()
            if all(s["position"] >= head for s in outbox.status()):
                return
            time.sleep(0.001)
    finally:
        services.close()


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "catch-up":
        catch_up(int(sys.argv[2]))
    else:
        raise SystemExit(f"unknown mode {mode}")
