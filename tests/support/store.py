"""Reading the event store back in tests."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

from domain.application import Discussions
from domain.model import Comment
from domain.sealing import is_sealed
from tests.support import opened


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def readable(app: Discussions, obj):
    """A copy of an aggregate or event with its sealed values (text, name, reason)
    opened, for assertions on what was stored."""
    found = copy.copy(obj)
    for field in ("text", "name", "reason"):
        value = getattr(obj, field, None)
        if is_sealed(value):
            object.__setattr__(found, field, opened(app, value))
    return found


def all_events(app: Discussions) -> list[tuple[int, object]]:
    """Every stored event, its sealed values opened."""
    notifications = app.recorder.select_notifications(start=1, limit=100_000)
    return [(n.id, readable(app, app.mapper.to_domain_event(n))) for n in notifications]


def stored_events(app: Discussions, aggregate_id) -> list:
    """One aggregate's events, their sealed values opened."""
    return [readable(app, e) for e in app.events.get(aggregate_id)]


def author_name(app: Discussions, item: Comment) -> str:
    return app.display_name(app.repository.get(item.author_id))
