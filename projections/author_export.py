"""An author's own data (GDPR Art. 15 and 20): their profile and every comment of
theirs with every revision, as they may read it today.

`author_export(engine, author)` is the one query behind `GET /api/v1/authors/me/export`
(and the account page's "Download my data"). It reads the revisions projection (every
version of every comment, and every change of state) and asks the one visibility
policy (projections/visibility.py) what the author may read, as the viewer themself on
the RECORD surface: their own retracted comments are theirs to read; what a moderator
hid or suppressed is withheld (with the policy's note: why and since when), unless the
author is a moderator; erased content is listed as erased, with its date, and no text
(its keys are destroyed: nobody can open it any more).

Which comments are the author's: the key table lists every comment whose content is
sealed for them (written with the events, so it never lags behind them), and the thread
view adds those of a store written before sealing (whose rows keep the author id while
the comment is visible or hidden).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from domain.model import OPERATOR_ID
from projections import visibility
from projections.engine import Engine, iso, now_iso
from projections.visibility import RECORD, CommentDecisions, Opening, Verdict, Viewer

FORMAT = "discuss-author-export/1"
TEXT_KINDS = ("posted", "edited")
MODERATION_KINDS = (
    "hidden",
    "restored",
    "revision_suppressed",
    "revision_unsuppressed",
    "approved",
    "rejected",
)
ERASURE_KINDS = ("erased", "revision_erased")
REVISION_KINDS = ("revision_erased", "revision_suppressed", "revision_unsuppressed")
CHUNK = 500


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    ordered = sorted(set(values))
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start : start + CHUNK]


def author_comment_ids(engine: Engine, author_id: str) -> list[str]:
    """Every comment the author wrote that the record knows of."""
    ids: set[str] = set()
    vault = getattr(engine.app, "vault", None)
    if vault is not None:
        ids.update(vault.comments_of(author_id))
    tv = engine.tables("threads")
    sql = engine.store.reader()
    for table in (tv.comments, tv.hidden):
        rows = sql.execute(f"SELECT comment_id FROM {table} WHERE author_id = ?", (author_id,))
        ids.update(r["comment_id"] for r in rows.all())
    return sorted(ids)


def _revision_rows(engine: Engine, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    rv = engine.tables("revisions").revisions
    sql = engine.store.reader()
    found: dict[str, list[dict[str, Any]]] = {}
    for part in _chunks(ids):
        marks = ", ".join("?" * len(part))
        for row in sql.execute(
            f"SELECT * FROM {rv} WHERE comment_id IN ({marks}) ORDER BY comment_id, version",
            part,
        ).all():
            found.setdefault(row["comment_id"], []).append(row)
    return found


def _threads(engine: Engine, thread_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    tv = engine.tables("threads").threads
    sql = engine.store.reader()
    found: dict[str, dict[str, Any]] = {}
    for part in _chunks(thread_ids):
        marks = ", ".join("?" * len(part))
        for row in sql.execute(
            f"SELECT thread_id, thread_key, title FROM {tv} WHERE thread_id IN ({marks})", part
        ).all():
            found[row["thread_id"]] = row
    return found


def _parents(engine: Engine, ids: list[str]) -> dict[str, str | None]:
    tv = engine.tables("threads").comments
    sql = engine.store.reader()
    found: dict[str, str | None] = {}
    for part in _chunks(ids):
        marks = ", ".join("?" * len(part))
        for row in sql.execute(
            f"SELECT comment_id, parent_id FROM {tv} WHERE comment_id IN ({marks})", part
        ).all():
            found[row["comment_id"]] = row["parent_id"]
    return found


def _withheld(verdict: Verdict) -> dict[str, Any] | None:
    if verdict.shown:
        return None
    return {"why": verdict.why, "since": verdict.since, "note": verdict.note}


_UNAVAILABLE = {"why": "unavailable", "since": None, "note": visibility.UNAVAILABLE_NOTE}


def _revision_of(kind: str, value: str | None) -> int | None:
    """The revision a decision row concerns ("3" or "3:text,edit_reason")."""
    if kind in REVISION_KINDS and value:
        return int(value.partition(":")[0])
    return None


class _Comment:
    """One comment's rows with today's decisions, read by its author."""

    def __init__(
        self,
        rows: list[dict[str, Any]],
        d: CommentDecisions | None,
        viewer: Viewer,
        author_id: str,
        opening: Opening,
    ):
        self.rows, self.d, self.viewer, self.author_id = rows, d, viewer, author_id
        self.opening = opening
        self.comment_verdict = visibility.text_verdict(d, viewer, author_id, None, RECORD)
        self.verdicts: dict[int, tuple[Verdict, Verdict]] = {}
        for row in rows:
            kind, version = row["kind"], row["version"]
            if kind in TEXT_KINDS:
                text = visibility.text_verdict(d, viewer, author_id, version, RECORD)
                reason = visibility.reason_verdict(d, viewer, author_id, version, RECORD)
                self.verdicts[version] = (text, reason)
                if text.shown:
                    opening.want(row["text"])
                if reason.shown:
                    opening.want(row["reason"])
            elif self._reason_shown(kind):
                opening.want(row["reason"])

    def _reason_shown(self, kind: str) -> bool:
        if kind == "retracted":  # the author's own note, unless withheld for another cause
            verdict = self.comment_verdict
            return verdict.shown or verdict.why == "retracted"
        if kind in MODERATION_KINDS:
            return visibility.moderation_reason_shown(self.d, self.viewer)
        return False  # erasures carry a public basis, not a reason

    def _by(self, actor_id: str) -> str:
        if actor_id == self.author_id:
            return "author"
        return "operator" if actor_id == str(OPERATOR_ID) else "moderator"

    def state(self) -> str:
        if self.d is None:
            return "visible"
        return "erased" if self.d.erased else self.d.state

    def revision(self, row: dict[str, Any]) -> dict[str, Any]:
        text_verdict, reason_verdict = self.verdicts[row["version"]]
        text, text_withheld = None, _withheld(text_verdict)
        if text_verdict.shown:
            text, unavailable = self.opening.text(row["text"])
            if unavailable or text is None:
                text, text_withheld = None, _UNAVAILABLE
        reason, reason_withheld = None, None
        if row["reason"] is not None:
            if reason_verdict.shown:
                reason, unavailable = self.opening.text(row["reason"])
                if unavailable:
                    reason_withheld = _UNAVAILABLE
            else:
                reason_withheld = _withheld(reason_verdict)
        return {
            "revision": row["version"],
            "kind": row["kind"],
            "at": row["at"],
            "position": row["position"],
            "by_author": row["actor_id"] == self.author_id,
            "text": text,
            "text_withheld": text_withheld,
            "edit_reason": reason,
            "edit_reason_withheld": reason_withheld,
        }

    def change(self, row: dict[str, Any]) -> dict[str, Any]:
        kind = row["kind"]
        reason = None
        if kind not in ERASURE_KINDS and row["reason"] is not None and self._reason_shown(kind):
            reason, _ = self.opening.text(row["reason"])
        return {
            "version": row["version"],
            "kind": kind,
            "at": row["at"],
            "position": row["position"],
            "by": self._by(row["actor_id"]),
            "revision": _revision_of(kind, row["text"]),
            "reason": reason,
            "basis": row["reason"] if kind in ERASURE_KINDS else None,
        }


def author_export(engine: Engine, author: Any) -> dict[str, Any]:
    """The author's profile and every comment of theirs, oldest first: each revision's
    text and edit reason opened where the policy lets the author read them, else a
    note saying why not and since when; each change of state with its time and
    position (reasons only where they are the author's own words, or for moderators)."""
    author_id = str(author.id)
    viewer = Viewer.of(author)
    position = engine.position("revisions")
    ids = author_comment_ids(engine, author_id)
    rows_of = _revision_rows(engine, ids)
    ids = [i for i in ids if i in rows_of]  # not yet in the record: not listed
    decided = visibility.decisions_for(engine, ids)
    threads = _threads(engine, {rows[0]["thread_id"] for rows in rows_of.values()})
    parents = _parents(engine, ids)
    opening = Opening(engine)
    opening.want(author.name)
    comments = [
        _Comment(rows_of[i], decided.get(i), viewer, author_id, opening)
        for i in sorted(ids, key=lambda i: rows_of[i][0]["position"])
    ]
    opening.run()
    name, _ = opening.text(author.name)
    out = []
    for c in comments:
        first = c.rows[0]
        thread = threads.get(first["thread_id"])
        out.append(
            {
                "id": first["comment_id"],
                "thread": {
                    "id": first["thread_id"],
                    "key": thread["thread_key"] if thread else None,
                    "title": thread["title"] if thread else None,
                },
                "parent_id": parents.get(first["comment_id"]),
                "posted_at": first["at"],
                "position": first["position"],
                "state": c.state(),
                "withheld": _withheld(c.comment_verdict),
                "revisions": [c.revision(r) for r in c.rows if r["kind"] in TEXT_KINDS],
                "changes": [c.change(r) for r in c.rows if r["kind"] not in TEXT_KINDS],
            }
        )
    return {
        "format": FORMAT,
        "exported_at": now_iso(),
        "position": position,
        "author": {
            "id": author_id,
            "name": name if not getattr(author, "erased", False) else None,
            "role": author.role,
            "registered_at": iso(author.created_on),
            "erased": bool(getattr(author, "erased", False)),
        },
        "comments": out,
    }
