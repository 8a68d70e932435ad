"""A web process's services without the web (tests/integration/test_runner_election.py):
built as `serving` from the environment, then one command per line on stdin, one JSON
answer per line on stdout.

- `state`: {"leading", "running", "delivery_rounds"}: does this process hold the
  store's runner lock, is its runner thread alive, how many outbox rounds has its
  delivery thread run?
- `write`: opens a thread, nudges as the web does after a write, waits (read-your-
  writes) and answers {"position", "fresh", "seconds"}
"""

from __future__ import annotations

import json
import os
import sys
import time

from domain.model import OPERATOR_ID
from workers.bootstrap import forget_services, services_for


def main() -> None:
    services = services_for(serving=True)
    print(json.dumps({"pid": os.getpid()}), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "state":
            runner = getattr(services.runner, "runner", services.runner)  # the inner one
            thread = getattr(runner, "_thread", None)
            answer = {
                "leading": bool(getattr(services.runner, "leading", False)),
                "running": thread is not None and thread.is_alive(),
                "delivery_rounds": services.delivery.rounds,
            }
        elif command == "write":
            started = time.monotonic()
            opened = services.app.open_thread(OPERATOR_ID, "written here")
            services.after_write(opened.position)
            fresh = services.wait_for(opened.position, timeout=10)
            answer = {
                "position": opened.position,
                "fresh": fresh,
                "seconds": time.monotonic() - started,
            }
        else:
            break
        print(json.dumps(answer), flush=True)
    forget_services()


if __name__ == "__main__":
    main()
