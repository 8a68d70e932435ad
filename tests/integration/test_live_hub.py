"""The live updates' hub (web/live_hub.py) on a real store: streams arriving together
all start from the read models' position (never 0, which would replay a thread from its
beginning), only the streams of a thread that changed are woken, a full process refuses
more, and the changes of a thread are computed once for the streams that ask the same."""

from __future__ import annotations

import threading

import pytest

from domain.model import MEMBER, OPERATOR_ID
from domain.settings import Settings
from projections import live_events
from web.live_hub import Hub, StreamsFull
from workers.bootstrap import bootstrap


@pytest.fixture
def services(sqlite_database):
    built = bootstrap(Settings.from_env(database=sqlite_database, redis_url=None))
    yield built
    built.close()


def test_streams_arriving_together_start_from_the_position_and_wake_per_thread(services):
    app, engine = services.app, services.engine
    one = app.open_thread(OPERATOR_ID, "One", key="one").thread_id
    two = app.open_thread(OPERATOR_ID, "Two", key="two").thread_id
    author = app.register_author("ann", MEMBER).author_id
    app.post_comment(author, one, "before the hub")
    engine.catch_up_many()
    served = live_events.served_position(engine)
    assert served > 0
    hub = Hub(engine, max_streams=4, poll_seconds=0.05)
    seen: list[int] = []
    subs = []
    barrier = threading.Barrier(4)

    def arrive(thread_id) -> None:
        barrier.wait()
        subs.append(hub.subscribe(str(thread_id)))
        seen.append(hub.position)

    threads = [threading.Thread(target=arrive, args=(t,)) for t in (one, one, one, two)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    try:
        assert seen == [served] * 4
        with pytest.raises(StreamsFull):
            hub.subscribe(str(one))
        for sub in subs:
            sub.clear()
        posted = app.post_comment(author, two, "news in two")
        engine.catch_up_many()
        hub.wake()
        woken = [s for s in subs if s.wait(5.0 if s.thread_id == str(two) else 0.3)]
        assert [s.thread_id for s in woken] == [str(two)]
        assert hub.position >= posted.position
        first = hub.changes(str(two), served, hub.position, False)
        again = hub.changes(str(two), served, hub.position, False)
        assert first is again  # computed once, shared
        changes, through = first
        assert [c["event"] for c in changes] == ["comment.posted"]
        assert changes[0]["comment"]["text"] == "news in two"
        assert through == hub.position
        hub.unsubscribe(subs[0])
        hub.subscribe(str(one))  # a place freed
    finally:
        hub.stop()
