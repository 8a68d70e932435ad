"""Benchmark data: deterministic threads of realistic comments (text lengths and
nesting), seeded through the application service or the importer, and large logs
written in batched saves."""

from __future__ import annotations

import math
import random
import re
import time
import uuid
from dataclasses import dataclass, field

from common import SEED_CORPUS

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

    key = app.data_key  # the application's own: a no-op key when sealing is off

    def seal(k, value: str) -> str:
        keys.append(k)
        return k.seal(value)

    def flush() -> None:
        if not pending:
            return
        recordings = app.save_sealed(*pending, keys=keys)
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
