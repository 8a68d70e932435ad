"""Publish imported comments that came in held for a reason of the source's own.

The comments of a WordPress post that was password-protected or private are
imported held for review (rules "imported-password-protected", "imported-private":
see wxr.py). Once the site owner decides that post's discussion may be public,
`discuss import publish KEY` approves every comment of that thread still held
under those rules, in one command, as the operator -- the same approval a
moderator gives one comment at a time in the queue (GET /api/v1/moderation/queue,
POST /api/v1/moderation/approve). Comments held for any other rule (pending in the
source, or held by the site's own rules since) are left in the queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from domain.application import Discussions
from domain.model import OPERATOR_ID, Thread
from projections.engine import Engine
from projections.moderation import pending_in_thread
from workers.importing.specs import PASSWORD_PROTECTED, PRIVATE_POST

PUBLISHABLE = (PASSWORD_PROTECTED, PRIVATE_POST)


@dataclass(frozen=True)
class Published:
    approved: int
    left: int  # still awaiting review in the thread, under other rules
    position: int | None


def publish_held(
    app: Discussions,
    engine: Engine,
    key: str,
    rules: tuple[str, ...] = PUBLISHABLE,
    reason: str | None = None,
) -> Published:
    """Approve the thread's comments held under `rules` (any of them)."""
    engine.catch_up_all()
    thread_id = str(Thread.id_for_key(key))
    approved, left, position = 0, 0, None
    for row in pending_in_thread(engine, thread_id):
        held_by = set(str(row["rules"]).split(","))
        if not held_by & set(rules):
            left += 1
            continue
        changed = app.approve_comment(
            OPERATOR_ID, UUID(row["comment_id"]), reason or "published after the import"
        )
        approved, position = approved + 1, changed.position
    return Published(approved, left, position)
