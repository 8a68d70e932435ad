"""Shared helpers of bench_http.py and bench_pages.py (run by hand, never by the tests).

- temporary stores (a SQLite file in a temp folder; a PostgreSQL database created and
  dropped here), seeded through the application service with a deterministic thread
  of realistic comments (text lengths and nesting);
- servers started in their own process group and always killed in `finally`;
- the `wrk` load generator (Debian package `wrk`) and the parsing of its output.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

VENV_BIN = ROOT / ".venv" / "bin"
PG_ADMIN_URL = os.environ.get("DISCUSS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
# A Redis database index of its own, flushed by the bench at the end.
REDIS_URL = os.environ.get("DISCUSS_BENCH_REDIS", "redis://127.0.0.1:6379/13")
SEED_CORPUS = ROOT / "workers" / "data" / "seed-thread.json"

# Very high limits: the bench measures the serving path, not the rate limiter's refusals.
UNLIMITED = "100000000 per minute"


def nproc() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- realistic comments -------------------------------------------------------------------


def _sentences() -> list[str]:
    """Sentences of the demo thread's real comments: the vocabulary of the bench texts."""
    import json

    data = json.loads(SEED_CORPUS.read_text(encoding="utf-8"))
    found: list[str] = []

    def walk(items: list[dict]) -> None:
        for item in items:
            for part in re.split(r"(?<=[.!?])\s+", item["text"].replace("\n", " ")):
                part = part.strip()
                if 20 <= len(part) <= 400:
                    found.append(part)
            walk(item.get("replies", []))

    walk(data["comments"])
    return found


@dataclass(frozen=True)
class PlannedComment:
    parent: int | None  # index of the parent in the plan, None for top level
    depth: int
    author: int  # index into the plan's authors
    text: str


@dataclass(frozen=True)
class ThreadPlan:
    title: str
    authors: tuple[str, ...]
    comments: tuple[PlannedComment, ...]
    tops: int = 0
    max_depth: int = 0
    text_chars: int = 0
    text_median: int = 0

    def describe(self) -> str:
        return (
            f"{len(self.comments)} comments ({self.tops} top-level, nesting to depth "
            f"{self.max_depth}), {len(self.authors)} authors, text median "
            f"{self.text_median} chars, total {self.text_chars / 1024:.0f} KiB of text"
        )


def plan_thread(
    n: int,
    *,
    seed: int = 7,
    max_tops: int | None = 50,
    max_depth: int = 6,
    authors: int = 40,
    median_chars: int = 130,
) -> ThreadPlan:
    """A deterministic thread of `n` comments.

    Text lengths follow a log-normal law (median `median_chars`, a long tail capped at
    2,000 characters; some texts have two paragraphs), as comment lengths do on news
    and blog sites. About one comment in five starts a new top-level branch (at most
    `max_tops`, so that with the API's default page of 50 the whole thread of 200 is
    one page); the others reply to a recent comment, at most `max_depth` deep.
    """
    rng = random.Random(seed)
    sentences = _sentences()
    names = tuple(f"{rng.choice(_FIRST)} {rng.choice(_LAST)} {i}" for i in range(authors))
    comments: list[PlannedComment] = []
    tops = 0
    for i in range(n):
        target = min(2000, max(12, int(rng.lognormvariate(math.log(median_chars), 0.8))))
        words: list[str] = []
        length = 0
        while length < target:
            s = rng.choice(sentences)
            words.append(s)
            length += len(s) + 1
        text = " ".join(words)[:target].rsplit(" ", 1)[0].rstrip(",;:") or words[0][:target]
        if len(text) > 300 and rng.random() < 0.4:
            cut = text.find(". ", len(text) // 2)
            if cut > 0:
                text = text[: cut + 1] + "\n\n" + text[cut + 2 :]
        eligible = [j for j in range(max(0, i - 40), i) if comments[j].depth < max_depth]
        top = i == 0 or not eligible or rng.random() < 0.2
        if max_tops is not None and tops >= max_tops:
            top = False
        if top or not eligible:
            parent, depth = None, 0
            tops += 1
        else:
            # Replies favour recent comments, as conversations do.
            parent = eligible[-1 - min(len(eligible) - 1, int(rng.expovariate(1 / 6)))]
            depth = comments[parent].depth + 1
        comments.append(PlannedComment(parent, depth, rng.randrange(authors), text))
    lengths = sorted(len(c.text) for c in comments)
    return ThreadPlan(
        title=f"A thread of {n} comments",
        authors=names,
        comments=tuple(comments),
        tops=tops,
        max_depth=max(c.depth for c in comments),
        text_chars=sum(lengths),
        text_median=lengths[len(lengths) // 2],
    )


_FIRST = ("Ann", "Bob", "Chidi", "Dana", "Eli", "Fatima", "Gus", "Hana", "Ivo", "Jo", "Kai")
_LAST = ("Smith", "Okafor", "Novak", "Tanaka", "Garcia", "Müller", "Singh", "Berg", "Rossi")


@dataclass
class SeededThread:
    thread_id: str
    key: str
    comment_ids: list[str] = field(default_factory=list)
    seconds: float = 0.0


def seed_thread(app, plan: ThreadPlan, key: str, progress: bool = False) -> SeededThread:
    """Open a thread and post the plan's comments through the application service."""
    from domain.model import OPERATOR_ID

    started = time.perf_counter()
    authors = [app.register_author(name).author_id for name in plan.authors]
    opened = app.open_thread(OPERATOR_ID, plan.title, key=key, body="The post the thread is about.")
    ids: list = []
    for i, c in enumerate(plan.comments):
        parent_id = ids[c.parent] if c.parent is not None else None
        posted = app.post_comment(authors[c.author], opened.thread_id, c.text, parent_id=parent_id)
        ids.append(posted.comment_id)
        if progress and (i + 1) % 2000 == 0:
            print(f"    seeded {i + 1}/{len(plan.comments)} comments", flush=True)
    return SeededThread(
        str(opened.thread_id), key, [str(x) for x in ids], time.perf_counter() - started
    )


def import_thread(app, plan: ThreadPlan, key: str) -> SeededThread:
    """A large thread in one atomic save, through the domain's ThreadImporter (the same
    Comment.Posted events as posting one by one, with ids derived from the key and
    dates a minute apart); much faster than 10,000 separate commands."""
    from datetime import UTC, datetime, timedelta
    from uuid import NAMESPACE_URL, uuid5

    from domain.imports import ImportedComment, ImportedThread, ThreadImporter

    started = time.perf_counter()
    start = datetime.now(UTC) - timedelta(minutes=len(plan.comments) + 10)
    ids = [uuid5(NAMESPACE_URL, f"/bench/{key}/{i}") for i in range(len(plan.comments))]
    authors = [uuid5(NAMESPACE_URL, f"/bench/authors/{name}") for name in plan.authors]
    comments = [
        ImportedComment(
            comment_id=ids[i],
            parent_id=ids[c.parent] if c.parent is not None else None,
            author_id=authors[c.author],
            author_name=plan.authors[c.author],
            text=c.text,
            at=start + timedelta(minutes=i + 1),
        )
        for i, c in enumerate(plan.comments)
    ]
    result = ThreadImporter(app).import_thread(
        ImportedThread(key=key, title=plan.title, at=start, comments=comments)
    )
    return SeededThread(
        str(result.thread_id), key, [str(x) for x in ids], time.perf_counter() - started
    )


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


@dataclass
class History:
    """What write_history wrote."""

    authors: list = field(default_factory=list)  # author ids (UUID), in creation order
    threads: list = field(default_factory=list)  # thread ids (UUID)
    comments_by: dict = field(default_factory=dict)  # author id -> comments posted
    events: int = 0
    head: int = 0
    seconds: float = 0.0
    sealed: bool = False


def write_history(
    app,
    *,
    events: int | None = None,
    comments: int | None = None,
    threads: int = 200,
    authors: int = 50,
    posts: float = 0.60,
    replies: float = 0.25,
    batch: int = 1000,
    seed: int = 7,
    window: int = 200,
    author_for=None,
    progress=None,
) -> History:
    """A log written fast: `batch` aggregates per `app.save()` (one transaction each),
    with personal content sealed exactly as the application's commands seal it when
    `app.sealer` is set (domain/sealing.py: one fresh data key per event, for comment
    texts and display names, stored with the events by the same save) and in clear
    when it is not (DISCUSS_SEAL_CONTENT=off).

    The authors (the first a moderator) and threads first, then until `events` events
    (or `comments` new comments) are written: top-level posts, replies to one of the
    thread's `window` latest comments, and edits of such a comment by its author, in
    the shares `posts`, `replies` and the rest. Texts are those of `plan_thread` (the
    demo thread's sentences, realistic lengths). `author_for(k, rng)` picks the author
    (an index) of the k-th new comment; uniform by default."""
    from collections import deque

    from domain.model import MEMBER, MODERATOR, OPERATOR, Actor, Author, Comment, Thread

    if (events is None) == (comments is None):
        raise ValueError("give events or comments")
    started = time.perf_counter()
    rng = random.Random(seed)
    texts = [c.text for c in plan_thread(1000, seed=seed, max_tops=None).comments]
    sealer = getattr(app, "sealer", None)
    work = History(sealed=sealer is not None)
    pending: list = []
    keys: list = []
    fresh: set = set()
    in_batch: set = set()
    live: dict = {}  # thread -> deque of its latest saved comments

    def key(owner, comment_id, version: int):
        return sealer.new_key(owner, comment_id, version) if sealer else None

    def seal(k, value: str) -> str:
        if k is None:
            return value
        keys.append(k.stored)
        return k.seal(value)

    def flush() -> None:
        if not pending:
            return
        recordings = app.save(*pending, data_keys=list(keys)) if keys else app.save(*pending)
        work.head = max(r.notification.id for r in recordings)
        work.events += len(recordings)
        for aggregate in pending:
            if isinstance(aggregate, Comment) and aggregate.id in fresh:
                live.setdefault(aggregate.thread_id, deque(maxlen=window)).append(aggregate)
        pending.clear()
        keys.clear()
        fresh.clear()
        in_batch.clear()
        if progress:
            progress(work.events)

    actors = []
    for number in range(authors):
        author_id = uuid.uuid4()
        role = MODERATOR if number == 0 else MEMBER
        name = seal(key(author_id, None, 1), f"{rng.choice(_FIRST)} {rng.choice(_LAST)} {number}")
        pending.append(Author.register(name=name, role=role, token_hash="x", author_id=author_id))
        actors.append(Actor(author_id, role))
        work.authors.append(author_id)
        work.comments_by[author_id] = 0
    for number in range(threads):
        thread = Thread.open(title=f"thread {number}", body=None, key=None, actor_id=OPERATOR.id)
        pending.append(thread)
        work.threads.append(thread.id)
    flush()

    count, posted = authors + threads, 0
    while (events is not None and count < events) or (comments is not None and posted < comments):
        dice = rng.random()
        thread_id = rng.choice(work.threads)
        known = live.get(thread_id)
        text = f"{count} {rng.choice(texts)}"
        if dice < posts + replies or not known:
            parent = rng.choice(known) if known and dice >= posts else None
            actor = actors[author_for(posted, rng) if author_for else rng.randrange(authors)]
            comment_id = uuid.uuid4()
            comment = Comment.post(
                thread_id=thread_id,
                parent_id=parent.id if parent else None,
                author_id=actor.id,
                text=seal(key(actor.id, comment_id, 1), text),
                comment_id=comment_id,
            )
            fresh.add(comment.id)
            work.comments_by[actor.id] += 1
            posted += 1
        else:
            comment = rng.choice(known)
            if comment.id in in_batch:  # one aggregate appears once per save()
                continue
            k = key(comment.author_id, comment.id, comment.version + 1)
            comment.edit(seal(k, text), Actor(comment.author_id, MEMBER))
        in_batch.add(comment.id)
        pending.append(comment)
        count += 1
        if len(pending) >= batch:
            flush()
    flush()
    work.seconds = time.perf_counter() - started
    return work


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


# ---- servers ------------------------------------------------------------------------------


class Server:
    """A process group started here; `stop()` ends the whole group (gunicorn and its
    workers), SIGTERM then SIGKILL. Use as a context manager so it always ends."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: dict[str, str],
        port: int | None,
        ready_path: str = "/",
        log_dir: str | None = None,
        cwd: str | Path = ROOT,
    ):
        self.name = name
        self.port = port
        self.ready_path = ready_path
        self.log_path = Path(log_dir or tempfile.gettempdir()) / f"bench-{name}-{os.getpid()}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115  (closed in stop())
        self.proc = subprocess.Popen(
            list(argv),
            env=env,
            cwd=str(cwd),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early; log:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.base + self.ready_path, timeout=5) as r:
                    r.read()
                    return
            except urllib.error.HTTPError:
                return  # it answers
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {timeout}s; log:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        self._log.flush()
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        # Anything left in the group (a worker that outlived its arbiter).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self._log.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


GUNICORN_WORKERS = 2


def gunicorn_argv(gunicorn: str | Path, target: str, port: int) -> list[str]:
    """The same gunicorn settings for every server: 2 sync workers, no access log."""
    return [
        str(gunicorn),
        "--workers",
        str(GUNICORN_WORKERS),
        "--worker-class",
        "sync",
        "--bind",
        f"127.0.0.1:{port}",
        "--backlog",
        "2048",
        "--timeout",
        "60",
        "--log-level",
        "warning",
        target,
    ]


# ---- wrk ----------------------------------------------------------------------------------


@dataclass
class WrkResult:
    label: str
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: str
    raw: str

    @property
    def ok(self) -> bool:
        return self.non_2xx == 0 and not self.socket_errors


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}[unit]


def parse_wrk(label: str, out: str) -> WrkResult:
    def pct(p: str) -> float:
        m = re.search(rf"^\s*{p}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        return _ms(*m.groups()) if m else float("nan")

    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    requests = int(m.group(1)) if m else 0
    seconds = _ms(m.group(2), m.group(3)) / 1e3 if m else float("nan")
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors:\s+(.*)", out)
    return WrkResult(
        label=label,
        requests=requests,
        seconds=seconds,
        rps=float(rps.group(1)) if rps else 0.0,
        p50_ms=pct("50"),
        p99_ms=pct("99"),
        non_2xx=int(non2xx.group(1)) if non2xx else 0,
        socket_errors=sock.group(1).strip() if sock else "",
        raw=out,
    )


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        sys.exit("wrk is not installed: `apt-get install -y wrk` (Debian's package)")
    return path


def run_wrk(
    label: str,
    url: str,
    *,
    seconds: float,
    connections: int,
    threads: int = 1,
    script: str | None = None,
    headers: Sequence[str] = (),
    timeout_s: int = 10,
) -> WrkResult:
    argv = [
        require_wrk(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={timeout_s}s",
        "--latency",
    ]
    for h in headers:
        argv += ["-H", h]
    if script:
        argv += ["-s", script]
    argv.append(url)
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=seconds + timeout_s + 30, check=False
    )
    return parse_wrk(label, done.stdout + done.stderr)


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def http_json(method: str, url: str, body: dict, headers: dict[str, str] | None = None):
    import json

    data = json.dumps(body).encode()
    req = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def fmt_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, r in enumerate(cells):
        lines.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
