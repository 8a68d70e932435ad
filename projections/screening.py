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


class Screen:
    """Discussions.screen: the rules' decision on a member's new text."""

    def __init__(self, engine: Engine, rules: RulesInForce):
        self.engine = engine
        self.rules = rules

    def facts(self, rules: RuleSet, author_id: UUID, thread: Any, editing: UUID | None) -> Facts:
        engine, author = self.engine, str(author_id)
        counts = moderation.author_counts(engine, author)
        recent: tuple[str, ...] = ()
        if rules.wants_recent_texts:
            sealed = moderation.recent_texts(
                engine, author, rules.wants_recent_texts, str(editing) if editing else None
            )
            opening = Opening(engine)
            for value in sealed:
                opening.want(value)
            opening.run()
            recent = tuple(normalise(t) for t in (opening.text(v)[0] for v in sealed) if t)
        posted = counts["posted"] - (1 if editing is not None else 0)
        return Facts(
            posted=max(posted, 0),
            approved=counts["approved"],
            recent_texts=recent,
            premoderated=bool(getattr(thread, "premoderated", False)),
            editing=editing is not None,
        )

    def __call__(
        self, author_id: UUID, thread: Any, text: str, editing: UUID | None = None
    ) -> list[str]:
        rules = self.rules.current()
        if rules is OFF or not rules.rules:
            return []
        decision = rules.check(text, self.facts(rules, author_id, thread, editing))
        if decision.refused_by is not None:
            raise Refused(
                f"refused by the moderation rule {decision.refused_by!r}", decision.refused_by
            )
        return list(decision.held_by)
