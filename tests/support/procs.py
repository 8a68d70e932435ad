"""Code that runs in child processes of the tests (started with `spawn`, or as scripts).

Each child builds its own application and connections after it starts: nothing is
inherited from the test process.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path

from domain.settings import Database
from projections.author_activity import AuthorActivity
from projections.db import ViewStore
from projections.engine import Engine
from projections.revisions import Revisions
from projections.setup import open_application
from projections.thread_view import ThreadView


def racing_worker(
    url: str, names: list[str], page_size: int, barrier, done, results, together: bool = False
) -> None:
    """Catch up again and again until `done` is set, then once more; report how many
    events this process applied per projection. `together`: all projections in one
    transaction per page (`catch_up_many`, as the runner and the RQ job do), else one
    projection after the other (`catch_up`, as `discuss catch-up` does)."""
    try:
        database = Database.from_url(url)
        app = open_application(database)
        engine = Engine(app, ViewStore(database), [ThreadView(), Revisions(), AuthorActivity()])
        applied = dict.fromkeys(names, 0)
        calls = 0
        barrier.wait(timeout=60)
        while True:
            finished = done.is_set()  # every write is committed before it is set
            if together:
                done_now, failures = engine.catch_up_many(names, page_size=page_size)
                assert not failures, failures
                for name, count in done_now.items():
                    applied[name] += count
                calls += 1
            else:
                for name in names:
                    applied[name] += engine.catch_up(name, page_size=page_size)
                    calls += 1
            if finished:
                break
        results.put(("ok", applied, calls))
        engine.store.close()
        app.close()
    except BaseException:
        results.put(("crash", traceback.format_exc(), 0))
        raise


class SlowThreadView(ThreadView):
    """The thread view, stopping inside the transaction of its `stall_at`-th page (after
    its writes, before the commit) to say so in a file and wait to be killed."""

    def __init__(self, marker: Path, stall_at: int):
        self.marker = marker
        self.stall_at = stall_at
        self.pages = 0

    def flush(self, page) -> None:
        super().flush(page)
        self.pages += 1
        if self.pages == self.stall_at:
            self.marker.write_text(json.dumps({"rows": len(page.new_comments)}))
            time.sleep(120)


def stalling_worker(url: str, marker: str, page_size: int, stall_at: int) -> None:
    database = Database.from_url(url)
    app = open_application(database)
    engine = Engine(app, ViewStore(database), [SlowThreadView(Path(marker), stall_at)])
    engine.catch_up("threads", page_size=page_size)


if __name__ == "__main__":
    # python -m tests.support.procs stall URL MARKER PAGE_SIZE STALL_AT
    if sys.argv[1] == "stall":
        stalling_worker(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
