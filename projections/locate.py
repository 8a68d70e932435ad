"""Where a comment stands in its thread: its number (1, 1.1, 1.1.1 …), the ids along
its path, and the page cursor of the page that holds it. Named queries of the thread
view for the pages (web/pages/locate.py turns a place into a URL).

Numbers count every comment in posting order, placeholders included, so a retraction
or a removal never renumbers the comments after it.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from projections.engine import Engine


@dataclass(frozen=True)
class Place:
    comment_id: str
    thread_id: str
    parent_id: str | None
    depth: int
    seq: int
    indexes: tuple[int, ...]  # 1-based position among its siblings, from the top level down
    ids: tuple[str, ...]  # the ids along the path, from the top-level comment down

    @property
    def number(self) -> str:
        return ".".join(map(str, self.indexes))


def _comments(engine: Engine) -> str:
    return engine.tables("threads").comments


def place(engine: Engine, comment_id: str) -> Place | None:
    table = _comments(engine)
    sql = engine.store.reader()
    row = sql.execute(
        f"SELECT comment_id, thread_id, parent_id, depth, seq, path FROM {table}"
        " WHERE comment_id = ?",
        (comment_id,),
    ).one()
    if row is None:
        return None
    seqs = [int(part) for part in row["path"].split("/")]
    marks = ", ".join("?" * len(seqs))
    by_seq = {
        r["seq"]: r
        for r in sql.execute(
            f"SELECT comment_id, parent_id, seq FROM {table}"
            f" WHERE thread_id = ? AND seq IN ({marks})",
            (row["thread_id"], *seqs),
        ).all()
    }
    indexes, ids = [], []
    for level, seq in enumerate(seqs):
        node = by_seq[seq]
        if level == 0:
            where, params = "depth = 0", ()
        else:
            where, params = "parent_id = ?", (node["parent_id"],)
        indexes.append(
            int(
                sql.execute(
                    f"SELECT COUNT(*) AS n FROM {table} WHERE thread_id = ? AND {where}"
                    " AND seq <= ?",
                    (row["thread_id"], *params, seq),
                ).scalar()
            )
        )
        ids.append(node["comment_id"])
    return Place(
        comment_id=row["comment_id"],
        thread_id=row["thread_id"],
        parent_id=row["parent_id"],
        depth=row["depth"],
        seq=row["seq"],
        indexes=tuple(indexes),
        ids=tuple(ids),
    )


def cursor_for(engine: Engine, thread_id: str, index: int, limit: int, parent_id: str | None):
    """The page cursor (seq of the last item of the previous page) of the page holding
    the index-th (1-based) of a list of siblings; None for the first page."""
    start = ((index - 1) // limit) * limit
    if start == 0:
        return None
    table = _comments(engine)
    where, params = ("depth = 0", ()) if parent_id is None else ("parent_id = ?", (parent_id,))
    return (
        engine.store.reader()
        .execute(
            f"SELECT seq FROM {table} WHERE thread_id = ? AND {where}"
            " ORDER BY seq LIMIT 1 OFFSET ?",
            (thread_id, *params, start - 1),
        )
        .scalar()
    )


def numbers(engine: Engine, thread_id: str) -> dict[str, str]:
    """Every comment's number in a thread (one indexed read of the thread's rows)."""
    rows = (
        engine.store.reader()
        .execute(
            f"SELECT comment_id, parent_id, seq FROM {_comments(engine)}"
            " WHERE thread_id = ? ORDER BY seq",
            (thread_id,),
        )
        .all()
    )
    result: dict[str, str] = {}
    children: dict[str | None, int] = {}
    for row in rows:  # a parent is always posted (so numbered) before its replies
        parent = row["parent_id"]
        children[parent] = children.get(parent, 0) + 1
        prefix = f"{result[parent]}." if parent in result else ""
        result[row["comment_id"]] = f"{prefix}{children[parent]}"
    return result


def numbers_for(engine: Engine, thread_id: str, comment_ids) -> dict[str, str]:
    """The numbers of a few comments only, in three indexed reads whatever the thread's
    size: the comments' paths; the top-level seqs up to the latest one needed (a
    top-level comment's number is its rank by seq); the rows of the subtrees involved
    (a reply's number is its rank among its parent's replies)."""
    wanted = sorted({c for c in comment_ids if c})
    if not wanted:
        return {}
    table = _comments(engine)
    sql = engine.store.reader()
    marks = ", ".join("?" * len(wanted))
    rows = sql.execute(
        f"SELECT comment_id, path FROM {table} WHERE thread_id = ? AND comment_id IN ({marks})",
        (thread_id, *wanted),
    ).all()
    paths = {r["comment_id"]: [int(p) for p in r["path"].split("/")] for r in rows}
    if not paths:
        return {}
    roots = sorted({path[0] for path in paths.values()})
    tops = [
        int(r["seq"])
        for r in sql.execute(
            f"SELECT seq FROM {table} WHERE thread_id = ? AND depth = 0 AND seq <= ? ORDER BY seq",
            (thread_id, roots[-1]),
        ).all()
    ]
    rank = {seq: bisect_right(tops, seq) for seq in roots}
    if any(len(path) > 1 for path in paths.values()):
        deep_roots = sorted({path[0] for path in paths.values() if len(path) > 1})
        marks = ", ".join("?" * len(deep_roots))
        siblings: dict[str, list[int]] = {}
        for r in sql.execute(
            f"SELECT parent_id, seq FROM {table} WHERE thread_id = ? AND root_seq IN ({marks})"
            " AND depth > 0",
            (thread_id, *deep_roots),
        ).all():
            siblings.setdefault(r["parent_id"], []).append(int(r["seq"]))
        for seqs in siblings.values():
            seqs.sort()
            for i, seq in enumerate(seqs, 1):
                rank[seq] = i
    return {cid: ".".join(str(rank.get(s, "?")) for s in path) for cid, path in paths.items()}
