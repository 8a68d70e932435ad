"""Comment revisions: every version of every comment, and every change of state.

History, diff and audit pages read this. Version N is the comment aggregate's
version N, so a revision is addressed the same way as an optimistic edit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.model import Comment
from projections.db import Sql, insert_rows
from projections.engine import BatchProjection, Tables, handles, iso

REVISION_COLUMNS = (
    "comment_id", "version", "thread_id", "kind", "text", "actor_id", "at", "reason",
    "position",
)  # fmt: skip


class _RevisionsPage:
    def __init__(self, sql: Sql, t: Tables):
        self.sql, self.t = sql, t
        self.rows: list[tuple] = []
        # Erased content dropped from the rows too: (comment id, revision or None = all,
        # the erasure's position: rows of later events keep theirs, whatever the page).
        self.erased: list[tuple[str, int | None, int]] = []


class Revisions(BatchProjection):
    """A revision per event: the page's rows are inserted at its end, in one statement."""

    name = "revisions"
    prefix = "rv"
    ddl = {
        "revisions": """CREATE TABLE IF NOT EXISTS {revisions} (
            comment_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            thread_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            text TEXT,
            actor_id TEXT NOT NULL,
            at TEXT NOT NULL,
            reason TEXT,
            position BIGINT NOT NULL,
            PRIMARY KEY (comment_id, version))""",
    }
    indexes = [
        "CREATE INDEX IF NOT EXISTS {revisions}_thread ON {revisions} (thread_id, position)",
    ]

    def begin_page(self, sql: Sql, t: Tables, events: Sequence[tuple[int, Any]]) -> _RevisionsPage:
        return _RevisionsPage(sql, t)  # every event adds a row: nothing to read first

    def flush(self, page: _RevisionsPage) -> None:
        insert_rows(page.sql, page.t.revisions, REVISION_COLUMNS, page.rows)
        for comment_id, revision, position in page.erased:
            where = "comment_id = ?" + (" AND version = ?" if revision is not None else "")
            params = (comment_id,) if revision is None else (comment_id, revision)
            where, params = f"{where} AND position < ?", (*params, position)
            page.sql.execute(
                f"UPDATE {page.t.revisions} SET"
                " text = CASE WHEN kind IN ('posted', 'edited') THEN NULL ELSE text END,"
                " reason = CASE WHEN kind IN ('erased', 'revision_erased') THEN reason END"
                f" WHERE {where}",
                params,
            )

    @staticmethod
    def _add(
        page: _RevisionsPage, e, pos: int, kind: str, text: str | None, reason: str | None
    ) -> None:
        page.rows.append(
            (
                str(e.originator_id),
                e.originator_version,
                str(e.thread_id),
                kind,
                text,
                str(e.actor_id),
                iso(e.timestamp),
                reason,
                pos,
            )
        )

    @handles(Comment.Posted)
    def posted(self, page: _RevisionsPage, e: Comment.Posted, pos: int) -> None:
        self._add(page, e, pos, "posted", e.text, None)

    @handles(Comment.Edited)
    def edited(self, page: _RevisionsPage, e: Comment.Edited, pos: int) -> None:
        self._add(page, e, pos, "edited", e.text, e.reason)

    @handles(Comment.Retracted)
    def retracted(self, page: _RevisionsPage, e: Comment.Retracted, pos: int) -> None:
        self._add(page, e, pos, "retracted", None, e.reason)

    @handles(Comment.Hidden)
    def hidden(self, page: _RevisionsPage, e: Comment.Hidden, pos: int) -> None:
        self._add(page, e, pos, "hidden", None, e.reason)

    @handles(Comment.Restored)
    def restored(self, page: _RevisionsPage, e: Comment.Restored, pos: int) -> None:
        self._add(page, e, pos, "restored", None, e.reason)

    # Decisions on content: `reason` holds the erasure's basis (one of a fixed list) or
    # the suppression's sealed reason; `text` names the revision concerned.
    @handles(Comment.Erased)
    def erased(self, page: _RevisionsPage, e: Comment.Erased, pos: int) -> None:
        self._add(page, e, pos, "erased", None, e.basis)
        page.erased.append((str(e.originator_id), None, pos))

    @handles(Comment.RevisionErased)
    def revision_erased(self, page: _RevisionsPage, e: Comment.RevisionErased, pos: int) -> None:
        self._add(page, e, pos, "revision_erased", str(e.revision), e.basis)
        page.erased.append((str(e.originator_id), e.revision, pos))

    @handles(Comment.RevisionSuppressed)
    def revision_suppressed(
        self, page: _RevisionsPage, e: Comment.RevisionSuppressed, pos: int
    ) -> None:
        parts = [p for p, on in (("text", e.text), ("edit_reason", e.edit_reason)) if on]
        self._add(page, e, pos, "revision_suppressed", f"{e.revision}:{','.join(parts)}", e.reason)

    @handles(Comment.RevisionUnsuppressed)
    def revision_unsuppressed(
        self, page: _RevisionsPage, e: Comment.RevisionUnsuppressed, pos: int
    ) -> None:
        self._add(page, e, pos, "revision_unsuppressed", str(e.revision), e.reason)

    # Review (issue 13): `text` names the revision concerned; a hold's `reason` is the
    # names of the rules that fired (public words of the rule set, not personal).
    @handles(Comment.Held)
    def held(self, page: _RevisionsPage, e: Comment.Held, pos: int) -> None:
        self._add(page, e, pos, "held", str(e.revision), None)

    @handles(Comment.Approved)
    def approved(self, page: _RevisionsPage, e: Comment.Approved, pos: int) -> None:
        self._add(page, e, pos, "approved", str(e.revision), e.reason)

    @handles(Comment.Rejected)
    def rejected(self, page: _RevisionsPage, e: Comment.Rejected, pos: int) -> None:
        self._add(page, e, pos, "rejected", str(e.revision), e.reason)
