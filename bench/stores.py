"""Benchmark stores: temporary stores (a SQLite file in a temp folder; a PostgreSQL
database from the tests' helper), prepared with seeded threads, and the app run in
process (settings, WSGI calls, timing)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator

from common import PG_ADMIN_URL, REDIS_URL, ROOT, UNLIMITED
from seeding import import_thread, plan_thread, seed_thread

# ---- temporary stores ---------------------------------------------------------------------


def ensure_master_key() -> None:
    """A master key for the run in DISCUSS_MASTER_KEY unless one is set: a PostgreSQL
    store cannot be initialised or opened without it (projections/setup.py). Set in
    os.environ, so servers and child processes started afterwards share it."""
    if not os.environ.get("DISCUSS_MASTER_KEY"):
        from domain.sealing import MasterKey

        os.environ["DISCUSS_MASTER_KEY"] = MasterKey.generate_text()


@contextlib.contextmanager
def temp_store(backend: str, initialised: bool = True) -> Iterator:
    """An empty store (initialised unless told not): a temp SQLite file, or a PostgreSQL
    database made by the tests' helper (tests/support/databases.py) and dropped after."""
    from domain.settings import Database
    from projections.setup import initialise
    from tests.support.databases import new_pg_database

    ensure_master_key()

    if backend == "sqlite":
        tmp = tempfile.mkdtemp(prefix="discuss-bench-")
        try:
            database = Database.from_url(f"sqlite:///{tmp}/bench.db")
            if initialised:
                initialise(database)
            yield database
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    with new_pg_database(initialised, admin_url=PG_ADMIN_URL, prefix="discuss_bench") as database:
        yield database


def flush_bench_redis(url: str = REDIS_URL) -> None:
    from redis import Redis

    with contextlib.suppress(Exception):
        Redis.from_url(url, socket_timeout=2).flushdb()


def catch_up(database) -> dict[str, int]:
    """Bring every projection up to the head of the log, in this process."""
    from projections.registry import build_engine
    from projections.setup import open_application

    app = open_application(database)
    try:
        engine = build_engine(app, database)
        try:
            return {name: engine.catch_up(name) for name in engine.projections}
        finally:
            engine.store.close()
    finally:
        app.close()


def app_env(database, *, redis: bool) -> dict[str, str]:
    """The environment of a web process of the project on `database`."""
    env = dict(os.environ)
    env.update(
        DISCUSS_DATABASE_URL=database.url,
        DISCUSS_SECRET_KEY="bench-secret-key-not-for-production",
        DISCUSS_WRITE_RATE_LIMIT=UNLIMITED,
        PYTHONPATH=str(ROOT),
    )
    env.pop("DISCUSS_REDIS_URL", None)
    env.pop("DISCUSS_EMBEDDED_RUNNER", None)
    if redis:
        env["DISCUSS_REDIS_URL"] = REDIS_URL
    return env


def prepare_store(url: str, n_small: int, n_large: int, keys: tuple[str, str, str]) -> dict:
    """Seed an initialised store for the HTTP benches and catch its projections up:
    the small thread posted comment by comment through the application service, the
    large one imported in one save, a registered poster (its token) and an empty
    thread to post into. Runs in a child process (spawn) for PostgreSQL while the
    parent prepares SQLite. Returns picklable facts and timings."""
    from domain.model import OPERATOR_ID
    from domain.settings import Database
    from projections.setup import open_application

    database = Database.from_url(url)
    small_key, large_key, post_key = keys
    app = open_application(database)
    try:
        small = seed_thread(app, plan_thread(n_small), small_key)
        large = import_thread(app, plan_thread(n_large, max_tops=None, seed=11), large_key)
        token = app.register_author("Bench Poster").token
        post_thread = str(app.open_thread(OPERATOR_ID, "Posting bench", key=post_key).thread_id)
    finally:
        app.close()
    started = time.perf_counter()
    applied = catch_up(database)
    return {
        "small": small,
        "large": large,
        "token": token,
        "post_thread": post_thread,
        "catch_up_seconds": time.perf_counter() - started,
        "events": max(applied.values()) if applied else 0,
    }


def prepare_stores(databases: dict, n_small: int, n_large: int, keys, log=print) -> dict:
    """prepare_store() for each backend at once: PostgreSQL in a spawned child process
    (its time is mostly the database's and the projections'), SQLite in this one."""
    import concurrent.futures
    import multiprocessing

    results: dict = {}
    started = time.perf_counter()
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=max(1, len(databases) - 1), mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        futures = {
            name: pool.submit(prepare_store, db.url, n_small, n_large, keys)
            for name, db in databases.items()
            if name != "sqlite"
        }
        if "sqlite" in databases:
            results["sqlite"] = prepare_store(databases["sqlite"].url, n_small, n_large, keys)
        for name, future in futures.items():
            results[name] = future.result()
    for name, r in results.items():
        log(
            f"  {name}: {n_small} comments posted one by one in {r['small'].seconds:.1f}s,"
            f" {n_large:,} imported in {r['large'].seconds:.1f}s, projections caught up"
            f" ({r['events']:,} events) in {r['catch_up_seconds']:.1f}s"
        )
    log(f"  set-up took {time.perf_counter() - started:.0f}s")
    return results


@contextlib.contextmanager
def app_in_process(database, *, redis: bool):
    """The project's Flask app in this process, configured as its server is (but with no
    embedded runner thread): for the test client and direct WSGI calls."""
    env = app_env(database, redis=redis)
    env["DISCUSS_EMBEDDED_RUNNER"] = "false"
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        from web import create_app
        from workers.bootstrap import forget_services

        app = create_app()
        try:
            yield app
        finally:
            forget_services()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def clear_body_cache(app) -> None:
    """Empty the API's cache of response bytes (per app in app.extensions, or a module
    global in older versions of web/api/caching.py)."""
    from web.api import caching

    cache = app.extensions.get("discuss_bodies")
    if cache is None and isinstance(getattr(caching, "bodies", None), caching.BodyCache):
        cache = caching.bodies
    if cache is not None:
        with cache._lock:
            cache._items.clear()


def wsgi_caller(
    app,
    path: str,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    json_body: object = None,
):
    """A function that serves one request by calling the WSGI app directly (no test
    client, no socket) and consumes the body; returns (status line, body length)."""
    import io
    import json

    from werkzeug.test import EnvironBuilder

    data = json.dumps(json_body).encode() if json_body is not None else b""
    base = EnvironBuilder(
        path=path.split("?")[0],
        method=method,
        query_string=path.split("?", 1)[1] if "?" in path else None,
        headers=headers or {},
        content_type="application/json" if json_body is not None else None,
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    ).get_environ()
    base["CONTENT_LENGTH"] = str(len(data))
    seen: list[str] = []

    def start_response(status, response_headers, exc_info=None):
        seen.append(status)

    def call() -> tuple[str, int]:
        environ = dict(base)
        environ["wsgi.input"] = io.BytesIO(data)
        seen.clear()
        body = app(environ, start_response)
        size = 0
        try:
            for chunk in body:
                size += len(chunk)
        finally:
            if hasattr(body, "close"):
                body.close()
        return seen[0] if seen else "", size

    return call


def time_calls(fn, n: int, batches: int = 5) -> float:
    """Median over `batches` of the mean wall time per call of fn(), in ms."""
    for _ in range(min(20, n)):
        fn()
    per = []
    for _ in range(batches):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        per.append((time.perf_counter() - t) / n * 1e3)
    per.sort()
    return per[len(per) // 2]
