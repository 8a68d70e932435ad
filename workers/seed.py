"""Load the demo thread (a copy of shared/fixtures/seed-thread.json ships here).

Idempotent: authors and the thread have ids derived from their names and key,
so loading twice records nothing the second time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.application import Discussions
from domain.errors import AuthorNotFound, ThreadNotFound
from domain.model import OPERATOR_ID, Thread

SEED_FILE = Path(__file__).parent / "data" / "seed-thread.json"
DEMO_KEY = "demo/savelabour-vote-jeremy"


@dataclass(frozen=True)
class SeedResult:
    thread_id: UUID
    comments: int
    created: bool
    position: int


def seed_author_id(name: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"/authors/seed/{name}")


def _ensure_author(app: Discussions, name: str) -> UUID:
    author_id = seed_author_id(name)
    try:
        app.get_author(author_id)
    except AuthorNotFound:
        app.register_author(name, author_id=author_id)
    return author_id


def load_seed(app: Discussions, path: Path = SEED_FILE, key: str = DEMO_KEY) -> SeedResult:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    thread_id = Thread.id_for_key(key)
    try:
        app.get_thread(thread_id)
        return SeedResult(thread_id, 0, False, app.head_position())
    except ThreadNotFound:
        pass
    position = app.open_thread(OPERATOR_ID, data["title"], body=data.get("body"), key=key).position
    count = 0

    def post_all(comments: list[dict], parent_id: UUID | None) -> None:
        nonlocal count, position
        for item in comments:
            author_id = _ensure_author(app, item["author"])
            posted = app.post_comment(author_id, thread_id, item["text"], parent_id=parent_id)
            position = posted.position
            count += 1
            post_all(item.get("replies", []), posted.comment_id)

    post_all(data["comments"], None)
    return SeedResult(thread_id, count, True, position)
