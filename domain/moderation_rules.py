"""Moderation rules (issue 13): a named rule set, read from a TOML file, that holds a
comment for review or refuses it. Pure: the facts about the author and the thread are
given by the caller (projections/screening.py gathers them), so the same rule set
decides live posts and `discuss rules try`'s replay of the past.

A rule set (see domain/data/default-rules.toml and the README, "Moderation rules"):

    trusted_after = 3            # authors with 3 approvals skip holds (not refusals)

    [[rule]]
    name = "links"               # appears in every decision the rule makes
    kind = "links"               # first-comments | links | words | repeated | premoderated
    max = 2
    action = "hold"              # or "refuse"

The file is parsed with the standard library's tomllib; every mistake is a
RulesInvalid naming the line (tomllib's own position for syntax errors, the line of
the rule's `name` or its [[rule]] header for the rest).
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

HOLD = "hold"
REFUSE = "refuse"
ACTIONS = (HOLD, REFUSE)
KINDS = ("first-comments", "links", "words", "repeated", "premoderated")
DEFAULT_RULES_FILE = Path(__file__).resolve().parent / "data" / "default-rules.toml"
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
# A link: a URL with a scheme, or a bare www. host (what spam uses when schemes are
# stripped). Counted, not validated.
_LINK = re.compile(r"(?i)\b(?:https?://|ftp://|www\.)\S")


class RulesInvalid(ValueError):
    """A rule file that cannot be used; `line` (1-based) where the mistake is."""

    def __init__(self, message: str, line: int | None = None, source: str = "rules"):
        where = f"{source}, line {line}" if line else source
        super().__init__(f"{where}: {message}")
        self.line = line
        self.reason = message


@dataclass(frozen=True)
class Facts:
    """What the rules need beyond the text: the author's record and the thread."""

    posted: int = 0  # the author's comments before this one
    approved: int = 0  # approvals of the author's comments by moderators
    recent_texts: tuple[str, ...] = ()  # the author's last texts (for `repeated`)
    premoderated: bool = False  # the thread's pre-moderation switch
    editing: bool = False  # an edit's new text (first-comments counts comments, not edits)


@dataclass(frozen=True)
class Decision:
    refused_by: str | None = None  # the rule that refused the text
    held_by: tuple[str, ...] = ()  # the rules that hold it for review

    @property
    def refused(self) -> bool:
        return self.refused_by is not None


PASS = Decision()


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str
    action: str
    count: int = 0  # first-comments: N; links: K; repeated: within
    words: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    # words: one regex of them all; patterns: each compiled alone (each may set flags)
    _regexes: tuple[re.Pattern, ...] = field(default=(), compare=False, repr=False)

    def fires(self, text: str, lowered: str, facts: Facts) -> bool:
        kind = self.kind
        if kind == "links":
            # Count only as far as needed: more than K is all the rule asks.
            return sum(1 for _ in islice(_LINK.finditer(text), self.count + 1)) > self.count
        if kind == "first-comments":
            return not facts.editing and facts.posted < self.count
        if kind == "words":
            return any(regex.search(text) is not None for regex in self._regexes)
        if kind == "repeated":
            return lowered in facts.recent_texts[: self.count]
        if kind == "premoderated":
            return facts.premoderated
        return False


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...] = ()
    trusted_after: int = 0
    digest: str = ""  # sha256 of the file's text: a change is recorded as an event
    source: str = ""

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.rules]

    @property
    def wants_recent_texts(self) -> int:
        return max((r.count for r in self.rules if r.kind == "repeated"), default=0)

    def check(self, text: str, facts: Facts, lowered: str | None = None) -> Decision:
        """What the rules decide for `text` (a new comment or an edit's new text);
        `lowered`: normalise(text), if the caller has it already."""
        if not self.rules:
            return PASS
        if lowered is None:
            lowered = normalise(text) if self.wants_recent_texts else ""
        trusted = 0 < self.trusted_after <= facts.approved
        held: list[str] = []
        for rule in self.rules:
            if rule.action == HOLD and (trusted or rule.name in held):
                continue
            if rule.fires(text, lowered, facts):
                if rule.action == REFUSE:
                    return Decision(refused_by=rule.name)
                held.append(rule.name)
        return Decision(held_by=tuple(held)) if held else PASS


OFF = RuleSet(source="off")


def normalise(text: str) -> str:
    """The form `repeated` compares: case and runs of whitespace ignored."""
    return " ".join(text.lower().split())


def parse_rules(text: str, source: str = "rules") -> RuleSet:
    """A RuleSet from a TOML rule file's text; RulesInvalid names the line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        line = getattr(error, "lineno", None)
        if line is None:
            found = re.search(r"line (\d+)", str(error))
            line = int(found.group(1)) if found else None
        message = getattr(error, "msg", None) or re.sub(r"\s*\(at line.*\)$", "", str(error))
        raise RulesInvalid(f"not valid TOML: {message}", line, source) from None
    lines = text.splitlines()
    unknown = set(data) - {"rule", "trusted_after"}
    if unknown:
        key = sorted(unknown)[0]
        raise RulesInvalid(f"unknown setting {key!r}", _line_of(lines, key), source)
    trusted_after = data.get("trusted_after", 0)
    if not isinstance(trusted_after, int) or isinstance(trusted_after, bool) or trusted_after < 0:
        raise RulesInvalid(
            "trusted_after must be a whole number, 0 or more",
            _line_of(lines, "trusted_after"),
            source,
        )
    entries = data.get("rule", [])
    if not isinstance(entries, list):
        raise RulesInvalid("rules are [[rule]] tables", _line_of(lines, "rule"), source)
    headers = [i + 1 for i, line in enumerate(lines) if line.strip().startswith("[[rule]]")]
    rules: list[Rule] = []
    for index, entry in enumerate(entries):
        header = headers[index] if index < len(headers) else None
        rules.append(_rule(entry, lines, header, source, {r.name for r in rules}))
    digest = hashlib.sha256(text.encode()).hexdigest()
    return RuleSet(tuple(rules), trusted_after, digest, source)


def load_rules(path: str | Path) -> RuleSet:
    """The rule set of a file (DISCUSS_RULES); RulesInvalid names the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RulesInvalid(f"cannot read it ({error})", None, str(path)) from None
    return parse_rules(text, str(path))


def rules_for(setting: str) -> RuleSet:
    """DISCUSS_RULES: "default" (the shipped file), "off", or a file's path."""
    if setting == "off":
        return OFF
    if setting in ("", "default"):
        return load_rules(DEFAULT_RULES_FILE)
    return load_rules(setting)


_FIELDS = {
    "first-comments": {"count"},
    "links": {"max"},
    "words": {"words", "patterns"},
    "repeated": {"within"},
    "premoderated": set(),
}


def _rule(entry: object, lines: list[str], header: int | None, source: str, taken: set) -> Rule:
    def fail(message: str, key: str | None = None) -> RulesInvalid:
        line = _line_after(lines, key, header) if key else header
        return RulesInvalid(message, line or header, source)

    if not isinstance(entry, dict):
        raise fail("a rule is a [[rule]] table")
    name = entry.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise fail("every rule needs a name: lower-case letters, digits, '.', '_' or '-'", "name")
    if name in taken:
        raise fail(f"two rules are named {name!r}", "name")
    kind = entry.get("kind")
    if kind not in KINDS:
        raise fail(f"rule {name!r}: kind must be one of {', '.join(KINDS)}", "kind")
    action = entry.get("action", HOLD)
    if action not in ACTIONS:
        raise fail(f"rule {name!r}: action must be 'hold' or 'refuse'", "action")
    allowed = _FIELDS[kind] | {"name", "kind", "action"}
    extra = sorted(set(entry) - allowed)
    if extra:
        raise fail(f"rule {name!r} ({kind}) has no setting {extra[0]!r}", extra[0])

    def number(key: str, default: int | None = None) -> int:
        value = entry.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise fail(f"rule {name!r}: {key} must be a whole number, 0 or more", key)
        return value

    count, words, patterns, regexes = 0, (), (), []
    if kind == "first-comments":
        count = number("count", 1)
    elif kind == "links":
        count = number("max", 2)
    elif kind == "repeated":
        count = number("within", 5)
    elif kind == "words":
        words = tuple(_strings(entry, "words", fail))
        patterns = tuple(_strings(entry, "patterns", fail))
        if not words and not patterns:
            raise fail(f"rule {name!r}: give words, patterns, or both", "kind")
        if words:
            alternatives = "|".join(re.escape(w) for w in words)
            regexes.append(re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE))
        for pattern in patterns:
            try:
                regexes.append(re.compile(pattern, re.IGNORECASE))
            except re.error as error:
                raise fail(f"rule {name!r}: pattern {pattern!r}: {error}", "patterns") from None
    return Rule(name, kind, action, count, words, patterns, tuple(regexes))


def _strings(entry: dict, key: str, fail) -> Sequence[str]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise fail(f"{key} must be a list of non-empty strings", key)
    return value


def _line_of(lines: list[str], key: str) -> int | None:
    pattern = re.compile(rf"^\s*(\[\[?)?\s*{re.escape(key)}\b")
    for i, line in enumerate(lines):
        if pattern.match(line):
            return i + 1
    return None


def _line_after(lines: list[str], key: str, header: int | None) -> int | None:
    """The line of `key` within the [[rule]] table that starts at `header`."""
    start = header or 1
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for i in range(start, len(lines)):
        if lines[i].strip().startswith("[[") and i + 1 != start:
            break
        if pattern.match(lines[i]):
            return i + 1
    return header


# ---- the rule set in force, as events --------------------------------------------------


class RuleBook(Aggregate):
    """The site's rule set over time: each change of the rules in force is an event
    (who, when, which rules, the file's digest), so the audit log explains a hold."""

    class Adopted(Aggregate.Event):
        names: list[str]
        digest: str
        source: str
        actor_id: UUID

        def apply(self, book: RuleBook) -> None:
            book.digest = self.digest
            book.names = list(self.names)

    class Opened(Aggregate.Created):
        actor_id: UUID

    ID = uuid5(NAMESPACE_URL, "/moderation/rules")

    def __init__(self, actor_id: UUID):
        self.digest = ""
        self.names: list[str] = []

    @classmethod
    def open(cls, actor_id: UUID) -> RuleBook:
        return cls._create(cls.Opened, id=cls.ID, actor_id=actor_id)

    def adopt(self, rules: RuleSet, actor_id: UUID) -> bool:
        """Record `rules` as in force; False if they are in force already."""
        if rules.digest == self.digest:
            return False
        self.trigger_event(
            self.Adopted,
            names=rules.names,
            digest=rules.digest,
            source=rules.source,
            actor_id=actor_id,
        )
        return True
