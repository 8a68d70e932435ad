"""Moderation rule files (issue 13): parsing with the line of every mistake, what each
kind of rule decides, trusted authors, and reloading (the previous rules stay when the
new file is invalid)."""

from __future__ import annotations

import os

import pytest

from domain.moderation_rules import (
    DEFAULT_RULES_FILE,
    Facts,
    RulesInvalid,
    load_rules,
    parse_rules,
)
from projections.screening import RulesInForce

RULES = """
trusted_after = 2

[[rule]]
name = "new"
kind = "first-comments"
count = 2

[[rule]]
name = "links"
kind = "links"
max = 1

[[rule]]
name = "bad-words"
kind = "words"
words = ["casino"]
patterns = ["free\\\\s+money", '(?i)bit\\.ly/']
action = "refuse"

[[rule]]
name = "soft-words"
kind = "words"
words = ["crypto"]

[[rule]]
name = "again"
kind = "repeated"
within = 2
action = "refuse"

[[rule]]
name = "pre"
kind = "premoderated"
"""


def test_each_kind_of_rule_decides():
    rules = parse_rules(RULES)
    old = Facts(posted=5)
    assert rules.check("hello", old).held_by == ()
    assert rules.check("hello", Facts(posted=1)).held_by == ("new",)
    assert rules.check("see http://a.b and www.c.d", old).held_by == ("links",)
    assert rules.check("one link http://a.b", old).held_by == ()
    assert rules.check("Best CASINO in town", old).refused_by == "bad-words"
    assert rules.check("get FREE   money", old).refused_by == "bad-words"
    assert rules.check("see BIT.LY/x", old).refused_by == "bad-words"  # a flag of its own
    assert rules.check("casinos are words too", old).refused_by is None  # whole words
    assert rules.check("crypto tips", old).held_by == ("soft-words",)
    said = Facts(posted=5, recent_texts=("hello again", "x"))
    assert rules.check("Hello   AGAIN", said).refused_by == "again"
    assert rules.check("hello", Facts(posted=5, premoderated=True)).held_by == ("pre",)
    # An edit is not one of the first comments.
    assert rules.check("hello", Facts(posted=0, editing=True)).held_by == ()
    # Trusted authors skip holds, not refusals.
    trusted = Facts(posted=9, approved=2, premoderated=True)
    assert rules.check("http://a http://b crypto", trusted).held_by == ()
    assert rules.check("casino", trusted).refused_by == "bad-words"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('[[rule]]\nname = "a"\nkind = "links"\nmax = 2\naction = "delete"\n', 5, "action"),
        ('[[rule]]\nname = "a"\nkind = "nope"\n', 3, "kind must be one of"),
        ('\n\n[[rule]]\nname = "A b"\nkind = "links"\n', 4, "every rule needs a name"),
        (
            '[[rule]]\nname = "a"\nkind = "links"\n[[rule]]\nname = "a"\nkind = "links"\n',
            5,
            "two rules",
        ),
        ('[[rule]]\nname = "a"\nkind = "words"\npatterns = ["(unclosed"]\n', 4, "pattern"),
        ('[[rule]]\nname = "a"\nkind = "links"\nwords = ["x"]\n', 4, "no setting 'words'"),
        ("trusted_after = -1\n", 1, "trusted_after"),
        ('colour = "red"\n', 1, "unknown setting"),
        ('[[rule]\nname = "a"\n', 1, "not valid TOML"),
        ('[[rule]]\nname = "a"\nkind = "links"\nmax = 2\nmax = 3\n', 5, "not valid TOML"),
    ],
)
def test_every_mistake_names_its_line(text, line, words):
    with pytest.raises(RulesInvalid) as caught:
        parse_rules(text, "site.toml")
    assert caught.value.line == line, str(caught.value)
    assert words in str(caught.value) and f"site.toml, line {line}:" in str(caught.value)


def test_the_shipped_rules_load():
    rules = load_rules(DEFAULT_RULES_FILE)
    assert rules.names == ["new-author", "links", "repeated", "premoderated-thread"]


def test_a_reload_keeps_the_previous_rules_when_the_file_is_invalid(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text('[[rule]]\nname = "links"\nkind = "links"\nmax = 1\n')
    adopted = []
    book = RulesInForce(str(path), on_change=adopted.append)
    before = book.current()
    path.write_text('[[rule]]\nname = "links"\nkind = "links"\nmax = "one"\n')
    os.utime(path, (1, 1))
    assert book.reload_if_changed() is False
    assert book.current() is before and "line 4" in book.last_error
    path.write_text('[[rule]]\nname = "links"\nkind = "links"\nmax = 3\n')
    os.utime(path, (2, 2))
    assert book.reload_if_changed() is True
    assert book.current().rules[0].count == 3 and book.last_error is None
    assert [r.digest for r in adopted] == [book.current().digest]
