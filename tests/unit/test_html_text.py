"""workers/importing/html_text.py: other systems' HTML to the product's plain text."""

# ruff: noqa: RUF001 -- the real exports' Cyrillic letters and typographic quotes

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.rules import Limits, clean_text
from workers.importing.html_text import _TextBuilder, html_to_text, plain_line


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("<p>Hello, World.</p>", "Hello, World."),
        ("<p>One</p><p>Two</p>", "One\n\nTwo"),
        ("<p>A<br>B<br/>C</p>", "A\nB\nC"),
        ("A<br><br>B", "A\n\nB"),
        ("<div>A</div>\n\n\n<div>B</div>", "A\n\nB"),
        ("<h2>Title</h2>Text", "Title\n\nText"),
        ("a <b>bold</b> and <em>em</em>", "a bold and em"),
        ("<ul><li>one</li><li>two</li></ul>after", "- one\n- two\n\nafter"),
        ("<ol><li>a</li><li>b</li></ol>", "1. a\n2. b"),
        ("<ul><li>a<ul><li>b</li></ul></li><li>c</li></ul>", "- a\n  - b\n- c"),
        ("<table><tr><td>1</td><td>2</td></tr><tr><td>3</td><td>4</td></tr></table>", "1 2\n3 4"),
        ("x<script>alert(1)</script>y<style>p{}</style>z", "xyz"),
        ('<img src="a.png" alt="a cat"> meow', "[a cat] meow"),
        ('<img src="a.png">', ""),
        ("&#34;q&#34; &amp; &lt;tag&gt; &laquo;x&raquo; &nbsp;", '"q" & <tag> «x»'),
        ("<p>  lots   of\n\n   space  </p>", "lots of space"),
        ("<pre>  code\n    indented</pre>", "code\n    indented"),
        ("", ""),
        (None, ""),
        ("<p> </p>", ""),
        ("a\x00b\x07c", "abc"),
        ("<p>a\x0bb</p>", "a b"),
    ],
)
def test_html_to_text_collapses_like_a_browser(source, expected):
    assert html_to_text(source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # a link keeps its address, unless the text is the address
        ('see <a href="https://ex.org/p">this page</a>.', "see this page (https://ex.org/p)."),
        ('<a href="https://hyper.is/">https://hyper.is/</a> ok', "https://hyper.is/ ok"),
        ('<a href="https://hyper.is">https://hyper.is/</a>', "https://hyper.is/"),
        # text that shortens the address shows the whole address
        (
            '<a href="http://blogs.msdn.com/b/b8/archive/x.aspx">http://blogs.msdn.com/b/b8/...</a>',
            "http://blogs.msdn.com/b/b8/archive/x.aspx",
        ),
        ('<p>A.</p><p><a href="https://e.org/long/path">https://e.org/lo…</a></p>',
         "A.\n\nhttps://e.org/long/path"),
        ('<a href="https://e.org/"></a>', "https://e.org/"),
        # relative and script links: the text only
        ('<a href="/about">about</a>', "about"),
        ('<a href="javascript:alert(1)">click</a>', "click"),
    ],
)  # fmt: skip
def test_links_keep_their_address(source, expected):
    assert html_to_text(source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # WordPress shows a newline as a line break and a blank line as a paragraph
        ("lines:\nWordPress exports it like this.", "lines:\nWordPress exports it like this."),
        ("one.\n\n\n    two", "one.\n\ntwo"),
        ("  \n  padded  \n  ", "padded"),
        # newlines next to blocks add nothing, nor do they split table rows
        ("<h2>A</h2>\n<h1>B</h1>\ntext", "A\n\nB\n\ntext"),
        ("<blockquote>q</blockquote>\nafter", "q\n\nafter"),
        ("1 Loop<br />\nCupertino", "1 Loop\nCupertino"),
        ("<table>\n<tr>\n<th>A</th>\n<th>B</th>\n</tr>\n<tr>\n<td>1</td>\n<td>2</td>\n</tr>\n</table>",
         "A B\n1 2"),
        ("<b>x</b>\nnext line", "x\nnext line"),
    ],
)  # fmt: skip
def test_keep_newlines_follows_wordpress(source, expected):
    assert html_to_text(source, keep_newlines=True) == expected


def test_the_same_text_without_keep_newlines_is_one_paragraph():
    assert html_to_text("lines:\nWordPress\n\nthere") == "lines: WordPress there"


def test_the_real_wxr_test_comment_converts_to_readable_text():
    source = (
        "<h2>Headings</h2>\n<h1>Header one</h1>\nSingle line blockquote:\n"
        "<blockquote>Stay hungry. Stay foolish.</blockquote>\n"
        "<ul>\n<li>List item one\n<ul>\n<li>Nested</li>\n</ul>\n</li>\n<li>Two</li>\n</ul>\n"
        'This is an example of <a href="http://apple.com" title="Apple">a link</a>.'
    )
    assert html_to_text(source, keep_newlines=True) == (
        "Headings\n\nHeader one\n\nSingle line blockquote:\n\nStay hungry. Stay foolish.\n\n"
        "- List item one\n  - Nested\n- Two\n\nThis is an example of a link (http://apple.com)."
    )


texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="<&"), max_size=60
)


@given(texts, st.booleans())
def test_text_without_markup_takes_the_fast_path_with_the_same_result(text, keep):
    """Markup-free text skips the HTML parser; the result must be what the parser gives."""
    builder = _TextBuilder(keep)
    builder.feed(text.replace("\r\n", "\n").replace("\r", "\n"))
    builder.close()
    assert html_to_text(text, keep_newlines=keep) == builder.result()


@given(st.text(max_size=80), st.booleans())
def test_any_input_gives_text_the_domain_accepts_or_nothing(source, keep):
    text = html_to_text(source, keep_newlines=keep)
    assert text == text.strip()
    if text:
        assert clean_text(text, Limits(text_max_length=10_000)) == text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Ping 1 &laquo; What&#8217;s a tellyworth?", "Ping 1 « What’s a tellyworth?"),
        ("\n    Ping 2\twith  spaces\n", "Ping 2 with spaces"),
        ("<b>Bob</b>", "<b>Bob</b>"),
        ("a\x00b", "a b"),
        ("", ""),
        (None, ""),
    ],
)
def test_plain_line(value, expected):
    assert plain_line(value, 80) == expected


def test_plain_line_shortens_with_an_ellipsis():
    line = plain_line("x" * 100, 80)
    assert len(line) == 80
    assert line.endswith("…")
