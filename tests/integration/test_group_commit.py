"""Group commit (domain/group_commit.py): concurrent writes of one process share one
transaction, each gets its own position, and one write's failure fails no other.

Threads of one process race real commands on SQLite and on PostgreSQL. To make the
batch deterministic, the store's first transaction is held until every other writer
is queued behind it (the gate below); then everything queued must go in ONE more
transaction. Writes that conflict inside that shared transaction make it fail as a
whole; the others must still be saved, and only the conflicting one refused.
"""

from __future__ import annotations

import threading
import time
from uuid import UUID

import pytest

from domain.errors import VersionConflict
from domain.model import OPERATOR_ID, Comment
from tests.support.store import all_events

GATE_SECONDS = 10  # the most the first transaction waits for the others to queue


class Gate:
    """Counts the store's write transactions; holds the first until `waiting` other
    writes are queued in the application's group commit (or GATE_SECONDS pass)."""

    def __init__(self, app, waiting: int):
        self.app = app
        self.waiting = waiting
        self.transactions: list[int] = []  # events per transaction
        self._insert = app.recorder.insert_events
        app.recorder.insert_events = self._gated

    def _queued(self) -> int:
        group = getattr(self.app, "group_commit", None)
        return len(group._queue) if group is not None else 0

    def _gated(self, stored_events, **kwargs):
        if not self.transactions:
            self.transactions.append(len(stored_events))
            deadline = time.monotonic() + GATE_SECONDS
            while self._queued() < self.waiting and time.monotonic() < deadline:
                time.sleep(0.01)
        else:
            self.transactions.append(len(stored_events))
        return self._insert(stored_events, **kwargs)


def run_all(calls) -> list:
    """Run each call in its own thread, the first one first; results or exceptions."""
    results: list = [None] * len(calls)

    def run(n, call):
        try:
            results[n] = call()
        except Exception as error:  # the test inspects it
            results[n] = error

    threads = [threading.Thread(target=run, args=(n, c)) for n, c in enumerate(calls)]
    threads[0].start()
    time.sleep(0.05)  # the first write reaches the store before the others queue
    for thread in threads[1:]:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


@pytest.fixture
def scene(app):
    author = app.register_author("Writer").author_id
    thread = app.open_thread(OPERATOR_ID, "Busy").thread_id
    comment = app.post_comment(author, thread, "to be edited").comment_id
    return app, author, thread, comment


def test_concurrent_posts_share_one_transaction_and_get_their_own_positions(scene):
    app, author, thread, _ = scene
    before = len(all_events(app))
    writers = 12
    gate = Gate(app, waiting=writers - 1)
    posted = run_all(
        [lambda n=n: app.post_comment(author, thread, f"comment {n}") for n in range(writers)]
    )
    assert not [p for p in posted if isinstance(p, Exception)], posted
    # The first alone (held at the gate), then everything queued meanwhile in ONE.
    assert gate.transactions == [1, writers - 1]
    assert len({p.position for p in posted}) == writers
    events = dict(all_events(app))
    assert len(events) == before + writers
    for p in posted:  # each position is that write's own event
        event = events[p.position]
        assert isinstance(event, Comment.Posted) and event.originator_id == p.comment_id


def test_a_conflicting_write_in_a_shared_transaction_fails_alone(scene):
    app, author, thread, comment = scene
    before = len(all_events(app))
    posts, edits = 6, 3
    gate = Gate(app, waiting=posts + edits + 1)
    calls = [lambda: app.post_comment(author, thread, "first, alone")]
    calls += [lambda n=n: app.post_comment(author, thread, f"post {n}") for n in range(posts)]
    # Three edits of one comment from the same version: one may win.
    calls += [
        lambda n=n: app.edit_comment(author, comment, f"edit {n}", expected_version=1)
        for n in range(edits)
    ]
    # The same idempotent post twice: one creates it, the other gets the original back.
    calls += [lambda: app.post_comment(author, thread, "once", client_key="k-1")] * 2
    results = run_all(calls)

    assert len(gate.transactions) >= 2 and gate.transactions[1] == posts + edits + 2
    post_results, edit_results = results[: posts + 1], results[posts + 1 : posts + 1 + edits]
    assert not [p for p in post_results if isinstance(p, Exception)], post_results
    won = [e for e in edit_results if not isinstance(e, Exception)]
    lost = [e for e in edit_results if isinstance(e, Exception)]
    assert len(won) == 1 and won[0].version == 2
    assert len(lost) == edits - 1 and all(isinstance(e, VersionConflict) for e in lost)
    once = results[-2:]
    assert not [o for o in once if isinstance(o, Exception)], once
    assert sorted(o.created for o in once) == [False, True]
    assert once[0].comment_id == once[1].comment_id

    events = dict(all_events(app))
    # Posts (7), one edit, one idempotent post: nothing of the refused edits.
    assert len(events) == before + posts + 1 + 1 + 1
    positions = [r.position for r in post_results] + [won[0].position]
    positions += [o.position for o in once if o.created]
    assert len(set(positions)) == len(positions)
    assert isinstance(events[won[0].position], Comment.Edited)
    assert events[won[0].position].originator_id == comment
    assert app.get_comment(comment).version == 2


def test_a_lone_write_is_saved_at_once(app):
    """No batch to wait for: one writer, one transaction, as before."""
    gate = Gate(app, waiting=0)
    author = app.register_author("Alone").author_id
    assert gate.transactions == [2]  # one transaction: the author and its name's claim
    assert isinstance(author, UUID)
