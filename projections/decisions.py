"""Today's withholding decisions: the facts the visibility policy reads.

Sparse on purpose: a comment has a row only once something was decided about it
(retracted, hidden, restored, erased), a revision only once it was suppressed or
erased, or held for review (issue 13: pending, then approved or rejected), an author
only once erased. Most comments have none, so the policy's lookup
for a page finds nothing in one indexed query. Reasons stay sealed here (and are
opened, or not, by the policy); the basis of an erasure is one of a fixed list.
"""

from __future__ import annotations

from typing import Any

from domain.model import APPROVED, HIDDEN, PENDING, REJECTED, RETRACTED, VISIBLE, Author, Comment
from projections.db import Sql
from projections.engine import Projection, Tables, handles, iso


class Decisions(Projection):
    name = "decisions"
    prefix = "dc"
    ddl = {
        "comments": """CREATE TABLE IF NOT EXISTS {comments} (
            comment_id TEXT PRIMARY KEY,
            thread_id TEXT NOT NULL,
            state TEXT NOT NULL,
            state_at TEXT,
            state_by TEXT,
            state_reason TEXT,
            was_hidden INTEGER NOT NULL DEFAULT 0,
            erased_at TEXT,
            erased_by TEXT,
            erased_basis TEXT,
            erased_scope TEXT,
            position BIGINT NOT NULL)""",
        "revisions": """CREATE TABLE IF NOT EXISTS {revisions} (
            comment_id TEXT NOT NULL,
            revision INTEGER NOT NULL,
            thread_id TEXT NOT NULL,
            text_suppressed INTEGER NOT NULL DEFAULT 0,
            reason_suppressed INTEGER NOT NULL DEFAULT 0,
            suppressed_at TEXT,
            suppressed_by TEXT,
            erased_at TEXT,
            erased_by TEXT,
            erased_basis TEXT,
            position BIGINT NOT NULL,
            PRIMARY KEY (comment_id, revision))""",
        # One row per revision held for review; `shown_revision` is what readers see
        # meanwhile (NULL: nothing, the comment was never approved).
        "reviews": """CREATE TABLE IF NOT EXISTS {reviews} (
            comment_id TEXT NOT NULL,
            revision INTEGER NOT NULL,
            thread_id TEXT NOT NULL,
            state TEXT NOT NULL,
            rules TEXT NOT NULL,
            shown_revision INTEGER,
            held_at TEXT NOT NULL,
            decided_at TEXT,
            decided_by TEXT,
            reason TEXT,
            position BIGINT NOT NULL,
            PRIMARY KEY (comment_id, revision))""",
        "authors": """CREATE TABLE IF NOT EXISTS {authors} (
            author_id TEXT PRIMARY KEY,
            erased_at TEXT NOT NULL,
            erased_by TEXT NOT NULL,
            erased_basis TEXT NOT NULL,
            position BIGINT NOT NULL)""",
    }

    # ---- comments ------------------------------------------------------------------

    @staticmethod
    def _comment_row(sql: Sql, t: Tables, e: Any, pos: int) -> dict[str, Any]:
        row = sql.execute(
            f"SELECT * FROM {t.comments} WHERE comment_id = ?", (str(e.originator_id),)
        ).one()
        if row is None:
            sql.execute(
                f"INSERT INTO {t.comments} (comment_id, thread_id, state, position)"
                " VALUES (?, ?, ?, ?)",
                (str(e.originator_id), str(e.thread_id), VISIBLE, pos),
            )
            row = {"comment_id": str(e.originator_id), "state": VISIBLE}
        return row

    def _state(self, sql: Sql, t: Tables, e: Any, pos: int, state: str, reason: Any) -> None:
        row = self._comment_row(sql, t, e, pos)
        # Retracted while hidden: the record stays for moderators only (the policy reads
        # was_hidden), thread pages show the retraction to everyone.
        was_hidden = int(state == RETRACTED and row["state"] == HIDDEN)
        sql.execute(
            f"UPDATE {t.comments} SET state = ?, state_at = ?, state_by = ?, state_reason = ?,"
            " was_hidden = ?, position = ? WHERE comment_id = ?",
            (
                state,
                iso(e.timestamp),
                str(e.actor_id),
                reason,
                was_hidden,
                pos,
                str(e.originator_id),
            ),
        )

    @handles(Comment.Retracted)
    def retracted(self, sql: Sql, t: Tables, e: Comment.Retracted, pos: int) -> None:
        self._state(sql, t, e, pos, RETRACTED, e.reason)

    @handles(Comment.Hidden)
    def hidden(self, sql: Sql, t: Tables, e: Comment.Hidden, pos: int) -> None:
        self._state(sql, t, e, pos, HIDDEN, e.reason)

    @handles(Comment.Restored)
    def restored(self, sql: Sql, t: Tables, e: Comment.Restored, pos: int) -> None:
        self._state(sql, t, e, pos, VISIBLE, e.reason)

    @handles(Comment.Erased)
    def erased(self, sql: Sql, t: Tables, e: Comment.Erased, pos: int) -> None:
        self._comment_row(sql, t, e, pos)
        sql.execute(
            f"UPDATE {t.comments} SET erased_at = ?, erased_by = ?, erased_basis = ?,"
            " erased_scope = ?, position = ? WHERE comment_id = ?",
            (iso(e.timestamp), str(e.actor_id), e.basis, e.scope, pos, str(e.originator_id)),
        )

    # ---- revisions -----------------------------------------------------------------

    @staticmethod
    def _revision(sql: Sql, t: Tables, e: Any, pos: int) -> None:
        sql.execute(
            f"INSERT INTO {t.revisions} (comment_id, revision, thread_id, position)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (comment_id, revision) DO NOTHING",
            (str(e.originator_id), e.revision, str(e.thread_id), pos),
        )

    @handles(Comment.RevisionSuppressed)
    def suppressed(self, sql: Sql, t: Tables, e: Comment.RevisionSuppressed, pos: int) -> None:
        self._revision(sql, t, e, pos)
        sql.execute(
            f"UPDATE {t.revisions} SET text_suppressed = ?, reason_suppressed = ?,"
            " suppressed_at = ?, suppressed_by = ?, position = ?"
            " WHERE comment_id = ? AND revision = ?",
            (
                int(e.text),
                int(e.edit_reason),
                iso(e.timestamp),
                str(e.actor_id),
                pos,
                str(e.originator_id),
                e.revision,
            ),
        )

    @handles(Comment.RevisionUnsuppressed)
    def unsuppressed(self, sql: Sql, t: Tables, e: Comment.RevisionUnsuppressed, pos: int) -> None:
        self._revision(sql, t, e, pos)
        sql.execute(
            f"UPDATE {t.revisions} SET text_suppressed = 0, reason_suppressed = 0,"
            " suppressed_at = NULL, suppressed_by = NULL, position = ?"
            " WHERE comment_id = ? AND revision = ?",
            (pos, str(e.originator_id), e.revision),
        )

    @handles(Comment.RevisionErased)
    def revision_erased(self, sql: Sql, t: Tables, e: Comment.RevisionErased, pos: int) -> None:
        self._revision(sql, t, e, pos)
        sql.execute(
            f"UPDATE {t.revisions} SET erased_at = ?, erased_by = ?, erased_basis = ?,"
            " position = ? WHERE comment_id = ? AND revision = ?",
            (iso(e.timestamp), str(e.actor_id), e.basis, pos, str(e.originator_id), e.revision),
        )

    # ---- review (issue 13) -----------------------------------------------------------

    @handles(Comment.Held)
    def held(self, sql: Sql, t: Tables, e: Comment.Held, pos: int) -> None:
        sql.execute(
            f"INSERT INTO {t.reviews} (comment_id, revision, thread_id, state, rules,"
            " shown_revision, held_at, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (comment_id, revision) DO NOTHING",
            (
                str(e.originator_id),
                e.revision,
                str(e.thread_id),
                PENDING,
                ",".join(e.rules),
                e.shown_revision,
                iso(e.timestamp),
                pos,
            ),
        )

    def _decided(self, sql: Sql, t: Tables, e: Any, pos: int, state: str) -> None:
        # Deciding the latest pending revision decides every pending one before it.
        sql.execute(
            f"UPDATE {t.reviews} SET state = ?, decided_at = ?, decided_by = ?, reason = ?,"
            " position = ? WHERE comment_id = ? AND state = ? AND revision <= ?",
            (
                state,
                iso(e.timestamp),
                str(e.actor_id),
                e.reason,
                pos,
                str(e.originator_id),
                PENDING,
                e.revision,
            ),
        )

    @handles(Comment.Approved)
    def approved(self, sql: Sql, t: Tables, e: Comment.Approved, pos: int) -> None:
        self._decided(sql, t, e, pos, APPROVED)

    @handles(Comment.Rejected)
    def rejected(self, sql: Sql, t: Tables, e: Comment.Rejected, pos: int) -> None:
        self._decided(sql, t, e, pos, REJECTED)

    # ---- authors -------------------------------------------------------------------

    @handles(Author.Erased)
    def author_erased(self, sql: Sql, t: Tables, e: Author.Erased, pos: int) -> None:
        sql.execute(
            f"INSERT INTO {t.authors} (author_id, erased_at, erased_by, erased_basis, position)"
            " VALUES (?, ?, ?, ?, ?)",
            (str(e.originator_id), iso(e.timestamp), str(e.actor_id), e.basis, pos),
        )
