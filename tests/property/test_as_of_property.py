"""Property: for random histories, the thread as of every position P is the same three
ways — the time-travel view (checkpoint + replay), the thread rebuilt from nothing by
the reducer fed the log up to P, and what the live projection showed when it had
reached P (caught up one event at a time) — for every class of viewer, all three with
TODAY's withholding decisions applied (the decisions projection is at the head of the
log, whatever P), and none of them showing what those decisions withhold.

Random sequences of operations (tests/property/histories.py: open, post, reply, edit,
retract, hide, restore, suppress and unsuppress a revision, erase a revision, a
comment or an author, lock, unlock, retitle) go through the application service on a
fresh SQLite store opened as the product opens it (content sealed, erasure destroys
keys); commands the domain refuses record nothing and are simply skipped.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from domain.model import MODERATOR, OPERATOR_ID
from domain.settings import Database
from projections import queries, time_travel
from projections.db import ViewStore
from projections.engine import Engine
from projections.queries import NotInView, PageRequest
from projections.registry import all_projections
from projections.setup import initialise, open_application
from projections.time_travel import ThreadState, TimeTravel
from tests.property.histories import check_withheld, operation, run, withheld_today
from tests.support.views import live_rows, state_rows

CHECKPOINT_EVERY = 3
# Thread pages differ by the viewer's class only (PageRequest.moderator: the THREAD
# surface shows nothing more to a comment's author): both, and a small page each, so
# that cut-off replies and "more" markers are compared too.
REQUESTS = [
    PageRequest(),
    PageRequest(moderator=True),
    PageRequest(limit=2, depth=1, sort="newest", replies_limit=1),
    PageRequest(limit=2, depth=1, sort="newest", replies_limit=1, moderator=True),
]


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


def scratch_state(events, thread_id: str, position: int) -> ThreadState:
    """The reducer fed the log from the first event up to `position`."""
    state = ThreadState(thread_id)
    for p, decoded in events:
        if p > position:
            break
        state.apply(decoded, p)
    return state


def scratch_page(engine: Engine, state: ThreadState, req: PageRequest):
    return None if state.thread is None else time_travel.page_from_state(state, req, engine)


@settings(
    max_examples=80,
    database=None,  # no .hypothesis/ example database in the working tree
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(ops=st.lists(operation, min_size=10, max_size=50))
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
        history = run(app, ops)
        for kind in sorted(set(history.kinds)):
            event(kind)  # what the examples covered: pytest --hypothesis-show-statistics
        engine.catch_up("time_travel")
        engine.catch_up("decisions")  # today's decisions apply to every position
        head = app.head_position()
        assert engine.position("decisions") == head
        withheld = {m: withheld_today(app, history, m) for m in (False, True)}
        events = [
            (n.id, engine.decoder.decode(n))
            for n in app.recorder.select_notifications(start=1, limit=head)
        ]
        for position in range(1, head + 1):
            # The live thread view applies the events up to P, and no further.
            engine.catch_up("threads", page_size=1, max_pages=1)
            assert engine.position("threads") == position
            for thread_id in history.threads:
                scratch = scratch_state(events, thread_id, position)
                # The rows themselves first (sealed values compared as stored).
                rows = live_rows(engine, thread_id)
                assert state_rows(scratch) == rows, (position, thread_id)
                if rows[0] is not None:
                    stored = time_travel.state_at(engine, thread_id, position)
                    assert state_rows(stored) == rows, (position, thread_id)
                for req in REQUESTS:
                    live = live_page(engine, thread_id, req)
                    rebuilt = scratch_page(engine, scratch, req)
                    past = as_of_page(engine, thread_id, req, position)
                    assert rebuilt == live, (position, thread_id, req)
                    assert past == live, (position, thread_id, req)
                    check_withheld(live, withheld[req.moderator])
    finally:
        engine.store.close()
        app.close()
        shutil.rmtree(folder, ignore_errors=True)


def test_retracted_while_hidden_shows_moderators_nothing_on_past_thread_pages(tmp_path):
    """Retracted by its author while a moderator had it hidden: on thread pages, live
    and past, nobody sees it, moderators included (found by the property above)."""
    database = Database.from_url(f"sqlite:///{tmp_path}/store.db")
    initialise(database)
    app = open_application(database)
    engine = Engine(app, ViewStore(database), all_projections())
    try:
        ann = app.register_author("Ann").author_id
        mo = app.register_author("Mo", role=MODERATOR).author_id
        thread_id = app.open_thread(OPERATOR_ID, "Retracted while hidden").thread_id
        posted = app.post_comment(ann, thread_id, "call me on 07700 900123")
        app.hide_comment(mo, posted.comment_id, "personal data")
        app.retract_comment(ann, posted.comment_id, "posted by mistake")
        engine.catch_up_all()
        req = PageRequest(moderator=True)
        now = queries.thread_page(engine, str(thread_id), req)["comments"][0]
        assert now["text"] is None  # today, on the live page: nobody
        past = time_travel.thread_page_as_of(engine, str(thread_id), req, posted.position)
        assert past["comments"][0]["text"] is None, past["comments"][0]
    finally:
        engine.store.close()
        app.close()
