"""Marshmallow schemas of the pages' query strings: every number a page reads from its
address goes through one of these, so that a value out of range (past 64 bits,
negative, not a number) is a 400 error page instead of an OverflowError deep in a
query (issue 12). `metadata["takes"]` says what a value must be, for that page.

Unlike the API's, these ignore unknown parameters: a page's address may carry a
campaign tag or whatever a site appends."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from web.schemas import MAX_POSITION


def _number(lowest: int, takes: str, **kwargs) -> fields.Integer:
    return fields.Integer(
        load_default=None,
        validate=validate.Range(lowest, MAX_POSITION),
        metadata={"takes": takes},
        **kwargs,
    )


POSITION = "a position of the log (a whole number from 1)"


class PageQuery(Schema):
    class Meta:
        unknown = EXCLUDE


class CursorQuery(PageQuery):
    """A page of a list: `cursor` is where the previous page stopped."""

    cursor = _number(0, "the cursor of a page (a whole number from 0)")


class ThreadPageQuery(CursorQuery):
    at = _number(1, POSITION)  # the thread as it was
    after = _number(1, POSITION)  # wait (bounded) for this write before showing the page
    step = _number(0, "a point of the time slider (a whole number from 0)")


class CompareQuery(PageQuery):
    """The history page's compare form: two versions of a comment."""

    from_ = _number(1, "a version of the comment", data_key="from")
    to = _number(1, "a version of the comment")
