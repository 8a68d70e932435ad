"""Import throughput and memory: run by hand, prints figures (not run by the tests).

    .venv/bin/python bench/bench_import.py [--comments 100000] [--backends sqlite,postgres]
                                           [--formats wxr,isso]

Generates a WXR file (about 100 comments per post, replies nested up to ~8 deep,
some HTML, 5% pending) and an Isso database (`comments.db` with Isso 0.14's schema:
about 100 comments per thread, replies one level deep as Isso keeps them, 5% pending,
1% deleted with replies) into a temporary directory, then measures, each case in
its own subprocess (so that peak memory is the case's own):

- baseline 1: parsing the file with stdlib `ElementTree.iterparse` (clearing
  elements) and discarding the result;
- baseline 2: the event store's batched write rate: the bare library saving
  1,000 one-event aggregates per `save()` (events as large as a comment's);
- the import (`workers.importing.run.import_file`) of each format on a fresh
  SQLite file and a fresh PostgreSQL database (created and dropped here), in
  comments per second;
- peak memory (maxrss) of the import of 1/10 of the comments and of all of them:
  flat if the import streams.

PostgreSQL: DISCUSS_BENCH_PG (default postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORDS = [
    "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "comment", "reply", "thread",
    "discussion", "about", "this", "post", "really", "think", "agree", "disagree", "because",
    "which", "would", "should", "could", "never", "always", "maybe", "point",
]  # fmt: skip


# ---- the file ------------------------------------------------------------------------


def generate_wxr(path: Path, comments: int, per_post: int = 100, seed: int = 7) -> int:
    """Write a WXR 1.2 file with `comments` comments; returns the number of posts."""
    rng = random.Random(seed)
    posts = max(1, comments // per_post)
    names = [f"Reader {i}" for i in range(2000)]
    written = 0
    with open(path, "w", encoding="utf-8") as out:
        out.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"'
            ' xmlns:content="http://purl.org/rss/1.0/modules/content/"'
            ' xmlns:dc="http://purl.org/dc/elements/1.1/"'
            ' xmlns:wp="http://wordpress.org/export/1.2/">\n<channel>\n'
            "<title>Bench</title>\n<wp:wxr_version>1.2</wp:wxr_version>\n"
        )
        for post in range(posts):
            count = per_post if post < posts - 1 else comments - written
            base = 1_300_000_000 + post * 86_400
            out.write(
                f"<item>\n<title>Post {post}</title>\n"
                f"<link>https://bench.example/{post}/</link>\n"
                f"<wp:post_id>{post}</wp:post_id>\n"
                f"<wp:post_date_gmt>{_wxr_date(base)}</wp:post_date_gmt>\n"
                "<content:encoded><![CDATA[" + _words(rng, 200) + "]]></content:encoded>\n"
                "<wp:post_type>post</wp:post_type>\n"
            )
            depth: dict[int, int] = {}
            for index in range(count):
                comment_id = written + index + 1
                parent = 0
                if index and rng.random() < 0.6:
                    parent = written + rng.randint(1, index)
                    if depth[parent] >= 8:
                        parent = 0
                depth[comment_id] = depth.get(parent, 0) + 1 if parent else 1
                out.write(
                    "<wp:comment>\n"
                    f"<wp:comment_id>{comment_id}</wp:comment_id>\n"
                    f"<wp:comment_author><![CDATA[{rng.choice(names)}]]></wp:comment_author>\n"
                    "<wp:comment_author_email>reader@example.org</wp:comment_author_email>\n"
                    "<wp:comment_author_IP>192.0.2.1</wp:comment_author_IP>\n"
                    f"<wp:comment_date>{_wxr_date(base + 60 * index)}</wp:comment_date>\n"
                    f"<wp:comment_date_gmt>{_wxr_date(base + 60 * index)}</wp:comment_date_gmt>\n"
                    f"<wp:comment_content><![CDATA[{_content(rng)}]]></wp:comment_content>\n"
                    f"<wp:comment_approved>{0 if rng.random() < 0.05 else 1}"
                    "</wp:comment_approved>\n<wp:comment_type>comment</wp:comment_type>\n"
                    f"<wp:comment_parent>{parent}</wp:comment_parent>\n"
                    "<wp:comment_user_id>0</wp:comment_user_id>\n</wp:comment>\n"
                )
            written += count
            out.write("</item>\n")
        out.write("</channel>\n</rss>\n")
    return posts


ISSO_SCHEMA = """
CREATE TABLE preferences (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE threads (id INTEGER PRIMARY KEY, uri VARCHAR(256) UNIQUE, title VARCHAR(256));
CREATE TABLE comments (
    tid REFERENCES threads(id), id INTEGER PRIMARY KEY, parent INTEGER,
    created FLOAT NOT NULL, modified FLOAT, mode INTEGER, remote_addr VARCHAR,
    text VARCHAR NOT NULL, author VARCHAR, email VARCHAR, website VARCHAR,
    likes INTEGER DEFAULT 0, dislikes INTEGER DEFAULT 0, voters BLOB NOT NULL,
    notification INTEGER DEFAULT 0);
"""  # Isso 0.14's tables, as in shared/fixtures/import/isso-0.14-comments.db


def generate_isso(path: Path, comments: int, per_thread: int = 100, seed: int = 7) -> int:
    """Write an Isso database with `comments` comments; returns the number of threads."""
    import sqlite3

    rng = random.Random(seed)
    threads = max(1, comments // per_thread)
    names = [f"Reader {i}" for i in range(2000)]
    db = sqlite3.connect(path)
    db.executescript(ISSO_SCHEMA)
    written = 0
    for thread in range(threads):
        tid = thread + 1
        db.execute("INSERT INTO threads VALUES (?, ?, ?)", (tid, f"/{thread}/", f"Post {thread}"))
        count = per_thread if thread < threads - 1 else comments - written
        base = 1_300_000_000 + thread * 86_400
        tops: list[int] = []
        rows = []
        for index in range(count):
            cid = written + index + 1
            parent = rng.choice(tops) if tops and rng.random() < 0.5 else None
            if parent is None:
                tops.append(cid)
            roll = rng.random()
            mode = 2 if roll < 0.05 else (4 if roll < 0.06 and parent is None else 1)
            deleted = mode == 4
            rows.append((
                tid, cid, parent, base + 60.0 * index, None, mode, "192.0.2.0",
                "" if deleted else _words(rng, rng.randint(8, 40)).capitalize() + ".",
                None if deleted else rng.choice(names), None, None, 0, 0, b"\0" * 256, 0,
            ))  # fmt: skip
        db.executemany("INSERT INTO comments VALUES (" + ",".join("?" * 15) + ")", rows)
        written += count
    db.commit()
    db.close()
    return threads


def _wxr_date(epoch: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch))


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _content(rng: random.Random) -> str:
    """Mostly plain text with newlines, as typed in WordPress; a third with markup."""
    text = _words(rng, rng.randint(8, 40)).capitalize() + "."
    if rng.random() < 0.3:
        text += "\n\n" + _words(rng, rng.randint(5, 20)).capitalize() + "."
    roll = rng.random()
    if roll < 0.15:
        text += ' See <a href="https://example.org/page" rel="nofollow">this page</a> &amp; more.'
    elif roll < 0.3:
        text = f"<p>{escape(text)}</p>\n<p><em>{_words(rng, 6)}</em><br />{_words(rng, 4)}</p>"
    return text


# ---- cases (each runs in its own process) ----------------------------------------------


def case_parse(path: str) -> dict:
    started = time.perf_counter()
    comments = 0
    for _, element in ET.iterparse(path):
        if element.tag.endswith("}comment"):
            comments += 1
        element.clear()
    return {"seconds": time.perf_counter() - started, "comments": comments}


def case_batched_write(backend: str, url: str, events: int, text_length: int) -> dict:
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate

    from domain.settings import Database

    class Item(Aggregate):
        class Created(Aggregate.Created):
            thread_id: uuid.UUID
            parent_id: uuid.UUID | None
            author_id: uuid.UUID
            text: str

        def __init__(self, thread_id, parent_id, author_id, text):
            self.text = text

    app = Application(env=Database.from_url(url).library_env(create_table=True))
    text = ("x" * text_length)[:text_length]
    thread_id, author_id = uuid.uuid4(), uuid.uuid4()
    started = time.perf_counter()
    done = 0
    while done < events:
        batch = [
            Item._create(
                Item.Created,
                id=uuid.uuid4(),
                thread_id=thread_id,
                parent_id=None,
                author_id=author_id,
                text=text,
            )
            for _ in range(min(1000, events - done))
        ]
        app.save(*batch)
        done += len(batch)
    seconds = time.perf_counter() - started
    app.close()
    return {"seconds": seconds, "events": events}


def case_import(url: str, path: str, source_format: str = "wxr") -> dict:
    from domain.settings import Database
    from projections.setup import open_application
    from workers.importing.run import import_file

    app = open_application(Database.from_url(url))
    started = time.perf_counter()
    summary = import_file(app, path, source_format)
    seconds = time.perf_counter() - started
    events = app.recorder.max_notification_id() or 0
    app.close()
    return {"seconds": seconds, "comments": summary.comments, "events": events}


def run_case(*args: str) -> dict:
    """Run a case in a fresh interpreter; returns its figures and its peak memory."""
    result = subprocess.run(
        [sys.executable, __file__, "--case", json.dumps(args)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def _case_main(args: list[str]) -> None:
    name, *rest = args
    if name == "parse":
        figures = case_parse(rest[0])
    elif name == "write":
        figures = case_batched_write(rest[0], rest[1], int(rest[2]), int(rest[3]))
    else:
        figures = case_import(*rest)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    figures["maxrss_mib"] = usage.ru_maxrss / 1024
    figures["cpu_seconds"] = usage.ru_utime + usage.ru_stime  # this process only
    print(json.dumps(figures))


# ---- stores --------------------------------------------------------------------------


class Store:
    """A fresh, initialised event store for one case (bench/common.py temp_store); its
    URL, removed afterwards. `directory` is unused: temp_store makes its own."""

    def __init__(self, backend: str, directory: Path):
        self.backend = backend
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> str:
        from stores import temp_store

        return self._stack.enter_context(temp_store(self.backend)).url

    def __exit__(self, *exc) -> None:
        self._stack.close()


def mean_text_length(path: Path, sample: int = 2000) -> int:
    from workers.importing.html_text import html_to_text

    lengths = []
    for _, element in ET.iterparse(path):
        if element.tag.endswith("}comment_content"):
            lengths.append(len(html_to_text(element.text, keep_newlines=True)))
            if len(lengths) >= sample:
                break
    return int(sum(lengths) / max(1, len(lengths)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--comments", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--formats", default="wxr,isso")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.case:
        _case_main(json.loads(options.case))
        return

    backends = [b for b in options.backends.split(",") if b]
    formats = [f for f in options.formats.split(",") if f]
    sizes = sorted({max(100, options.comments // 10), options.comments})
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"nproc: {cpus}   python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="bench_import_") as tmp:
        directory = Path(tmp)
        files = {}
        generators = {"wxr": (generate_wxr, "xml"), "isso": (generate_isso, "db")}
        for fmt in formats:
            generate, suffix = generators[fmt]
            for size in sizes:
                path = directory / f"{fmt}-{size}.{suffix}"
                started = time.perf_counter()
                threads = generate(path, size)
                files[(fmt, size)] = path
                print(
                    f"generated {path.name}: {size:,} comments in {threads:,} threads,"
                    f" {path.stat().st_size / 2**20:.1f} MiB"
                    f" ({time.perf_counter() - started:.1f} s)"
                )
        big = directory / f"wxr-{options.comments}.xml"  # the baselines' file
        if ("wxr", options.comments) not in files:
            generate_wxr(big, options.comments)
        text_length = mean_text_length(big)

        parse = run_case("parse", str(big))
        parse_rate = parse["comments"] / parse["seconds"]
        print(
            f"\nbaseline 1, iterparse and discard: {parse['seconds']:.2f} s,"
            f" {parse_rate:,.0f} comments/s, maxrss {parse['maxrss_mib']:.0f} MiB"
        )

        results = {}
        for backend in backends:
            with Store(backend, directory) as url:
                events = str(min(options.comments, 50_000))
                write = run_case("write", backend, url, events, str(text_length))
            write_rate = write["events"] / write["seconds"]
            print(
                f"\n[{backend}] baseline 2, batched write (1,000 one-event aggregates per save,"
                f" {text_length}-char texts): {write['events']:,} events in"
                f" {write['seconds']:.2f} s = {write_rate:,.0f} events/s"
                f" (client CPU {1e6 * write['cpu_seconds'] / write['events']:.0f} us/event)"
            )
            for fmt in formats:
                for size in sizes:
                    with Store(backend, directory) as url:
                        imported = run_case("import", url, str(files[(fmt, size)]), fmt)
                    rate = imported["comments"] / imported["seconds"]
                    results[(backend, fmt, size)] = imported
                    cpu = 1e6 * imported["cpu_seconds"] / imported["comments"]
                    print(
                        f"[{backend}] {fmt} import {size:,}: {imported['comments']:,} comments"
                        f" ({imported['events']:,} events) in {imported['seconds']:.2f} s ="
                        f" {rate:,.0f} comments/s, maxrss {imported['maxrss_mib']:.0f} MiB"
                        f" (client CPU {cpu:.0f} us/comment)"
                    )
                big_import = results[(backend, fmt, options.comments)]
                rate = big_import["comments"] / big_import["seconds"]
                event_rate = big_import["events"] / big_import["seconds"]
                print(
                    f"[{backend}] {fmt} ratio import/batched-write: {rate / write_rate:.0%} in"
                    f" comments ({event_rate / write_rate:.0%} in events); target >= 25%"
                )
                if len(sizes) == 2:
                    small, large = (results[(backend, fmt, s)]["maxrss_mib"] for s in sizes)
                    print(
                        f"[{backend}] {fmt} memory: maxrss {small:.0f} MiB for {sizes[0]:,}"
                        f" comments, {large:.0f} MiB for {sizes[1]:,} ({large / small:.2f}x"
                        f" for {sizes[1] / sizes[0]:.0f}x the file)"
                    )


if __name__ == "__main__":
    main()
