"""The rules on user-supplied values (domain/rules.py), without any database.

Each failure is checked for its named error class AND for a message that says
what is wrong, since clients show the message as it is.
"""

from __future__ import annotations

import pytest

from domain.application import Discussions
from domain.errors import (
    ControlCharacters,
    DomainError,
    InvalidInput,
    NameInvalid,
    TextEmpty,
    TextTooLong,
)
from domain.model import MODERATOR, OPERATOR_ID
from domain.rules import (
    NAME_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Limits,
    clean_line,
    clean_name,
    clean_reason,
    clean_text,
)

DEFAULT = Limits()


def in_memory_app(**env: str) -> Discussions:
    """The application on the library's in-memory store: no database involved."""
    return Discussions(env={"PERSISTENCE_MODULE": "eventsourcing.popo", **env})


# ---- text: length after trimming ---------------------------------------------------------


def test_default_limits_are_1_to_20000():
    assert DEFAULT.text_min_length == 1
    assert DEFAULT.text_max_length == 20_000


@pytest.mark.parametrize("value", ["", " ", "\n\t  \n", "\r\n", "\u3000\u2003"])
def test_text_empty_after_trimming_is_rejected(value):
    with pytest.raises(TextEmpty) as caught:
        clean_text(value, DEFAULT)
    assert caught.value.message == "text is empty after trimming whitespace"
    assert str(caught.value) == caught.value.message
    assert caught.value.field == "text"
    assert caught.value.kind == "invalid"
    assert isinstance(caught.value, InvalidInput)
    assert isinstance(caught.value, DomainError)


@pytest.mark.parametrize("value", [None, 42, b"bytes"])
def test_text_that_is_not_a_string_is_rejected(value):
    with pytest.raises(TextEmpty, match="text must be a string"):
        clean_text(value, DEFAULT)


def test_text_is_trimmed_and_crlf_normalised():
    assert clean_text("  hello \r\n world \n\n", DEFAULT) == "hello \n world"


def test_text_at_the_maximum_length_is_accepted():
    text = "x" * 20_000
    assert clean_text(text, DEFAULT) == text


def test_text_one_over_the_maximum_is_rejected_with_both_lengths():
    with pytest.raises(TextTooLong) as caught:
        clean_text("x" * 20_001, DEFAULT)
    assert caught.value.message == "text is 20001 characters; the limit is 20000"
    assert caught.value.field == "text"
    assert caught.value.kind == "invalid"


def test_length_is_measured_after_trimming():
    padded = "   " + "x" * 20_000 + "\n\n   "
    assert clean_text(padded, DEFAULT) == "x" * 20_000


def test_length_counts_characters_not_bytes():
    text = "é" * 20_000  # 40,000 bytes in UTF-8
    assert clean_text(text, DEFAULT) == text


def test_max_length_is_configurable_via_limits():
    limits = Limits(text_max_length=10)
    assert clean_text("0123456789", limits) == "0123456789"
    with pytest.raises(TextTooLong, match=r"text is 11 characters; the limit is 10"):
        clean_text("0123456789A", limits)


def test_min_length_is_configurable_via_limits():
    limits = Limits(text_min_length=5)
    assert clean_text("  abcde ", limits) == "abcde"
    with pytest.raises(TextEmpty, match="text must be at least 5 characters"):
        clean_text("  abcd  ", limits)
    with pytest.raises(TextEmpty, match="text is empty after trimming whitespace"):
        clean_text("   ", limits)


def test_field_name_appears_in_the_message():
    with pytest.raises(TextTooLong, match=r"^body is 3 characters; the limit is 2$") as caught:
        clean_text("abc", Limits(text_max_length=2), "body")
    assert caught.value.field == "body"


def test_app_reads_text_max_length_from_its_env():
    app = in_memory_app(TEXT_MAX_LENGTH="50")
    assert app.limits == Limits(text_min_length=1, text_max_length=50)
    thread_id = app.open_thread(OPERATOR_ID, "Limits").thread_id
    author = app.register_author("Ann").author_id
    app.post_comment(author, thread_id, "y" * 50)
    with pytest.raises(TextTooLong, match="text is 51 characters; the limit is 50"):
        app.post_comment(author, thread_id, "y" * 51)


def test_app_default_limits_without_env():
    app = in_memory_app()
    assert app.limits == Limits()


def test_app_reads_text_min_length_from_its_env():
    app = in_memory_app(TEXT_MIN_LENGTH="3")
    thread_id = app.open_thread(OPERATOR_ID, "Limits").thread_id
    author = app.register_author("Ann").author_id
    with pytest.raises(TextEmpty, match="text must be at least 3 characters"):
        app.post_comment(author, thread_id, "ab")


# ---- text: control characters -------------------------------------------------------------


def test_newline_and_tab_are_allowed_inside_text():
    assert clean_text("line one\nline\ttwo", DEFAULT) == "line one\nline\ttwo"


@pytest.mark.parametrize(
    ("char", "code"),
    [
        ("\x00", "U+0000"),
        ("\x07", "U+0007"),
        ("\x08", "U+0008"),
        ("\x0b", "U+000B"),
        ("\x0c", "U+000C"),
        ("\r", "U+000D"),  # a lone carriage return (CRLF is normalised to LF)
        ("\x1b", "U+001B"),
        ("\x7f", "U+007F"),
        ("\x85", "U+0085"),
        ("\x9f", "U+009F"),
    ],
)
def test_other_control_characters_are_rejected(char, code):
    with pytest.raises(ControlCharacters) as caught:
        clean_text(f"ab{char}cd", DEFAULT)
    assert caught.value.message == (
        f"text contains a control character ({code}) at offset 2; only newline and tab are allowed"
    )
    assert caught.value.field == "text"
    assert caught.value.kind == "invalid"


def test_control_character_offset_is_counted_after_trimming():
    with pytest.raises(ControlCharacters, match=r"\(U\+0000\) at offset 1;"):
        clean_text("   a\x00b", DEFAULT)


def test_printable_unicode_is_not_a_control_character():
    text = "zero\u200bwidth, emoji \U0001f600, RTL \u05d0, NBSP\u00a0ok"
    assert clean_text(text, DEFAULT) == text


# ---- one-line values: display names, titles, reasons ----------------------------------------


def test_display_name_is_trimmed():
    assert clean_name("  Ann Smith  ") == "Ann Smith"


@pytest.mark.parametrize("value", ["", "   ", "\n", None])
def test_display_name_empty_is_rejected(value):
    with pytest.raises(NameInvalid) as caught:
        clean_name(value)
    assert caught.value.message == "name is empty"
    assert caught.value.field == "name"
    assert caught.value.kind == "invalid"


def test_display_name_of_80_characters_is_accepted():
    assert NAME_MAX_LENGTH == 80
    assert clean_name("n" * 80) == "n" * 80


def test_display_name_over_80_characters_is_rejected():
    with pytest.raises(NameInvalid) as caught:
        clean_name("n" * 81)
    assert caught.value.message == "name is 81 characters; the limit is 80"
    assert caught.value.field == "name"


def test_display_name_length_is_measured_after_trimming():
    assert clean_name(" " * 10 + "n" * 80 + " " * 10) == "n" * 80


@pytest.mark.parametrize(("char", "code"), [("\n", "U+000A"), ("\t", "U+0009"), ("\x00", "U+0000")])
def test_one_line_values_reject_every_control_character_even_newline_and_tab(char, code):
    with pytest.raises(ControlCharacters) as caught:
        clean_name(f"Ann{char}Smith")
    assert f"name contains a control character ({code}) at offset 3" in caught.value.message
    assert caught.value.field == "name"


def test_title_limit():
    assert clean_line("t" * TITLE_MAX_LENGTH, "title", TITLE_MAX_LENGTH) == "t" * 300
    with pytest.raises(NameInvalid, match="title is 301 characters; the limit is 300"):
        clean_line("t" * 301, "title", TITLE_MAX_LENGTH)
    with pytest.raises(NameInvalid, match=r"^title is empty$"):
        clean_line("  ", "title", TITLE_MAX_LENGTH)


def test_optional_reason_may_be_absent_or_blank():
    assert clean_reason(None, required=False) is None
    assert clean_reason("   ", required=False) is None
    assert clean_reason("  spam  ", required=False) == "spam"


@pytest.mark.parametrize("value", [None, "", "  \t "])
def test_required_reason_must_be_given(value):
    with pytest.raises(TextEmpty) as caught:
        clean_reason(value, required=True)
    assert caught.value.message == "reason is required"
    assert caught.value.field == "reason"


def test_reason_is_limited_to_1000_characters_on_one_line():
    assert clean_reason("r" * 1000, required=True) == "r" * 1000
    with pytest.raises(NameInvalid, match="reason is 1001 characters; the limit is 1000"):
        clean_reason("r" * 1001, required=True)
    with pytest.raises(ControlCharacters, match=r"reason contains a control character \(U\+000A\)"):
        clean_reason("two\nlines", required=True)


# ---- the same rules applied by the application service (in memory) ------------------------


def test_register_author_applies_the_name_rules():
    app = in_memory_app()
    with pytest.raises(NameInvalid, match="name is empty"):
        app.register_author("   ")
    with pytest.raises(NameInvalid, match="name is 81 characters; the limit is 80"):
        app.register_author("n" * 81)
    assert app.register_author("  Ann  ").name == "Ann"
    with pytest.raises(ValueError, match="role must be one of"):
        app.register_author("Bob", role="admin")


def test_post_and_edit_apply_the_text_rules():
    app = in_memory_app()
    thread_id = app.open_thread(OPERATOR_ID, "Rules").thread_id
    author = app.register_author("Ann").author_id
    with pytest.raises(TextEmpty, match="text is empty after trimming whitespace"):
        app.post_comment(author, thread_id, " \n ")
    with pytest.raises(ControlCharacters, match=r"U\+0007"):
        app.post_comment(author, thread_id, "bell\x07")
    comment_id = app.post_comment(author, thread_id, "  fine  ").comment_id
    assert app.get_comment(comment_id).text == "fine"
    with pytest.raises(TextTooLong, match="text is 20001 characters; the limit is 20000"):
        app.edit_comment(author, comment_id, "x" * 20_001)
    with pytest.raises(ControlCharacters, match=r"U\+001B"):
        app.edit_comment(author, comment_id, "esc\x1b")
    assert app.get_comment(comment_id).version == 1


def test_open_thread_applies_title_and_body_rules():
    app = in_memory_app()
    with pytest.raises(NameInvalid, match="title is empty"):
        app.open_thread(OPERATOR_ID, "  ")
    with pytest.raises(ControlCharacters, match=r"body contains a control character \(U\+0000\)"):
        app.open_thread(OPERATOR_ID, "Title", body="nul\x00")
    with pytest.raises(TextTooLong, match="body is 20001 characters"):
        app.open_thread(OPERATOR_ID, "Title", body="b" * 20_001)
    opened = app.open_thread(OPERATOR_ID, " Title ", body="   ")
    thread = app.get_thread(opened.thread_id)
    assert (thread.title, thread.body) == ("Title", None)


def test_hide_requires_a_reason_in_the_application():
    app = in_memory_app()
    thread_id = app.open_thread(OPERATOR_ID, "Rules").thread_id
    author = app.register_author("Ann").author_id
    moderator = app.register_author("Mo", role=MODERATOR).author_id
    comment_id = app.post_comment(author, thread_id, "text").comment_id
    for reason in ("", "   ", None):
        with pytest.raises(TextEmpty, match="reason is required"):
            app.hide_comment(moderator, comment_id, reason)
    assert app.get_comment(comment_id).state == "visible"
    app.hide_comment(moderator, comment_id, "off topic")
    assert app.get_comment(comment_id).state == "hidden"
