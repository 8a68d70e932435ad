"""Fast generation of realistic event logs, and byte-for-byte dumps of projections.

`generate` builds aggregates in memory and saves many of them per `save()` call (one
transaction each), so a log of thousands (or a million) events is written in seconds.
The mix is posts, replies and edits spread over a number of threads; replies and edits
only ever refer to comments saved earlier in the log, so the log is valid as recorded.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from uuid import UUID

from domain.application import Discussions
from domain.model import MEMBER, MODERATOR, OPERATOR, Actor, Author, Comment, Thread
from projections.engine import Engine


@dataclass
class Workload:
    """What was generated: enough to check the projections against."""

    authors: list[UUID] = field(default_factory=list)
    threads: list[UUID] = field(default_factory=list)
    comments: dict[UUID, list[UUID]] = field(default_factory=dict)  # thread -> comment ids
    events: int = 0
    head: int = 0


def generate(
    app: Discussions,
    events: int,
    *,
    threads: int = 20,
    authors: int = 10,
    posts: float = 0.60,
    replies: float = 0.25,
    batch: int = 500,
    seed: int = 7,
    window: int = 200,
    record: bool = True,
    progress: Callable[[int], None] | None = None,
) -> Workload:
    """Record about `events` events: the given shares of top-level posts and replies, the
    rest edits (after the authors and threads, which count too). Replies and edits pick
    among each thread's `window` latest comments (memory stays bounded for millions of
    events). With `record`, the Workload lists every comment id by thread."""
    rng = random.Random(seed)
    work = Workload()
    pending: list = []
    fresh: set[UUID] = set()  # comments posted in the batch being built
    live: dict[UUID, deque[Comment]] = {}  # thread -> its latest saved comments

    def flush() -> None:
        if not pending:
            return
        recordings = app.save(*pending)
        work.head = max(r.notification.id for r in recordings)
        work.events += len(recordings)
        for aggregate in pending:
            if isinstance(aggregate, Comment) and aggregate.id in fresh:
                live.setdefault(aggregate.thread_id, deque(maxlen=window)).append(aggregate)
        pending.clear()
        fresh.clear()
        if progress:
            progress(work.events)

    roles = [MODERATOR] + [MEMBER] * (authors - 1)
    actors: list[Actor] = []
    for number, role in enumerate(roles):
        author = Author.register(name=f"author {number}", role=role, token_hash="x")
        pending.append(author)
        actors.append(Actor(author.id, role))
        work.authors.append(author.id)
    for number in range(threads):
        thread = Thread.open(title=f"thread {number}", body=None, key=None, actor_id=OPERATOR.id)
        pending.append(thread)
        work.threads.append(thread.id)
        work.comments[thread.id] = []
    flush()

    count = len(roles) + threads
    in_batch: set[UUID] = set()
    while count < events:
        dice = rng.random()
        thread_id = rng.choice(work.threads)
        actor = rng.choice(actors)
        known = live.get(thread_id)
        if dice < posts or not known:
            comment = Comment.post(
                thread_id=thread_id,
                parent_id=None,
                author_id=actor.id,
                text=f"post {count} " + "words " * rng.randint(3, 30),
            )
            fresh.add(comment.id)
        elif dice < posts + replies:
            parent = rng.choice(known)
            comment = Comment.post(
                thread_id=thread_id,
                parent_id=parent.id,
                author_id=actor.id,
                text=f"reply {count} to {parent.id}",
            )
            fresh.add(comment.id)
        else:
            comment = rng.choice(known)
            if comment.id in in_batch:  # one aggregate appears once per save()
                continue
            comment.edit(f"edit {count} " + "more " * rng.randint(1, 20), OPERATOR)
        if record and comment.id in fresh:
            work.comments[thread_id].append(comment.id)
        in_batch.add(comment.id)
        pending.append(comment)
        count += 1
        if len(pending) >= batch:
            flush()
            in_batch.clear()
    flush()
    return work


def dump(engine: Engine, name: str, generation: int | None = None) -> dict[str, list[tuple]]:
    """Every row of every table of one generation of a projection, ordered by the primary
    key (the first one or two columns), as tuples: equal dumps mean equal tables."""
    projection = engine.projections[name]
    generation = generation or engine.generation(name)
    reader = engine.store.reader()
    result = {}
    for logical, table in projection.tables(generation).names.items():
        rows = reader.execute(f"SELECT * FROM {table} ORDER BY 1, 2").all()
        result[logical] = [tuple(row.values()) for row in rows]
    return result
