"""Property: for random histories, the thread as of every position P is the same three
ways — the time-travel view (checkpoint + replay), the thread rebuilt from nothing by
the reducer fed the log up to P, and what the live projection showed when it had
reached P (caught up one event at a time).

Random sequences of operations (open, post, reply, edit, retract, hide, restore, lock,
unlock, retitle) go through the application service on a fresh SQLite store; commands
the domain refuses record nothing and are simply skipped.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import DomainError
from domain.model import MODERATOR, OPERATOR_ID
from domain.settings import Database
from projections import queries, time_travel
from projections.db import ViewStore
from projections.engine import Engine
from projections.queries import NotInView, PageRequest
from projections.registry import all_projections
from projections.setup import initialise, open_application
from projections.time_travel import ThreadState, TimeTravel

CHECKPOINT_EVERY = 3
REQUESTS = [
    PageRequest(),
    PageRequest(moderator=True),
    PageRequest(limit=2, depth=1, sort="newest", replies_limit=1, moderator=True),
]

# Small numbers: operations keep coming back to the same few (recent) comments.
pick = st.integers(min_value=0, max_value=3)
# (kind, a, b, flag): `a` and `b` pick a thread, an author, a comment (meaning by kind);
# replies and edits are the most frequent, as in real threads.
KINDS = [
    "post",
    "post",
    "reply",
    "reply",
    "reply",
    "edit",
    "edit",
    "retract",
    "hide",
    "restore",
    "lock",
    "unlock",
    "unlock",
    "retitle",
    "open",
]
operation = st.tuples(st.sampled_from(KINDS), pick, pick, st.booleans())


def run(app, ops) -> list[str]:
    """Apply the operations; return the thread ids."""
    ann = app.register_author("Ann").author_id
    bob = app.register_author("Bob").author_id
    mo = app.register_author("Mo", role=MODERATOR).author_id
    authors = [ann, bob, mo]
    threads = [app.open_thread(OPERATOR_ID, "Property").thread_id]
    comments: list[tuple] = []  # (comment id, thread id)

    def recent(i: int):
        return comments[-1 - i % len(comments)]

    for n, (kind, a, b, flag) in enumerate(ops):
        thread = threads[a % len(threads)]
        try:
            if kind == "post" or (kind == "reply" and not comments):
                posted = app.post_comment(authors[b % 3], thread, f"post {n}")
                comments.append((posted.comment_id, thread))
            elif kind == "reply" and comments:
                parent, parent_thread = recent(b)
                author = authors[a % 3]
                posted = app.post_comment(author, parent_thread, f"reply {n}", parent_id=parent)
                comments.append((posted.comment_id, parent_thread))
            elif kind == "edit" and comments:
                comment = recent(a)[0]
                editor = app.get_comment(comment).author_id if b % 2 else mo
                reason = f"reason {n}" if flag else None
                app.edit_comment(editor, comment, f"edit {n}\nsecond line", reason=reason)
            elif kind == "retract" and comments:
                comment = recent(a)[0]
                actor = app.get_comment(comment).author_id if b % 2 else mo
                app.retract_comment(actor, comment, "changed my mind" if flag else None)
            elif kind == "hide" and comments:
                app.hide_comment(mo, recent(a)[0], f"hidden {n}")
            elif kind == "restore" and comments:
                app.restore_comment(mo, recent(a)[0])
            elif kind == "lock":
                app.lock_thread(mo, thread, "locked")
                if not flag:  # locked for one event only: posts stay possible
                    app.unlock_thread(mo, thread)
            elif kind == "unlock":
                app.unlock_thread(mo, thread)
            elif kind == "retitle":
                app.retitle_thread(mo, thread, f"Title {n}")
            elif kind == "open" and len(threads) < 3:
                threads.append(app.open_thread(OPERATOR_ID, f"Thread {n}").thread_id)
        except DomainError:
            pass  # refused: nothing recorded
    return [str(t) for t in threads]


def live_page(engine: Engine, thread_id: str, req: PageRequest):
    try:
        return queries.thread_page(engine, thread_id, req)
    except NotInView:
        return None


def as_of_page(engine: Engine, thread_id: str, req: PageRequest, position: int):
    try:
        page = time_travel.thread_page_as_of(engine, thread_id, req, position)
    except NotInView:
        return None
    assert page.pop("as_of")["position"] == page["thread"]["position"]
    return page


def scratch_page(engine: Engine, events, thread_id: str, req: PageRequest, position: int):
    state = ThreadState(thread_id)
    for p, event in events:
        if p > position:
            break
        state.apply(event, p)
    return None if state.thread is None else time_travel.page_from_state(state, req, engine)


@settings(
    max_examples=25,
    database=None,  # no .hypothesis/ example database in the working tree
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(ops=st.lists(operation, min_size=8, max_size=30))
def test_as_of_equals_rebuilt_equals_live_at_every_position(ops):
    folder = Path(tempfile.mkdtemp(prefix="discuss-as-of-"))
    database = Database.from_url(f"sqlite:///{folder}/store.db")
    initialise(database)
    app = open_application(database)
    projections = [
        TimeTravel(checkpoint_every=CHECKPOINT_EVERY) if p.name == "time_travel" else p
        for p in all_projections()
        if p.name in ("threads", "time_travel", "decisions")
    ]
    engine = Engine(app, ViewStore(database), projections)
    try:
        thread_ids = run(app, ops)
        engine.catch_up("time_travel")
        engine.catch_up("decisions")  # today's decisions apply to every position
        head = app.head_position()
        events = [
            (n.id, engine.decoder.decode(n))
            for n in app.recorder.select_notifications(start=1, limit=head)
        ]
        for position in range(1, head + 1):
            engine.catch_up("threads", page_size=1, max_pages=1)
            assert engine.position("threads") == position
            for thread_id in thread_ids:
                for req in REQUESTS:
                    live = live_page(engine, thread_id, req)
                    rebuilt = scratch_page(engine, events, thread_id, req, position)
                    past = as_of_page(engine, thread_id, req, position)
                    assert rebuilt == live, (position, thread_id, req)
                    assert past == live, (position, thread_id, req)
    finally:
        engine.store.close()
        app.close()
        shutil.rmtree(folder, ignore_errors=True)
