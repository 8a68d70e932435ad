"""The record of a comment, read through the one visibility policy: its history (every
revision and change of state), diffs between its revisions, and the public ledger of
erasures. The JSON API (web/api/history.py, web/api/audit.py) and the pages
(web/pages/history.py) call these named queries and nothing else.

What a viewer may read is decided by projections/visibility.py (the RECORD surface),
from today's decisions (projections/decisions.py):
- a revision's text: text_verdict (erased: nobody; hidden: moderators; retracted: its
  author and moderators; a suppressed text: moderators);
- an edit reason: reason_verdict for that revision;
- a retraction's reason: the author's public note, unless the comment is withheld from
  the viewer for another cause (erased, hidden);
- a moderation reason (hide, restore, suppress, unsuppress): moderators only;
- who wrote the comment: author_verdict (the author's own entries lose their actor).
Erasures and suppressions are listed as entries, described without content: which
revision, what was suppressed, the basis of an erasure (a public word from a fixed
list). Withheld items carry the policy's note: why, and since when.

Rows of the revisions projection hold sealed values: they are opened here, after the
decision, in one batch per response. A key destroyed or lost opens to nothing: the
entry says "content unavailable".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from domain.model import ERASED_COMMENT, OPERATOR_ID
from projections import diffs, visibility
from projections.engine import Engine
from projections.visibility import (
    RECORD,
    SHOWN,
    CommentDecisions,
    Opening,
    Verdict,
    Viewer,
)

TEXT_KINDS = ("posted", "edited")
STATE_KINDS = ("retracted", "hidden", "restored")
MODERATION_KINDS = (
    "hidden",
    "restored",
    "revision_suppressed",
    "revision_unsuppressed",
    "approved",
    "rejected",
)
ERASURE_KINDS = ("erased", "revision_erased")
SUPPRESSION_PARTS = ("text", "edit_reason")
# The audit log's event types, as the revisions projection names them.
KIND_OF_TYPE = {
    "Comment.Posted": "posted",
    "Comment.Edited": "edited",
    "Comment.Retracted": "retracted",
    "Comment.Hidden": "hidden",
    "Comment.Restored": "restored",
    "Comment.Erased": "erased",
    "Comment.RevisionErased": "revision_erased",
    "Comment.RevisionSuppressed": "revision_suppressed",
    "Comment.RevisionUnsuppressed": "revision_unsuppressed",
    "Comment.Held": "held",
    "Comment.Approved": "approved",
    "Comment.Rejected": "rejected",
}
ERASURE_TYPES = ("Comment.Erased", "Comment.RevisionErased", "Author.Erased")
REVISION_DECISION_TYPES = (
    "Comment.RevisionErased",
    "Comment.RevisionSuppressed",
    "Comment.RevisionUnsuppressed",
)
AUTHOR_THEMSELF = "the author themself"

# Why a diff is refused, after "version N of this comment was <note>".
_DIFF_REFUSAL = {
    "hidden": ": its texts are for moderators only",
    "retracted": ": its texts are for its author and moderators only",
    "suppressed": ": that text is for moderators only",
    "erased": "",
}


# ---- named errors ----------------------------------------------------------------------


class HistoryError(Exception):
    """A read of the record refused: an HTTP status, a code word, a message, and the
    query field at fault (if any). The web turns it into its one error shape."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    @property
    def fields(self) -> dict[str, list[str]] | None:
        return {self.field: [self.message]} if self.field else None


class UnknownComment(HistoryError):
    status, code = 404, "not_found"


class HistoryRefused(HistoryError):
    """DISCUSS_HISTORY_POLICY=restricted: the history is for the author and moderators."""

    status, code = 403, "permission_denied"


class TextWithheld(HistoryError):
    """A diff would show a text the policy withholds from this viewer."""

    status, code = 403, "permission_denied"


class TextUnavailable(HistoryError):
    """A diff's text cannot be opened: its key is gone (lost, not erased)."""

    status, code = 403, "content_unavailable"


class NoSuchVersion(HistoryError):
    status, code = 404, "not_found"

    def __init__(self, message: str, field: str, detail: str):
        super().__init__(message, field)
        self.detail = detail

    @property
    def fields(self) -> dict[str, list[str]]:
        return {self.field: [self.detail]}


class NoText(HistoryError):
    status, code = 422, "validation_failed"

    def __init__(self, field: str, detail: str):
        super().__init__("some fields are not valid", field)
        self.detail = detail

    @property
    def fields(self) -> dict[str, list[str]]:
        return {self.field: [self.detail]}


# ---- the comment's head: what cache keys and the history policy need ----------------


@dataclass(frozen=True)
class CommentHead:
    comment_id: str
    thread_id: str
    author_id: str  # who posted it (the actor of version 1)
    position: int  # of the comment's latest event: every decision is one of them
    erasures: int  # position of the latest author erasure (names may have gone)

    def viewer_class(self, viewer: Viewer) -> str:
        """anonymous / member / author / moderator: what a cached body may differ by."""
        if viewer.moderator:
            return "moderator"
        if viewer.author_id is None:
            return "anonymous"
        return "author" if viewer.author_id == self.author_id else "member"


def comment_head(engine: Engine, comment_id: str) -> CommentHead:
    """One indexed read; UnknownComment if the record has no such comment."""
    rv = engine.tables("revisions").revisions
    dc = engine.tables("decisions").authors
    row = (
        engine.store.reader()
        .execute(
            f"SELECT thread_id, actor_id,"
            f" (SELECT MAX(position) FROM {rv} WHERE comment_id = ?) AS latest,"
            f" (SELECT MAX(position) FROM {dc}) AS erasures"
            f" FROM {rv} WHERE comment_id = ? AND version = 1",
            (comment_id, comment_id),
        )
        .one()
    )
    if row is None:
        raise UnknownComment(f"no comment with id {comment_id}")
    return CommentHead(
        comment_id,
        row["thread_id"],
        row["actor_id"],
        int(row["latest"]),
        int(row["erasures"] or 0),
    )


def check_policy(head: CommentHead, viewer: Viewer, *, restricted: bool) -> None:
    """DISCUSS_HISTORY_POLICY=restricted: the comment's author and moderators only."""
    if restricted and head.viewer_class(viewer) not in ("author", "moderator"):
        raise HistoryRefused(
            "the history of a comment is for its author and moderators only"
            + ("" if viewer.author_id else ": sign in")
        )


def comment_authors(engine: Engine, comment_ids: Iterable[str]) -> dict[str, str]:
    """comment id -> the author id (the actor of its version 1)."""
    ids = sorted({c for c in comment_ids if c})
    if not ids:
        return {}
    rv = engine.tables("revisions").revisions
    sql = engine.store.reader()
    found: dict[str, str] = {}
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        marks = ", ".join("?" * len(part))
        for row in sql.execute(
            f"SELECT comment_id, actor_id FROM {rv} WHERE version = 1 AND comment_id IN ({marks})",
            part,
        ).all():
            found[row["comment_id"]] = row["actor_id"]
    return found


def decision_revisions(engine: Engine, rows: Iterable[dict[str, Any]]) -> dict[int, int]:
    """audit row position -> the revision its decision concerns (revision erased,
    suppressed, unsuppressed), read from the revisions view."""
    wanted = {
        (r["comment_id"], r["originator_version"]): r["position"]
        for r in rows
        if r["type"] in REVISION_DECISION_TYPES
    }
    if not wanted:
        return {}
    rv = engine.tables("revisions").revisions
    ids = sorted({c for c, _ in wanted})
    sql = engine.store.reader()
    found: dict[int, int] = {}
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        marks = ", ".join("?" * len(part))
        for row in sql.execute(
            f"SELECT comment_id, version, kind, text FROM {rv} WHERE comment_id IN ({marks})"
            " AND kind IN ('revision_erased', 'revision_suppressed', 'revision_unsuppressed')",
            part,
        ).all():
            position = wanted.get((row["comment_id"], row["version"]))
            revision, _ = parse_revision(row["kind"], row["text"])
            if position is not None and revision is not None:
                found[position] = revision
    return found


# ---- the rules for reasons (texts and authors: visibility's verdicts directly) --------


def reason_verdict(
    kind: str,
    d: CommentDecisions | None,
    viewer: Viewer,
    author_id: str | None,
    version: int | None,
) -> Verdict:
    """May the viewer read the reason of an entry of kind `kind` (a revisions kind)?
    A withheld moderation reason has no note (nothing is said of it)."""
    if kind == "edited":
        return visibility.reason_verdict(d, viewer, author_id, version, RECORD)
    if kind == "retracted":
        verdict = visibility.text_verdict(d, viewer, author_id, None, RECORD)
        return SHOWN if verdict.shown or verdict.why == "retracted" else verdict
    if kind in MODERATION_KINDS:
        return SHOWN if visibility.moderation_reason_shown(d, viewer) else Verdict(False)
    return SHOWN  # erasures: a public basis; other kinds carry none


def actor_shown(
    d: CommentDecisions | None, viewer: Viewer, author_id: str | None, actor_id: str | None
) -> bool:
    """An entry's actor, unless it is the comment's author and the author is withheld."""
    if actor_id is None or actor_id != author_id:
        return True
    return visibility.author_verdict(d, viewer, author_id, RECORD).shown


def parse_revision(kind: str, value: str | None) -> tuple[int | None, list[str]]:
    """(revision concerned, parts suppressed) of a decision row of the revisions view."""
    if kind == "revision_suppressed" and value:
        number, _, parts = value.partition(":")
        return int(number), [p for p in parts.split(",") if p]
    if kind in ("revision_erased", "revision_unsuppressed") and value:
        return int(value), []
    return None, []


# ---- a comment's history ----------------------------------------------------------------


def _rows(engine: Engine, comment_id: str) -> list[dict[str, Any]]:
    rv = engine.tables("revisions").revisions
    rows = (
        engine.store.reader()
        .execute(f"SELECT * FROM {rv} WHERE comment_id = ? ORDER BY version", (comment_id,))
        .all()
    )
    if not rows:
        raise UnknownComment(f"no comment with id {comment_id}")
    return rows


def _state(rows: list[dict], d: CommentDecisions | None) -> str:
    """The comment's state as the record tells it: erased, else its last change of
    state (a comment retracted while hidden is retracted, and stays withheld as hidden)."""
    if d is not None and d.erased:
        return "erased"
    review = d.review if d is not None and d.reviews else None
    if review is not None:  # never approved: pending or rejected (issue 13)
        return review[0]
    state = "visible"
    for row in rows:
        if row["kind"] in STATE_KINDS:
            state = "visible" if row["kind"] == "restored" else row["kind"]
    return state


class _Record:
    """One comment's rows with today's decisions, for one viewer: every verdict taken,
    then the values shown opened in one batch."""

    def __init__(self, engine: Engine, rows: list[dict], viewer: Viewer):
        self.rows = rows
        self.viewer = viewer
        self.comment_id = rows[0]["comment_id"]
        self.author_id = rows[0]["actor_id"]
        self.d = visibility.decisions_for(engine, [self.comment_id]).get(self.comment_id)
        self.comment_verdict = visibility.text_verdict(self.d, viewer, self.author_id, None, RECORD)
        self.author_shown = visibility.author_verdict(self.d, viewer, self.author_id, RECORD).shown
        self.text_verdicts = {
            r["version"]: visibility.text_verdict(
                self.d, viewer, self.author_id, r["version"], RECORD
            )
            for r in rows
            if r["kind"] in TEXT_KINDS
        }
        self.reason_verdicts = {
            r["version"]: reason_verdict(r["kind"], self.d, viewer, self.author_id, r["version"])
            for r in rows
        }
        self.opening = Opening(engine)
        for r in rows:
            if self.text_verdicts.get(r["version"], SHOWN).shown and r["kind"] in TEXT_KINDS:
                self.opening.want(r["text"])
            if self.reason_verdicts[r["version"]].shown and r["kind"] not in ERASURE_KINDS:
                self.opening.want(r["reason"])
        self.opening.run()
        actors = {r["actor_id"] for r in rows if self._actor_shown(r["actor_id"])}
        self.names = visibility.author_names(engine, actors)

    def _actor_shown(self, actor_id: str) -> bool:
        return actor_id != self.author_id or self.author_shown

    def actor(self, actor_id: str) -> dict[str, Any] | None:
        if not self._actor_shown(actor_id):
            return None
        return {"id": actor_id, "name": self.names.get(actor_id, visibility.ERASED_AUTHOR_NAME)}

    def author(self) -> dict[str, Any] | None:
        return self.actor(self.author_id)

    def text(self, row: dict) -> tuple[str | None, str | None]:
        """(text, withheld note) of a text revision."""
        verdict = self.text_verdicts[row["version"]]
        if not verdict.shown:
            return None, verdict.note
        text, unavailable = self.opening.text(row["text"])
        if unavailable or (text is None and row["text"] is None):
            return None, visibility.UNAVAILABLE_NOTE
        return text, None

    def reason(self, row: dict) -> tuple[str | None, str | None]:
        """(reason, withheld note): a note only when there was a reason to withhold."""
        if row["kind"] in ERASURE_KINDS or row["reason"] is None:
            return None, None
        verdict = self.reason_verdicts[row["version"]]
        if not verdict.shown:
            return None, verdict.note
        reason, unavailable = self.opening.text(row["reason"])
        return reason, (visibility.UNAVAILABLE_NOTE if unavailable else None)

    def entry(self, row: dict) -> dict[str, Any]:
        kind = row["kind"]
        text, withheld = self.text(row) if kind in TEXT_KINDS else (None, None)
        reason, reason_withheld = self.reason(row)
        revision, parts = parse_revision(kind, row["text"])
        basis = row["reason"] if kind in ERASURE_KINDS else None
        return {
            "version": row["version"],
            "kind": kind,
            "text": text,
            "withheld": withheld,
            "actor": self.actor(row["actor_id"]),
            "at": row["at"],
            "reason": reason,
            "reason_withheld": reason_withheld,
            "position": row["position"],
            "revision": revision,
            "suppressed": parts if kind == "revision_suppressed" else None,
            "basis": basis,
            "basis_label": visibility.basis_label(basis) if basis else None,
        }


def comment_history(
    engine: Engine, comment_id: str, viewer: Viewer, *, restricted: bool
) -> dict[str, Any]:
    """Every revision and change of state of a comment, oldest first, with what the
    viewer may not read withheld (and a note saying why and since when).
    UnknownComment (404), HistoryRefused (403, DISCUSS_HISTORY_POLICY=restricted)."""
    rows = _rows(engine, comment_id)
    head = CommentHead(comment_id, rows[0]["thread_id"], rows[0]["actor_id"], 0, 0)
    check_policy(head, viewer, restricted=restricted)
    record = _Record(engine, rows, viewer)
    verdict = record.comment_verdict
    _check_known(record, comment_id)
    return {
        "comment_id": comment_id,
        "thread_id": rows[0]["thread_id"],
        "author": record.author(),
        "state": _state(rows, record.d),
        "text_withheld": not verdict.shown,
        "withheld": verdict.note,
        "withheld_cause": verdict.why,
        "revisions": sum(1 for r in rows if r["kind"] in TEXT_KINDS),
        "entries": [record.entry(r) for r in rows],
    }


# ---- diffs ------------------------------------------------------------------------------


def _check_known(record: _Record, comment_id: str) -> None:
    """A comment awaiting review before it was ever approved does not exist for
    readers (no placeholder anywhere): its record is unknown to them too."""
    if record.comment_verdict.why == "pending":
        raise UnknownComment(f"no comment with id {comment_id}")


def _refusal(version: int, verdict: Verdict) -> HistoryError:
    if verdict.why == "unavailable":
        return TextUnavailable(f"version {version} of this comment is unavailable: its key is gone")
    suffix = _DIFF_REFUSAL.get(verdict.why or "", "")
    return TextWithheld(f"version {version} of this comment was {verdict.note}{suffix}")


def comment_diff(
    engine: Engine,
    comment_id: str,
    viewer: Viewer,
    from_: int | None,
    to: int | None,
    *,
    restricted: bool,
) -> dict[str, Any]:
    """The difference between two text revisions (`to` defaults to the latest text,
    `from_` to the one before it). NoSuchVersion (404) and NoText (422) name the field;
    TextWithheld (403) says why a side's text is not for the viewer, never the text."""
    rows = _rows(engine, comment_id)
    head = CommentHead(comment_id, rows[0]["thread_id"], rows[0]["actor_id"], 0, 0)
    check_policy(head, viewer, restricted=restricted)
    _check_known(_Record(engine, rows, viewer), comment_id)
    by_version = {r["version"]: r for r in rows}
    texts = [r for r in rows if r["kind"] in TEXT_KINDS]

    def pick(field: str, version: int) -> dict:
        row = by_version.get(version)
        if row is None:
            raise NoSuchVersion(
                f"comment {comment_id} has no version {version}",
                field,
                f"no version {version}; the latest is {rows[-1]['version']}",
            )
        if row["kind"] not in TEXT_KINDS:
            raise NoText(field, f"version {version} is a change of state ({row['kind']}), no text")
        return row

    new = pick("to", to) if to is not None else texts[-1]
    if from_ is not None:
        old = pick("from", from_)
    else:
        before = [r for r in texts if r["version"] < new["version"]]
        old = before[-1] if before else new

    record = _Record(
        engine, [rows[0], *{old["version"]: old, new["version"]: new}.values()], viewer
    )
    sides = []
    for row in (old, new):
        text, _ = record.text(row)
        if text is None:
            verdict = record.text_verdicts[row["version"]]
            raise _refusal(
                row["version"], verdict if not verdict.shown else Verdict(False, "unavailable")
            )
        sides.append(text)
    old_text, new_text = sides

    def side(row: dict) -> dict[str, Any]:
        entry = record.entry(row)
        return {
            k: entry[k]
            for k in ("version", "kind", "actor", "at", "reason", "reason_withheld", "position")
        }

    return {
        "comment_id": comment_id,
        "from": side(old),
        "to": side(new),
        "unified": diffs.unified(
            old_text, new_text, f"version {old['version']}", f"version {new['version']}"
        ),
        "spans": diffs.word_spans(old_text, new_text),
    }


# ---- the public ledger of erasures ------------------------------------------------------


def _covered(engine: Engine, author_id: str) -> int:
    """How many comments an author's erasure covered (erased with the account)."""
    dc = engine.tables("decisions").comments
    sql = engine.store.reader()
    vault = getattr(getattr(engine, "app", None), "vault", None)
    if vault is None:  # no key table: the comments the author posted, by the record
        rv = engine.tables("revisions").revisions
        return int(
            sql.execute(
                f"SELECT COUNT(*) AS n FROM {dc} d JOIN {rv} r"
                " ON r.comment_id = d.comment_id AND r.version = 1"
                " WHERE d.erased_scope = 'author' AND r.actor_id = ?",
                (author_id,),
            ).scalar()
            or 0
        )
    ids = vault.comments_of(author_id)  # the key table knows every comment of theirs
    count = 0
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        marks = ", ".join("?" * len(part))
        count += int(
            sql.execute(
                f"SELECT COUNT(*) AS n FROM {dc} WHERE erased_scope = 'author'"
                f" AND comment_id IN ({marks})",
                part,
            ).scalar()
            or 0
        )
    return count


def erasures(engine: Engine, cursor: int | None = None, limit: int = 50) -> dict[str, Any]:
    """The public ledger, newest first: every erasure of a comment (by a moderator), of
    one revision, and of an author's account (one entry, with the number of comments
    it covered). What kind of thing, its ids, when, by whom, on which basis. Never
    what it said. A keyset page by position: pass next_cursor as `cursor`."""
    ev = engine.tables("audit").events
    dc = engine.tables("decisions")
    rv = engine.tables("revisions").revisions
    marks = ", ".join("?" * len(ERASURE_TYPES))
    params: list[Any] = [*ERASURE_TYPES, ERASED_COMMENT]
    where = ""
    if cursor is not None:
        where = " AND e.position < ?"
        params.append(cursor)
    rows = (
        engine.store.reader()
        .execute(
            "SELECT e.position, e.at, e.actor_id, e.type, e.thread_id, e.originator_id,"
            " d.erased_basis AS comment_basis, r.text AS revision, r.reason AS revision_basis,"
            " a.erased_basis AS author_basis"
            f" FROM {ev} e"
            f" LEFT JOIN {dc.comments} d"
            "  ON e.type = 'Comment.Erased' AND d.comment_id = e.originator_id"
            f" LEFT JOIN {rv} r ON e.type = 'Comment.RevisionErased'"
            "  AND r.comment_id = e.originator_id AND r.version = e.originator_version"
            f" LEFT JOIN {dc.authors} a"
            "  ON e.type = 'Author.Erased' AND a.author_id = e.originator_id"
            f" WHERE e.type IN ({marks})"
            "  AND (e.type <> 'Comment.Erased' OR d.erased_scope = ?)"
            f"{where} ORDER BY e.position DESC LIMIT ?",
            (*params, limit + 1),
        )
        .all()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    names = visibility.author_names(engine, {r["actor_id"] for r in rows if r["actor_id"]})
    entries = []
    for row in rows:
        kind = {"Comment.Erased": "comment", "Comment.RevisionErased": "revision"}.get(
            row["type"], "author"
        )
        actor_id = row["actor_id"]
        if actor_id == str(OPERATOR_ID):
            name = visibility.OPERATOR_NAME
        elif kind == "author" and actor_id == row["originator_id"]:
            name = AUTHOR_THEMSELF
        else:
            name = names.get(actor_id, visibility.ERASED_AUTHOR_NAME)
        basis = row["comment_basis"] or row["revision_basis"] or row["author_basis"]
        entries.append(
            {
                "position": row["position"],
                "at": row["at"],
                "kind": kind,
                "comment_id": row["originator_id"] if kind != "author" else None,
                "thread_id": row["thread_id"],
                "revision": int(row["revision"])
                if kind == "revision" and row["revision"]
                else None,
                "author_id": row["originator_id"] if kind == "author" else None,
                "comments": _covered(engine, row["originator_id"]) if kind == "author" else None,
                "actor": {"id": actor_id, "name": name},
                "basis": basis,
                "basis_label": visibility.basis_label(basis),
            }
        )
    return {"entries": entries, "next_cursor": rows[-1]["position"] if more else None}
