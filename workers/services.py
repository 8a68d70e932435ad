"""The objects a process needs (application, view store, projection engine), built
once per process and after any fork: objects built before a fork made children
hang or fail, so the cache is keyed by process id.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from domain.application import Discussions
from domain.settings import Database
from projections.engine import Engine
from projections.registry import build_engine
from projections.setup import open_application
from workers.runner import stop_all_runners


@dataclass
class Services:
    database: Database
    app: Discussions
    engine: Engine

    @classmethod
    def build(cls, database: Database) -> Services:
        app = open_application(database)
        return cls(database, app, build_engine(app, database))

    def close(self) -> None:
        self.engine.store.close()
        self.app.close()


_lock = threading.Lock()
_cache: dict[tuple[int, str], Services] = {}


def services_for(database: Database | None = None) -> Services:
    """This process's services for a database (default: from the environment)."""
    database = database or Database.from_env()
    key = (os.getpid(), database.url)
    with _lock:
        found = _cache.get(key)
        if found is None:
            found = _cache[key] = Services.build(database)
        return found


def forget_services() -> None:
    """Close and drop this process's services (tests, shutdown). Runner threads share
    these connections, so they are stopped first."""
    stop_all_runners()
    with _lock:
        for key in [k for k in _cache if k[0] == os.getpid()]:
            _cache.pop(key).close()
        _cache.clear()
