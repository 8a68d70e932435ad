"""The rules in force, and the screen every post and edit passes (issue 13).

`RulesInForce` holds the RuleSet of DISCUSS_RULES: loaded at start-up (an invalid file
stops the start with the line named), reloaded when the file changes (an invalid new
version is reported and the previous rules stay in force), and each change of the
rules in force recorded as a RuleBook.Adopted event.

`Screen` is what the application calls (Discussions.screen) before it saves a
member's post or edit: it gathers the facts (projections/moderation.py) and lets the
rule set decide: nothing, a hold (the names of the rules), or a refusal (Refused, 422,
nothing stored).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict, deque
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from domain.errors import Refused
from domain.model import OPERATOR_ID
from domain.moderation_rules import OFF, Facts, RuleBook, RuleSet, RulesInvalid, normalise
from domain.moderation_rules import rules_for as parse_setting
from projections import moderation
from projections.engine import Engine
from projections.visibility import Opening

log = logging.getLogger(__name__)
RELOAD_CHECK_SECONDS = 2.0


def record_adoption(app: Any, rules: RuleSet, actor_id: UUID = OPERATOR_ID) -> bool:
    """Record `rules` as the rules in force (an event) unless they are already."""
    for _ in range(3):
        try:
            book = app.repository.get(RuleBook.ID)
        except AggregateNotFoundError:
            book = RuleBook.open(actor_id)
        if not book.adopt(rules, actor_id):
            return False
        try:
            app.save(book)
            return True
        except IntegrityError:  # another process recorded a change first: look again
            continue
    return False


class RulesInForce:
    """The rule set of DISCUSS_RULES ("default", "off" or a file), kept current."""

    def __init__(self, setting: str, on_change: Any = None):
        self.on_change = on_change  # called with the new RuleSet after a reload
        self.setting = setting or "default"
        self.rules: RuleSet = parse_setting(self.setting)  # RulesInvalid stops the start
        self.last_error: str | None = None
        self._stamp = self._file_stamp()
        self._checked = time.monotonic()
        self._lock = threading.Lock()

    @property
    def path(self) -> str | None:
        return None if self.setting in ("off", "default", "") else self.setting

    def _file_stamp(self) -> tuple[float, int] | None:
        if self.path is None:
            return None
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime, st.st_size)

    def current(self) -> RuleSet:
        """The rules in force, reloaded if the file changed (checked every few seconds)."""
        if self.path is not None and time.monotonic() - self._checked > RELOAD_CHECK_SECONDS:
            self.reload_if_changed()
        return self.rules

    def reload_if_changed(self) -> bool:
        with self._lock:
            self._checked = time.monotonic()
            stamp = self._file_stamp()
            if stamp == self._stamp:
                return False
            self._stamp = stamp
        return self.reload()

    def reload(self) -> bool:
        """Load the file again; on a mistake keep the previous rules (and say why)."""
        try:
            rules = parse_setting(self.setting)
        except RulesInvalid as error:
            self.last_error = str(error)
            log.error("moderation rules not reloaded, the previous ones stay: %s", error)
            return False
        self.last_error = None
        changed = rules.digest != self.rules.digest
        self.rules = rules
        if changed and self.on_change is not None:
            self.on_change(rules)
        return changed


def install_rules(app: Any, engine: Engine, setting: str) -> RulesInForce:
    """A serving process's rules: loaded (RulesInvalid stops the start), screening the
    application's posts and edits, and recorded as an event when they changed."""
    rules = RulesInForce(setting, on_change=lambda r: record_adoption(app, r))
    app.screen = Screen(engine, rules)
    record_adoption(app, rules.rules)
    return rules


class _Recent:
    """An author's last texts (normalised), as loaded when they had posted `count`."""

    __slots__ = ("count", "texts")

    def __init__(self, count: int, texts: list[tuple[str | None, str]], size: int):
        self.count = count
        self.texts: deque[tuple[str | None, str]] = deque(texts, maxlen=size)


class Screen:
    """Discussions.screen: the rules' decision on a member's new text.

    The `repeated` rule compares with the author's last texts, which are sealed: opening
    them costs a key lookup and a decryption each. They are kept per author in a small
    LRU, valid while the author's count of comments (read on every check, one indexed
    row) is the one they were loaded at; texts this process lets through are added
    meanwhile, so a quick repeat is caught before the projections have the first one."""

    CACHE_SIZE = 2048

    def __init__(self, engine: Engine, rules: RulesInForce):
        self.engine = engine
        self.rules = rules
        self._recent: OrderedDict[str, _Recent] = OrderedDict()
        self._lock = threading.Lock()

    def _recent_texts(self, author: str, posted: int, size: int) -> _Recent:
        with self._lock:
            found = self._recent.get(author)
            if found is not None and found.count == posted and found.texts.maxlen == size:
                self._recent.move_to_end(author)
                return found
        sealed = moderation.recent_texts(self.engine, author, size, None)
        opening = Opening(self.engine)
        for _, value in sealed:
            opening.want(value)
        opening.run()
        pairs = []
        for comment_id, value in reversed(sealed):  # oldest first
            text = opening.text(value)[0]
            if text:
                pairs.append((comment_id, normalise(text)))
        found = _Recent(posted, pairs, size)
        with self._lock:
            self._recent[author] = found
            if len(self._recent) > self.CACHE_SIZE:
                self._recent.popitem(last=False)
        return found

    def facts(
        self, rules: RuleSet, author_id: UUID, thread: Any, editing: UUID | None
    ) -> tuple[Facts, _Recent | None]:
        author = str(author_id)
        counts = moderation.author_counts(self.engine, author)
        recent, entry = (), None
        size = rules.wants_recent_texts
        if size:
            entry = self._recent_texts(author, counts["posted"], size)
            pairs = list(entry.texts)
            if editing is None:
                recent = tuple(t for _, t in pairs)
            else:  # its own text left out (and own posts whose id is not known yet)
                key = str(editing)
                recent = tuple(t for c, t in pairs if c is not None and c != key)
        posted = counts["posted"] - (1 if editing is not None else 0)
        facts = Facts(
            posted=max(posted, 0),
            approved=counts["approved"],
            recent_texts=recent[-size:] if size else (),
            premoderated=bool(getattr(thread, "premoderated", False)),
            editing=editing is not None,
        )
        return facts, entry

    def __call__(
        self, author_id: UUID, thread: Any, text: str, editing: UUID | None = None
    ) -> list[str]:
        rules = self.rules.current()
        if rules is OFF or not rules.rules:
            return []
        lowered = normalise(text) if rules.wants_recent_texts else None
        facts, entry = self.facts(rules, author_id, thread, editing)
        decision = rules.check(text, facts, lowered)
        if decision.refused_by is not None:
            raise Refused(
                f"refused by the moderation rule {decision.refused_by!r}", decision.refused_by
            )
        if entry is not None and lowered is not None:
            with self._lock:
                if editing is None:
                    entry.texts.append((None, lowered))
                else:
                    key = str(editing)
                    entry.texts = deque(
                        [(c, lowered if c == key else t) for c, t in entry.texts],
                        maxlen=entry.texts.maxlen,
                    )
        return list(decision.held_by)
