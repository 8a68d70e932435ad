"""A child process of tests/integration/test_name_race.py: registers one name on a
store, after a barrier shared with a sibling doing the same."""

from __future__ import annotations

import traceback

from domain.errors import NameTaken
from domain.settings import Database
from projections.setup import open_application


def register_at_once(url: str, name: str, barrier, results) -> None:
    try:
        app = open_application(Database.from_url(url))
        barrier.wait(timeout=60)
        try:
            registration = app.register_author(name)
        except NameTaken:
            results.put(("taken", None))
        else:
            results.put(("registered", str(registration.author_id)))
        app.close()
    except BaseException:
        results.put(("crash", traceback.format_exc()))
        raise
