"""Marshmallow schemas of the pages' query strings: every number a page reads from its
address goes through one of these, so that a value out of range (past 64 bits,
negative, not a number) is a 400 error page instead of an OverflowError deep in a
query (issue 12). `metadata["takes"]` says what a value must be, for that page.

Unlike the API's, these ignore unknown parameters: a page's address may carry a
campaign tag or whatever a site appends."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

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


class ThreadsCursor(fields.String):
    """The list of threads' page cursor: "<last activity>|<thread id>", as the page
    built it. Checked here: its parts go into a query (PostgreSQL refuses a NUL)."""

    def _deserialize(self, value, attr, data, **kwargs) -> tuple[str, str]:
        text = super()._deserialize(value, attr, data, **kwargs)
        activity, _, thread_id = text.partition("|")
        try:
            datetime.fromisoformat(activity)
            return activity, str(UUID(thread_id))
        except ValueError:
            raise ValidationError("not a cursor of this list") from None


class IndexQuery(PageQuery):
    after_thread = ThreadsCursor(
        load_default=None, metadata={"takes": "the cursor of the next page, as it was given"}
    )


class CompareQuery(PageQuery):
    """The history page's compare form: two versions of a comment."""

    from_ = _number(1, "a version of the comment", data_key="from")
    to = _number(1, "a version of the comment")


class FeedQuery(PageQuery):
    """A page of an Atom feed (RFC 5005): entries before or after a position."""

    before = _number(1, POSITION)
    after = _number(1, POSITION)
    limit = _number(1, "how many entries (a whole number from 1)")
