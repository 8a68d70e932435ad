"""Differences between two versions of a comment's text, with difflib.

Two forms: a line-level unified diff (for tools and auditors) and word-level
spans (equal / inserted / deleted) that a page can render. Words are compared
with their trailing whitespace, so spans join back into the exact texts.
"""

from __future__ import annotations

import difflib
import re

_TOKENS = re.compile(r"\S+\s*|\s+")


def unified(old: str, new: str, old_label: str = "a", new_label: str = "b") -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=old_label,
        tofile=new_label,
        lineterm="\n",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def word_spans(old: str, new: str) -> list[dict[str, str]]:
    """[{"op": "equal"|"insert"|"delete", "text": ...}, ...]; autojunk off (it is wrong
    for prose: frequent words would be treated as junk)."""
    a, b = _TOKENS.findall(old), _TOKENS.findall(new)
    spans: list[dict[str, str]] = []

    def add(op: str, text: str) -> None:
        if not text:
            return
        if spans and spans[-1]["op"] == op:
            spans[-1]["text"] += text
        else:
            spans.append({"op": op, "text": text})

    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            add("equal", "".join(a[i1:i2]))
        else:
            add("delete", "".join(a[i1:i2]))
            add("insert", "".join(b[j1:j2]))
    return spans
