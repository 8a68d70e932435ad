"""`discuss rules try`: a candidate rule set replayed over the comments already posted
(issue 13), changing nothing.

The log is read in pages from `since` (a position); each post and edit is checked by
the candidate rules with the facts as they were at that point of the log (the author's
comments so far, their approvals so far, their last texts, the thread's pre-moderation
switch), so the report says what the rules would have held or refused then. Texts are
opened in one batch per page (projections/keys.py); moderators' and the operator's
own comments are skipped as the live screen skips them.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from domain.model import MODERATOR, OPERATOR_ID, Author, Comment, Thread
from domain.moderation_rules import REFUSE, Facts, RuleSet, normalise
from projections.engine import Engine
from projections.visibility import Opening

PAGE = 2000
EXAMPLES = 3
EXCERPT = 120


@dataclass
class RuleCount:
    name: str
    action: str
    fired: int = 0  # the rule decided (for holds: among the rules that held it)
    examples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Report:
    since: int
    until: int
    events: int = 0  # events read
    checked: int = 0  # posts and edits checked
    held: int = 0
    refused: int = 0
    seconds: float = 0.0
    rules: dict[str, RuleCount] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "until": self.until,
            "events": self.events,
            "checked": self.checked,
            "held": self.held,
            "refused": self.refused,
            "passed": self.checked - self.held - self.refused,
            "seconds": round(self.seconds, 3),
            "rules": [
                {"name": r.name, "action": r.action, "fired": r.fired, "examples": r.examples}
                for r in self.rules.values()
            ],
        }


class _Past:
    """The facts as of the replay's current point of the log (keyed by UUID objects, as
    decoded: no string conversions per event)."""

    def __init__(self, recent: int):
        self.recent = recent
        self.posted: dict[Any, int] = {}
        self.approved: dict[Any, int] = {}
        # author -> their last texts (normalised) and the comments they belong to
        self.texts: dict[Any, deque[str]] = {}
        self.ids: dict[Any, deque[Any]] = {}
        self.author_of: dict[Any, Any] = {}
        self.moderators: set[Any] = {OPERATOR_ID}
        self.premoderated: set[Any] = set()

    def facts(self, author: Any, thread: Any, editing: Any) -> Facts:
        texts = self.texts.get(author)
        if not texts:
            recent: tuple[str, ...] = ()
        elif editing is not None and editing in self.ids[author]:
            pairs = zip(self.ids[author], texts, strict=True)
            recent = tuple(t for c, t in pairs if c != editing)[-self.recent :]
        else:
            recent = tuple(texts)[-self.recent :]
        posted = self.posted.get(author, 0) - (1 if editing is not None else 0)
        return Facts(
            posted=max(posted, 0),
            approved=self.approved.get(author, 0),
            recent_texts=recent,
            premoderated=thread in self.premoderated,
            editing=editing is not None,
        )

    def wrote(self, author: Any, comment: Any, lowered: str | None) -> None:
        if self.recent and lowered is not None:
            texts = self.texts.get(author)
            if texts is None:
                texts = self.texts[author] = deque(maxlen=self.recent + 1)
                self.ids[author] = deque(maxlen=self.recent + 1)
            texts.append(lowered)
            self.ids[author].append(comment)


def try_rules(
    engine: Engine,
    rules: RuleSet,
    since: int = 1,
    until: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Replay posts and edits from position `since` (facts from the start of the log)."""
    app = engine.app
    head = app.recorder.max_notification_id() or 0
    until = min(until or head, head)
    report = Report(since=since, until=until)
    for rule in rules.rules:
        report.rules[rule.name] = RuleCount(rule.name, rule.action)
    past = _Past(rules.wants_recent_texts)
    started = time.perf_counter()
    start = 1
    while start <= until:
        notifications = app.recorder.select_notifications(
            start=start, limit=min(PAGE, until - start + 1)
        )
        if not notifications:
            break
        events = [(n.id, engine.decoder.decode(n)) for n in notifications]
        start = notifications[-1].id + 1
        report.events += sum(1 for p, _ in events if p >= since)
        opening = Opening(engine)
        for _, e in events:
            if type(e) in (Comment.Posted, Comment.Edited):
                opening.want(e.text)
        opening.run()
        for position, e in events:
            _apply(report, rules, past, opening, position, e, since)
        if progress is not None:
            progress(start - 1)
    report.seconds = time.perf_counter() - started
    return report


def _apply(
    report: Report, rules: RuleSet, past: _Past, opening: Opening, position: int, e: Any, since: int
) -> None:
    kind = type(e)
    if kind is Comment.Posted or kind is Comment.Edited:
        cid = e.originator_id
        if kind is Comment.Posted:
            author = past.author_of[cid] = e.author_id
            editing = None
        else:
            author = past.author_of.get(cid)
            editing = cid
        text, _ = opening.text(e.text)
        lowered = normalise(text) if past.recent and text is not None else None
        if position >= since and text is not None and author not in past.moderators:
            decision = rules.check(text, past.facts(author, e.thread_id, editing), lowered)
            report.checked += 1
            if decision.refused_by is not None:
                report.refused += 1
                _count(report, decision.refused_by, cid, e.thread_id, position, text)
            elif decision.held_by:
                report.held += 1
                for name in decision.held_by:
                    _count(report, name, cid, e.thread_id, position, text)
        if kind is Comment.Posted:
            past.posted[author] = past.posted.get(author, 0) + 1
        past.wrote(author, cid, lowered)
    elif kind is Comment.Approved:
        author = past.author_of.get(e.originator_id)
        if author is not None:
            past.approved[author] = past.approved.get(author, 0) + 1
    elif kind is Author.Registered:
        if e.role == MODERATOR:
            past.moderators.add(e.originator_id)
    elif kind is Thread.PremoderationSwitched:
        (past.premoderated.add if e.on else past.premoderated.discard)(e.originator_id)


def _count(report: Report, name: str, cid: Any, thread: Any, position: int, text: str) -> None:
    found = report.rules[name]
    found.fired += 1
    if len(found.examples) < EXAMPLES:
        excerpt = " ".join(text.split())
        if len(excerpt) > EXCERPT:
            excerpt = excerpt[: EXCERPT - 1] + "…"
        found.examples.append(
            {
                "comment_id": str(cid),
                "thread_id": str(thread),
                "position": position,
                "excerpt": excerpt,
            }
        )


def describe(report: Report) -> str:
    """The report in words, for the command line."""
    d = report.as_dict()
    lines = [
        f"Replayed positions {d['since']}..{d['until']}: {d['events']} events,"
        f" {d['checked']} posts and edits checked in {d['seconds']} s.",
        f"Would have held {d['held']}, refused {d['refused']}, let {d['passed']} through.",
    ]
    for rule in d["rules"]:
        verb = "refused" if rule["action"] == REFUSE else "held"
        lines.append(f"  {rule['name']} ({rule['action']}): {verb} {rule['fired']}")
        for ex in rule["examples"]:
            lines.append(
                f"    - comment {ex['comment_id']} (position {ex['position']}): {ex['excerpt']}"
            )
    lines.append("Nothing was changed.")
    return "\n".join(lines)


def position_since(engine: Engine, when: str) -> int:
    """The first position at or after an ISO date or time (the audit log's times)."""
    t = engine.tables("audit")
    found = (
        engine.store.reader()
        .execute(f"SELECT MIN(position) FROM {t.events} WHERE at >= ?", (when,))
        .scalar()
    )
    return int(found) if found is not None else (engine.app.head_position() + 1)
