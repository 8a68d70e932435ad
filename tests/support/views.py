"""Small helpers for tests of the projections."""

from __future__ import annotations

from domain.settings import Database
from projections.engine import Engine
from projections.registry import build_engine
from projections.setup import open_application
from projections.time_travel import ThreadState

# The projections these tests check; others (audit, chain, ...) have their own tests.
MINE = ("threads", "revisions", "authors")


def catch_up(engine: Engine, names=MINE, **kwargs) -> int:
    return sum(engine.catch_up(name, **kwargs) for name in names)


def fresh_engine(database: Database) -> Engine:
    """A new application and engine on a database (own connections)."""
    return build_engine(open_application(database), database)


def close(engine: Engine) -> None:
    engine.store.close()
    engine.app.close()


def live_rows(engine: Engine, thread_id: str) -> tuple[dict, list[dict], list[dict]]:
    """The live thread view's rows of a thread: thread, comments (seq order), hidden."""
    t = engine.tables("threads")
    sql = engine.store.reader()
    thread = sql.execute(f"SELECT * FROM {t.threads} WHERE thread_id = ?", (thread_id,)).one()
    comments = sql.execute(
        f"SELECT * FROM {t.comments} WHERE thread_id = ? ORDER BY seq", (thread_id,)
    ).all()
    hidden = sql.execute(
        f"SELECT h.* FROM {t.hidden} h JOIN {t.comments} c ON c.comment_id = h.comment_id"
        " WHERE c.thread_id = ? ORDER BY c.seq",
        (thread_id,),
    ).all()
    return thread, comments, hidden


def state_rows(state: ThreadState) -> tuple[dict, list[dict], list[dict]]:
    """The same rows of a thread rebuilt in memory (time travel), in the same order."""
    order = {cid: i for i, cid in enumerate(state.comments)}
    hidden = sorted(state.hidden_rows(), key=lambda r: order[r["comment_id"]])
    return state.thread, state.comment_rows(), hidden
