"""HTML of other systems' comments to the product's plain text.

The product stores plain text: paragraphs separated by a blank line, line breaks
as newlines, no markup. Conversion uses the stdlib's `html.parser` (never regexes
on HTML):

- paragraphs and other blocks (`p`, `div`, `h1`-`h6`, `blockquote`, `pre`, lists,
  tables...) are separated by a blank line; `li`, `tr`, `dt`, `dd` start a line;
  `br` is a newline; list items get "- " or "1. "; table cells a space;
- tags are dropped and their text kept, except `script`, `style` and `template`,
  whose content is dropped too; `img` leaves its alt text in brackets, if any;
- a link keeps its text and adds its address in parentheses when the address is
  an absolute http(s) URL that the text does not already show; a link whose text
  is the address shortened ("http://example.com/a/...") shows the full address;
- entities and character references are unescaped; control characters other
  than newline and tab are removed; spaces at line ends and runs of more than one
  blank line are removed; the result is trimmed.

Whitespace in the HTML source: browsers collapse it, and so does `html_to_text`
by default (Disqus and Remark42 store rendered HTML). WordPress stores comments
as typed and turns newlines into `<br>` and blank lines into paragraphs when it
shows them; `keep_newlines=True` does the same.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

PARAGRAPH_TAGS = frozenset(
    {
        "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "dl", "table", "hr",
        "section", "article", "header", "footer", "aside", "nav", "figure", "figcaption",
        "address", "form", "fieldset", "details", "summary", "main", "center",
    }
)  # fmt: skip
LINE_TAGS = frozenset(["li", "tr", "dt", "dd", "caption"])
CELL_TAGS = frozenset(("td", "th"))
DROPPED_TAGS = frozenset(("script", "style", "template", "head", "title"))

_BLANK_LINES = re.compile(r"\n{3,}")
_LINE_END_SPACE = re.compile(r"[ \t]+\n")


def html_to_text(source: str | None, *, keep_newlines: bool = False) -> str:
    """Plain text of an HTML fragment (see the module's docstring)."""
    if not source:
        return ""
    source = source.replace("\r\n", "\n").replace("\r", "\n")
    if "<" not in source and "&" not in source:  # no markup: skip the parser, same rules
        return _finish(_words(source.strip(), keep_newlines))
    builder = _TextBuilder(keep_newlines)
    builder.feed(source)
    builder.close()
    return builder.result()


def plain_line(value: str | None, max_length: int) -> str:
    """A one-line plain value (a name, a title): entities unescaped, whitespace and
    control characters collapsed to single spaces, shortened with "…" if too long.

    Names and titles are plain text in the sources, so tags are not stripped: a
    name like "<b>Bob</b>" stays as written (the product escapes what it shows)."""
    if not value:
        return ""
    text = " ".join(html.unescape(value).translate(_CONTROLS_TO_SPACE).split())
    if len(text) > max_length:
        text = text[: max_length - 1].rstrip() + "…"
    return text


_CONTROL_CODES = (*range(0x00, 0x20), *range(0x7F, 0xA0))  # Unicode category Cc
_CONTROLS = {code: None for code in _CONTROL_CODES if chr(code) not in "\n\t"}
_CONTROLS_TO_SPACE = dict.fromkeys(_CONTROL_CODES, " ")


def _finish(text: str) -> str:
    """Controls other than newline and tab removed, no spaces at line ends, at most
    one blank line in a row, trimmed."""
    if not text.isprintable():
        text = text.translate(_CONTROLS)
    text = _LINE_END_SPACE.sub("\n", text)
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def _words(text: str, keep_newlines: bool) -> str:
    """Text with no leading or trailing whitespace, each run of whitespace made one
    space -- or, keeping newlines, a newline (one in the run) or a blank line (more)."""
    if not keep_newlines or "\n" not in text:
        return " ".join(text.split())
    out: list[str] = []
    blank = False
    for line in text.split("\n"):
        words = line.split()
        if not words:
            blank = True
            continue
        if out:
            out.append("\n\n" if blank else "\n")
        out.append(" ".join(words))
        blank = False
    return "".join(out)


class _TextBuilder(HTMLParser):
    def __init__(self, keep_newlines: bool):
        super().__init__(convert_charrefs=True)
        self.keep_newlines = keep_newlines
        self.parts: list[str] = []
        self.pending_break = 0  # newlines owed before the next text (0, 1 or 2)
        self.pending_space = False
        self.soft = False  # the pending newline came from the source and may be undone
        self.line_start = True  # nothing written since the last break
        self.dropped = 0  # depth inside script/style
        self.pre = 0  # depth inside pre
        self.lists: list[int | None] = []  # None for ul, the next number for ol
        self.links: list[tuple[str | None, int]] = []  # (href, index into parts)
        self.row_cells = 0

    # ---- output ------------------------------------------------------------------

    def _emit(self, text: str) -> None:
        if self.parts:
            if self.pending_break:
                self.parts.append("\n" * self.pending_break)
            elif self.pending_space:
                self.parts.append(" ")
        self.pending_break = 0
        self.pending_space = False
        self.soft = False
        self.line_start = False
        self.parts.append(text)

    def _break(self, newlines: int) -> None:
        self.pending_break = max(self.pending_break, newlines)
        self.pending_space = False
        self.soft = False
        self.line_start = True

    def _newline(self) -> None:
        """A hard line break (`br`): two in a row make a blank line."""
        if self.parts:
            if self.pending_break:
                self.parts.append("\n" * self.pending_break)
                self.pending_break = 0
            self.parts.append("\n")
        self.pending_space = False
        self.soft = False
        self.line_start = True

    def result(self) -> str:
        return _finish("".join(self.parts))

    # ---- parser callbacks --------------------------------------------------------

    def handle_data(self, data: str) -> None:
        if self.dropped or not data:
            return
        if self.pre:
            self._emit(data)
            return
        core = data.strip()
        if not core:
            self._whitespace(data, leading=True, trailing=True)
            return
        if data[0] != core[0]:
            self._whitespace(data[: data.index(core[0])], leading=True, trailing=False)
        self._emit(_words(core, self.keep_newlines))
        if data[-1] != core[-1]:
            self._whitespace(data[data.rindex(core[-1]) + 1 :], leading=False, trailing=True)

    def _whitespace(self, run: str, *, leading: bool, trailing: bool) -> None:
        """Whitespace before or after the words of a piece of text."""
        newlines = run.count("\n") if self.keep_newlines else 0
        if newlines >= 2:
            self._break(2)
        elif newlines == 1:
            # Like WordPress: a newline right after a block or a <br> adds nothing;
            # one right before a tag is undone if that tag is a table cell.
            if leading and self.line_start:
                return
            self._break(1)
            self.soft = trailing
        elif not self.pending_break:
            self.pending_space = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DROPPED_TAGS:
            self.dropped += 1
        elif self.dropped:
            return
        elif tag == "br":
            self._newline()
        elif tag in ("ul", "ol"):
            self._break(1 if self.lists else 2)  # a nested list starts a line
            self.lists.append(None if tag == "ul" else 1)
        elif tag in PARAGRAPH_TAGS:
            self._break(2)
            if tag == "pre":
                self.pre += 1
        elif tag == "li":
            self._break(1)
            self._list_marker()
        elif tag in LINE_TAGS:
            self._break(1)
            self.row_cells = 0
        elif tag in CELL_TAGS:
            if self.soft:
                self.pending_break = 0
                self.soft = False
            if self.row_cells:
                self.pending_space = not self.pending_break
            self.row_cells += 1
        elif tag == "a":
            self.links.append((dict(attrs).get("href"), len(self.parts)))
        elif tag == "img":
            alt = (dict(attrs).get("alt") or "").strip()
            if alt:
                self._emit(f"[{' '.join(alt.split())}]")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in ("br", "img", "hr"):
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in DROPPED_TAGS:
            self.dropped = max(0, self.dropped - 1)
        elif self.dropped:
            return
        elif tag in ("ul", "ol"):
            if self.lists:
                self.lists.pop()
            self._break(1 if self.lists else 2)
        elif tag in PARAGRAPH_TAGS:
            self._break(2)
            if tag == "pre":
                self.pre = max(0, self.pre - 1)
        elif tag in LINE_TAGS:
            self._break(1)
        elif tag == "a" and self.links:
            self._end_link(*self.links.pop())

    def _list_marker(self) -> None:
        number = self.lists[-1] if self.lists else None
        indent = "  " * max(0, len(self.lists) - 1)
        if number is None:
            self._emit(f"{indent}-")
        else:
            self._emit(f"{indent}{number}.")
            self.lists[-1] = number + 1
        self.pending_space = True

    def _end_link(self, href: str | None, start: int) -> None:
        href = (href or "").strip()
        if not href.lower().startswith(("http://", "https://")):
            return
        while start < len(self.parts) and not self.parts[start].strip():
            start += 1  # separators written before the link's text stay
        shown = "".join(self.parts[start:]).strip()
        if not shown:
            self._emit(href)
        elif shown == href or shown.rstrip("/") == href.rstrip("/"):
            return
        elif _is_shortened(shown, href):
            del self.parts[start:]
            self.parts.append(href)
        else:
            if not self.pending_break:
                self.pending_space = True
            self._emit(f"({href})")


def _is_shortened(shown: str, href: str) -> bool:
    """Link text like "http://blogs.example.com/b/..." for a longer address."""
    stem = shown.rstrip(".…").rstrip()
    if not stem or len(stem) == len(shown):
        return False
    bare_href = href.split("://", 1)[-1]
    bare_stem = stem.split("://", 1)[-1]
    return bare_href.startswith(bare_stem)
