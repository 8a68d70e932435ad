"""The one visibility policy: what a viewer may see of a comment, decided today.

Every way out of the product (thread pages live and as of any past point, comment
subtrees, history and diffs, timeline, changes, audit, exports, feeds) asks this
module, with the decisions recorded so far (projections/decisions.py) and the viewer.
A past view keeps the structure as it was (that a comment existed, where, when, its
version) but never shows content that is withheld now.

Rules, for the content of one revision of a comment (its text, its edit reason) and
for the comment's author:
- erased (the comment, its author's account, or that revision): nobody, ever;
- hidden by a moderator: moderators only;
- retracted by its author: on thread pages nobody (a placeholder); in the record
  (history, diffs, audit, exports) its author and moderators (moderators only if it
  was hidden by a moderator when it was retracted);
- a suppressed revision's text or edit reason: moderators only;
- held for review (issue 13): a comment never approved is, while pending, for its
  author and moderators only (readers see nothing: thread rows leave it out, see
  projections/thread_rows.py), once rejected for moderators only (like a hidden one);
  a revision held after approval likewise, while readers keep `shown_revision`;
- otherwise: everyone (DISCUSS_HISTORY_POLICY may still restrict whole histories).
Moderation reasons (hide, restore, suppress) are for moderators only; a retraction's
reason is the author's own public note unless the comment is withheld from the viewer.

Content is sealed (domain/sealing.py) in the events and in every read model; it is
opened here, after the decision, through the key table (projections/keys.py). A key
destroyed by an erasure, or lost, opens to nothing: "content unavailable".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.model import (
    APPROVED,
    ERASURE_BASES,
    HIDDEN,
    OPERATOR_ID,
    PENDING,
    REJECTED,
    RETRACTED,
    VISIBLE,
)
from projections.keys import UNAVAILABLE

# Where content is shown: thread pages (live and past), or the record of changes.
THREAD = "thread"
RECORD = "record"

UNAVAILABLE_NOTE = "content unavailable"
ERASED_AUTHOR_NAME = "erased author"
UNAVAILABLE_NAME = "name unavailable"  # its key lost, not erased
OPERATOR_NAME = "operator"


@dataclass(frozen=True)
class Viewer:
    """Who is looking: nobody signed in, a member (their author id), or a moderator."""

    author_id: str | None = None
    moderator: bool = False

    @classmethod
    def of(cls, author: Any) -> Viewer:
        """From the signed-in author aggregate (or None)."""
        if author is None:
            return ANONYMOUS
        return cls(str(author.id), bool(getattr(author, "is_moderator", False)))

    @property
    def kind(self) -> str:
        """For cache keys: views differ only between these classes of viewer."""
        return "moderator" if self.moderator else ("member" if self.author_id else "anonymous")


ANONYMOUS = Viewer()
OPERATOR_VIEWER = Viewer(str(OPERATOR_ID), True)


@dataclass
class RevisionDecision:
    text_suppressed: bool = False
    reason_suppressed: bool = False
    suppressed_at: str | None = None
    erased_at: str | None = None
    erased_basis: str | None = None


@dataclass
class ReviewDecision:
    """A revision held for review: pending, approved or rejected."""

    state: str
    rules: tuple[str, ...] = ()
    shown_revision: int | None = None  # what readers see meanwhile (None: nothing)
    held_at: str | None = None
    decided_at: str | None = None

    @property
    def withheld(self) -> bool:
        return self.state != APPROVED


@dataclass
class CommentDecisions:
    """Today's decisions on one comment (the defaults: nothing decided)."""

    comment_id: str
    state: str = VISIBLE
    state_at: str | None = None
    state_reason: str | None = None  # sealed
    was_hidden: bool = False  # retracted while hidden by a moderator
    erased_at: str | None = None
    erased_basis: str | None = None
    erased_scope: str | None = None
    revisions: dict[int, RevisionDecision] = field(default_factory=dict)
    reviews: dict[int, ReviewDecision] = field(default_factory=dict)
    position: int = 0  # of the latest decision: part of cache keys

    @property
    def erased(self) -> bool:
        return self.erased_at is not None

    @property
    def review(self) -> tuple[str, str | None] | None:
        """(PENDING or REJECTED, since) while the comment was never approved; None
        once approved, or never held from its first revision."""
        first = [r for r in self.reviews.values() if r.shown_revision is None]
        if not first or any(r.state == APPROVED for r in first):
            return None
        pending = [r for r in first if r.state == PENDING]
        if pending:
            return PENDING, min(r.held_at or "" for r in pending) or None
        return REJECTED, max(r.decided_at or "" for r in first) or None

    def readers_revision(self, revision: int | None) -> int | None:
        """The revision readers see in place of `revision` (itself unless it awaits
        review or was rejected; None: nothing)."""
        r = self.reviews.get(revision) if revision is not None else None
        return revision if r is None or not r.withheld else r.shown_revision


@dataclass(frozen=True)
class Verdict:
    """May the viewer see it; if not, why (a placeholder for people) and since when."""

    shown: bool
    why: str | None = None  # "erased", "hidden", "retracted", "suppressed", "unavailable"
    since: str | None = None

    @property
    def note(self) -> str | None:
        return placeholder(self.why, self.since)


SHOWN = Verdict(True)


def day(iso_time: str | None) -> str:
    """'6 December 2026' from a stored ISO time."""
    if not iso_time:
        return ""
    when = datetime.fromisoformat(iso_time)
    return f"{when.day} {when:%B %Y}"


def placeholder(why: str | None, since: str | None) -> str | None:
    if why is None:
        return None
    on = f" on {day(since)}" if since else ""
    return {
        "erased": f"erased{on}",
        "hidden": f"removed by a moderator{on}",
        "retracted": f"retracted by its author{on}",
        "suppressed": f"withheld by a moderator{on}",
        PENDING: "awaiting review",
        REJECTED: f"rejected by a moderator{on}",
        "unavailable": UNAVAILABLE_NOTE,
    }[why]


def basis_label(basis: str | None) -> str | None:
    return ERASURE_BASES.get(basis or "", basis)


# ---- the rules -------------------------------------------------------------------------


def _withheld(
    d: CommentDecisions | None, viewer: Viewer, author_id: str | None, surface: str
) -> Verdict:
    """What today's comment-level decisions withhold from this viewer."""
    if d is None:
        return SHOWN
    if d.erased:
        return Verdict(False, "erased", d.erased_at)
    review = d.review if d.reviews else None
    if review is not None and not viewer.moderator:
        own = author_id is not None and viewer.author_id == author_id
        if review[0] == REJECTED or not own:
            return Verdict(False, review[0], review[1])
    if d.state == HIDDEN and not viewer.moderator:
        return Verdict(False, "hidden", d.state_at)
    if d.state == RETRACTED:
        own = author_id is not None and viewer.author_id == author_id and not d.was_hidden
        if surface == THREAD or not (viewer.moderator or own):
            return Verdict(False, "retracted", d.state_at)
    return SHOWN


def text_verdict(
    d: CommentDecisions | None,
    viewer: Viewer,
    author_id: str | None,
    revision: int | None,
    surface: str,
) -> Verdict:
    """May the viewer read revision `revision`'s text?"""
    return _revision_verdict(d, viewer, author_id, revision, surface, "text_suppressed")


def reason_verdict(
    d: CommentDecisions | None,
    viewer: Viewer,
    author_id: str | None,
    revision: int | None,
    surface: str,
) -> Verdict:
    """May the viewer read revision `revision`'s edit reason?"""
    return _revision_verdict(d, viewer, author_id, revision, surface, "reason_suppressed")


def _revision_verdict(
    d: CommentDecisions | None,
    viewer: Viewer,
    author_id: str | None,
    revision: int | None,
    surface: str,
    suppressed: str,
) -> Verdict:
    """The comment's decisions, then the revision's: erased, or suppressed (the text or
    the edit reason, by `suppressed`) for all but moderators."""
    verdict = _withheld(d, viewer, author_id, surface)
    if not verdict.shown or d is None or revision is None:
        return verdict
    r = d.revisions.get(revision)
    if r is not None:
        if r.erased_at is not None:
            return Verdict(False, "erased", r.erased_at)
        if getattr(r, suppressed) and not viewer.moderator:
            return Verdict(False, "suppressed", r.suppressed_at)
    review = d.reviews.get(revision)
    if review is not None and review.withheld and not viewer.moderator:
        own = author_id is not None and viewer.author_id == author_id
        if review.state == REJECTED or not own:
            return Verdict(False, review.state, review.decided_at or review.held_at)
    return SHOWN


def author_verdict(
    d: CommentDecisions | None, viewer: Viewer, author_id: str | None, surface: str
) -> Verdict:
    """May the viewer know who wrote the comment?"""
    return _withheld(d, viewer, author_id, surface)


def moderation_reason_shown(d: CommentDecisions | None, viewer: Viewer) -> bool:
    """Reasons of hiding, restoring, suppressing: moderators only (never once erased)."""
    return viewer.moderator and not (d is not None and d.erased)


# ---- reading the decisions and opening content ---------------------------------------


def decisions_for(engine: Any, comment_ids: Iterable[str]) -> dict[str, CommentDecisions]:
    """Today's decisions on these comments; comments with none are left out."""
    ids = sorted(set(comment_ids))
    if not ids:
        return {}
    t = engine.tables("decisions")
    sql = engine.store.reader()
    found: dict[str, CommentDecisions] = {}
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        marks = ", ".join("?" * len(part))
        for row in sql.execute(
            f"SELECT * FROM {t.comments} WHERE comment_id IN ({marks})", part
        ).all():
            found[row["comment_id"]] = CommentDecisions(
                comment_id=row["comment_id"],
                state=row["state"],
                state_at=row["state_at"],
                state_reason=row["state_reason"],
                was_hidden=bool(row["was_hidden"]),
                erased_at=row["erased_at"],
                erased_basis=row["erased_basis"],
                erased_scope=row["erased_scope"],
                position=int(row["position"]),
            )
        for row in sql.execute(
            f"SELECT * FROM {t.revisions} WHERE comment_id IN ({marks})", part
        ).all():
            d = found.get(row["comment_id"])
            if d is None:
                d = found[row["comment_id"]] = CommentDecisions(row["comment_id"])
            d.revisions[int(row["revision"])] = RevisionDecision(
                text_suppressed=bool(row["text_suppressed"]),
                reason_suppressed=bool(row["reason_suppressed"]),
                suppressed_at=row["suppressed_at"],
                erased_at=row["erased_at"],
                erased_basis=row["erased_basis"],
            )
            d.position = max(d.position, int(row["position"]))
        for row in sql.execute(
            f"SELECT comment_id, revision, state, rules, shown_revision, held_at, decided_at,"
            f" position FROM {t.reviews} WHERE comment_id IN ({marks})",
            part,
        ).all():
            d = found.get(row["comment_id"])
            if d is None:
                d = found[row["comment_id"]] = CommentDecisions(row["comment_id"])
            d.reviews[int(row["revision"])] = ReviewDecision(
                state=row["state"],
                rules=tuple(x for x in (row["rules"] or "").split(",") if x),
                shown_revision=row["shown_revision"],
                held_at=row["held_at"],
                decided_at=row["decided_at"],
            )
            d.position = max(d.position, int(row["position"]))
    return found


def erased_authors(engine: Any, author_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    ids = sorted({a for a in author_ids if a})
    if not ids:
        return {}
    t = engine.tables("decisions")
    marks = ", ".join("?" * len(ids))
    rows = (
        engine.store.reader()
        .execute(f"SELECT * FROM {t.authors} WHERE author_id IN ({marks})", ids)
        .all()
    )
    return {r["author_id"]: r for r in rows}


class Opening:
    """Collects the sealed values a response will show, opens them in one batch."""

    def __init__(self, engine: Any):
        self.engine = engine
        self.wanted: set[str] = set()
        self.opened: dict[str, Any] = {}

    def want(self, value: str | None) -> None:
        if value is not None:
            self.wanted.add(value)

    def run(self) -> Opening:
        todo = self.wanted - self.opened.keys()
        if todo:
            opener = getattr(self.engine.app, "opener", None)
            if opener is None:  # no sealing set up: values are plaintext
                self.opened.update({v: v for v in todo})
            else:
                self.opened.update(opener.open_many(todo))
        return self

    def text(self, value: str | None) -> tuple[str | None, bool]:
        """(plaintext or None, unavailable): unavailable when its key is gone."""
        if value is None:
            return None, False
        if value not in self.opened:
            self.want(value)
            self.run()
        opened = self.opened[value]
        if opened is UNAVAILABLE:
            return None, True
        return opened, False


def open_one(engine: Any, value: str | None) -> str | None:
    text, _ = Opening(engine).text(value)
    return text


def author_names(engine: Any, ids: Iterable[str]) -> dict[str, str]:
    """Display names of authors (the operator included), opened; an erased author is
    "erased author", one whose name's key was lost "name unavailable"."""
    ids = {i for i in ids if i}
    names: dict[str, str] = {}
    if str(OPERATOR_ID) in ids:
        names[str(OPERATOR_ID)] = OPERATOR_NAME
    rest = sorted(ids - set(names))
    if not rest:
        return names
    t = engine.tables("threads")
    marks = ", ".join("?" * len(rest))
    rows = (
        engine.store.reader()
        .execute(f"SELECT author_id, name FROM {t.authors} WHERE author_id IN ({marks})", rest)
        .all()
    )
    opening = Opening(engine)
    for row in rows:
        opening.want(row["name"])
    opening.run()
    lost = [row["author_id"] for row in rows if opening.text(row["name"])[0] is None]
    erased = erased_authors(engine, lost) if lost else {}
    for row in rows:
        name, _ = opening.text(row["name"])
        if name is None:
            name = ERASED_AUTHOR_NAME if row["author_id"] in erased else UNAVAILABLE_NAME
        names[row["author_id"]] = name
    return names
