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
import unicodedata
from html.parser import HTMLParser

PARAGRAPH_TAGS = frozenset(
    "p div h1 h2 h3 h4 h5 h6 blockquote pre ul ol dl table hr section article header footer"
    " aside nav figure figcaption address form fieldset details summary main center".split()
)
LINE_TAGS = frozenset("li tr dt dd caption".split())
CELL_TAGS = frozenset(("td", "th"))
DROPPED_TAGS = frozenset(("script", "style", "template", "head", "title"))

_WHITESPACE = re.compile(r"(\s+)")  # on text already out of the parser, not on HTML
_BLANK_LINES = re.compile(r"\n{3,}")
_LINE_END_SPACE = re.compile(r"[ \t]+\n")


def html_to_text(source: str | None, *, keep_newlines: bool = False) -> str:
    """Plain text of an HTML fragment (see the module's docstring)."""
    if not source:
        return ""
    source = source.replace("\r\n", "\n").replace("\r", "\n")
    builder = _TextBuilder(keep_newlines)
    if "<" not in source and "&" not in source:
        builder.handle_data(source)  # no markup: skip the parser, same rules
    else:
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
    text = html.unescape(value)
    text = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
    text = " ".join(text.split())
    if len(text) > max_length:
        text = text[: max_length - 1].rstrip() + "…"
    return text


def _remove_controls(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(
        c for c in text if c in "\n\t" or unicodedata.category(c) != "Cc"
    )


class _TextBuilder(HTMLParser):
    def __init__(self, keep_newlines: bool):
        super().__init__(convert_charrefs=True)
        self.keep_newlines = keep_newlines
        self.parts: list[str] = []
        self.pending_break = 0  # newlines owed before the next text (0, 1 or 2)
        self.pending_space = False
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
        self.parts.append(text)

    def _break(self, newlines: int) -> None:
        self.pending_break = max(self.pending_break, newlines)
        self.pending_space = False

    def _newline(self) -> None:
        """A hard line break (`br`): two in a row make a blank line."""
        if self.parts:
            if self.pending_break:
                self.parts.append("\n" * self.pending_break)
                self.pending_break = 0
            self.parts.append("\n")
        self.pending_space = False

    def result(self) -> str:
        text = _remove_controls("".join(self.parts))
        text = _LINE_END_SPACE.sub("\n", text)
        text = _BLANK_LINES.sub("\n\n", text)
        return text.strip()

    # ---- parser callbacks --------------------------------------------------------

    def handle_data(self, data: str) -> None:
        if self.dropped or not data:
            return
        if self.pre:
            self._emit(data)
            return
        for index, piece in enumerate(_WHITESPACE.split(data)):
            if not piece:
                continue
            if index % 2 == 0:  # words
                self._emit(piece)
            elif self.keep_newlines and "\n" in piece:
                self._break(min(piece.count("\n"), 2))
            elif not self.pending_break:
                self.pending_space = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DROPPED_TAGS:
            self.dropped += 1
        elif self.dropped:
            return
        elif tag == "br":
            self._newline()
        elif tag in PARAGRAPH_TAGS:
            self._break(2)
            if tag == "pre":
                self.pre += 1
            elif tag == "ul":
                self.lists.append(None)
            elif tag == "ol":
                self.lists.append(1)
        elif tag == "li":
            self._break(1)
            self._list_marker()
        elif tag in LINE_TAGS:
            self._break(1)
            self.row_cells = 0
        elif tag in CELL_TAGS:
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
        elif tag in PARAGRAPH_TAGS:
            self._break(2)
            if tag == "pre":
                self.pre = max(0, self.pre - 1)
            elif tag in ("ul", "ol") and self.lists:
                self.lists.pop()
        elif tag in LINE_TAGS:
            self._break(1)
        elif tag == "a" and self.links:
            self._end_link(*self.links.pop())

    def _list_marker(self) -> None:
        number = self.lists[-1] if self.lists else None
        if number is None:
            self._emit("-")
        else:
            self._emit(f"{number}.")
            self.lists[-1] = number + 1
        self.pending_space = True

    def _end_link(self, href: str | None, start: int) -> None:
        href = (href or "").strip()
        if not href.lower().startswith(("http://", "https://")):
            return
        shown = "".join(self.parts[start:]).strip()
        if not shown:
            self._emit(href)
        elif shown == href or shown.rstrip("/") == href.rstrip("/"):
            return
        elif _is_shortened(shown, href):
            del self.parts[start:]
            self._emit(href)
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
