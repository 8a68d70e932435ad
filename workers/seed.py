"""Load the demo thread (a copy of shared/fixtures/seed-thread.json ships here).

Idempotent: authors and the thread have ids derived from their names and key,
so loading twice records nothing the second time.

The file holds no dates, so the loader gives every event an explicit, plausible
time (`at=`) on a fixed schedule (`seed_schedule`): the comments are posted in the
file's order (each reply right after its parent, before the parent's next
sibling), each some time after the one before (`seed_gap`): a top-level comment
hours later, a reply within the hour or two, so the 28 comments spread over about
two days after the post. The gaps are derived from the comment's place in that
order and its depth, never drawn at random, so every load gives the same schedule,
and the times strictly increase in log order (each of the time slider's change
points reads a different time). A seed author is registered one minute before
their first comment.

The schedule is laid out backwards from the load: the last comment falls one hour
before it, so the demo reads as a recent discussion ("2 days ago"). Pass
`opened_at` to pin the thread's opening, and with it every timestamp, exactly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.application import Discussions
from domain.errors import AuthorNotFound, ThreadNotFound
from domain.model import OPERATOR_ID, Thread

SEED_FILE = Path(__file__).parent / "data" / "seed-thread.json"
DEMO_KEY = "demo/savelabour-vote-jeremy"
LAST_COMMENT_BEFORE_LOAD = timedelta(hours=1)


@dataclass(frozen=True)
class SeedResult:
    thread_id: UUID
    comments: int
    created: bool
    position: int


def seed_author_id(name: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"/authors/seed/{name}")


def seed_gap(index: int, depth: int) -> timedelta:
    """How long after the comment before it (or the post) the `index`-th comment
    (1, 2, … in posting order) at `depth` (0 for top-level) is posted: deterministic,
    at least 25 minutes, varied by the index so that the times fall on no grid."""
    if depth == 0:  # a new top-level comment: 2 to 6 hours later
        return timedelta(hours=2, minutes=(index * 97) % 240, seconds=(index * 37) % 60)
    # A reply: 25 minutes to 2 hours later, a little later deeper in the tree.
    return timedelta(minutes=20 + 5 * depth + (index * 53) % 70, seconds=(index * 41) % 60)


def seed_schedule(comments: list[dict]) -> list[timedelta]:
    """Each comment's time after the thread's opening, in posting order."""
    offsets: list[timedelta] = []

    def walk(items: list[dict], depth: int) -> None:
        for item in items:
            previous = offsets[-1] if offsets else timedelta(0)
            offsets.append(previous + seed_gap(len(offsets) + 1, depth))
            walk(item.get("replies", []), depth + 1)

    walk(comments, 0)
    return offsets


def _ensure_author(app: Discussions, name: str, at: datetime) -> UUID:
    author_id = seed_author_id(name)
    try:
        app.get_author(author_id)
    except AuthorNotFound:
        app.register_author(name, author_id=author_id, at=at)
    return author_id


def load_seed(
    app: Discussions,
    path: Path = SEED_FILE,
    key: str = DEMO_KEY,
    opened_at: datetime | None = None,
) -> SeedResult:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    thread_id = Thread.id_for_key(key)
    try:
        app.get_thread(thread_id)
        return SeedResult(thread_id, 0, False, app.head_position())
    except ThreadNotFound:
        pass
    schedule = seed_schedule(data["comments"])
    if opened_at is None:
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        opened_at = now - LAST_COMMENT_BEFORE_LOAD - (schedule[-1] if schedule else timedelta(0))
    position = app.open_thread(
        OPERATOR_ID, data["title"], body=data.get("body"), key=key, at=opened_at
    ).position
    count = 0

    def post_all(comments: list[dict], parent_id: UUID | None) -> None:
        nonlocal count, position
        for item in comments:
            at = opened_at + schedule[count]
            count += 1
            author_id = _ensure_author(app, item["author"], at - timedelta(minutes=1))
            posted = app.post_comment(
                author_id, thread_id, item["text"], parent_id=parent_id, at=at
            )
            position = posted.position
            post_all(item.get("replies", []), posted.comment_id)

    post_all(data["comments"], None)
    return SeedResult(thread_id, count, True, position)
