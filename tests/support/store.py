"""Reading the event store back in tests."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.application import Discussions
from domain.model import Comment


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def all_events(app: Discussions) -> list[tuple[int, object]]:
    notifications = app.recorder.select_notifications(start=1, limit=100_000)
    return [(n.id, app.mapper.to_domain_event(n)) for n in notifications]


def author_name(app: Discussions, item: Comment) -> str:
    return app.repository.get(item.author_id).name
