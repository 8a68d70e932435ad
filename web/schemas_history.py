"""Schemas of the audit trail and time travel API: comment histories and diffs, a
thread as of a moment, its timeline and changes, the audit log and the hash chain's
head. Inputs refuse unknown fields; every output is dumped through a schema here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from web.schemas import (
    MAX_POSITION,
    StrictSchema,
    ThreadPage,
    ThreadQuery,
)

TYPE_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*\.[A-Z][A-Za-z0-9]*$")


# ---- custom fields ---------------------------------------------------------------


def _utc(moment: datetime) -> datetime:
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValidationError("the date-time is out of range") from None


class Moment(fields.AwareDateTime):
    """An RFC 3339 date-time (`2024-05-01T12:00:00Z`); without an offset, UTC."""

    def __init__(self, **kwargs):
        metadata = {"description": "RFC 3339 date-time; UTC when no offset is given"}
        metadata.update(kwargs.pop("metadata", {}))
        super().__init__(format="iso", default_timezone=UTC, metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        return _utc(super()._deserialize(value, attr, data, **kwargs))


class PositionOrMoment(fields.String):
    """A log position (digits) or an RFC 3339 date-time."""

    def _deserialize(self, value, attr, data, **kwargs) -> int | datetime:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if text.isdigit() and text.isascii():
            number = int(text)
            if number > MAX_POSITION:
                raise ValidationError("the position is too large")
            return number
        try:
            moment = datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError:
            raise ValidationError(
                "give a log position (digits) or an RFC 3339 date-time such as 2024-05-01T12:00:00Z"
            ) from None
        return _utc(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def _position(**kwargs) -> fields.Integer:
    return fields.Integer(validate=validate.Range(0, MAX_POSITION), **kwargs)


# ---- inputs ----------------------------------------------------------------------


class ThreadAsOfQuery(ThreadQuery):
    """A thread page as it was: `as_of` (a moment) or `at` (a log position)."""

    as_of = Moment(
        load_default=None,
        metadata={"description": "the thread as it was at this moment (RFC 3339)"},
    )
    at = _position(
        load_default=None,
        metadata={"description": "the thread as it was at this log position"},
    )

    @validates_schema
    def one_point(self, data, **kwargs) -> None:
        if data.get("as_of") is not None and data.get("at") is not None:
            raise ValidationError("give as_of or at, not both", field_name="at")


class ReadQuery(StrictSchema):
    min_position = _position(
        load_default=None,
        metadata={"description": "read your writes: wait until the view includes it"},
    )


class DiffQuery(ReadQuery):
    from_ = fields.Integer(
        data_key="from",
        load_default=None,
        validate=validate.Range(1, MAX_POSITION),
        metadata={"description": "the older version (default: the text before `to`)"},
    )
    to = fields.Integer(
        load_default=None,
        validate=validate.Range(1, MAX_POSITION),
        metadata={"description": "the newer version (default: the latest text)"},
    )


class TimelineQuery(ReadQuery):
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500))
    cursor = _position(
        load_default=None, metadata={"description": "the page's next_cursor (a position)"}
    )


class ChangesQuery(ReadQuery):
    from_ = PositionOrMoment(
        data_key="from",
        load_default=None,
        metadata={"description": "changes after this position or moment (default: the start)"},
    )
    to = PositionOrMoment(
        load_default=None,
        metadata={"description": "up to and including this position or moment (default: now)"},
    )


class AuditQuery(ReadQuery):
    thread = fields.UUID(load_default=None, metadata={"description": "one thread's events"})
    actor = fields.UUID(load_default=None, metadata={"description": "one actor's events"})
    type = fields.String(
        load_default=None,
        metadata={"description": "event types, comma-separated: Comment.Edited,Comment.Hidden"},
    )
    since = Moment(load_default=None, metadata={"description": "events at or after (RFC 3339)"})
    until = Moment(load_default=None, metadata={"description": "events before (RFC 3339)"})
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500))
    cursor = _position(
        load_default=None, metadata={"description": "the page's next_cursor (a position)"}
    )
    order = fields.String(load_default="newest", validate=validate.OneOf(["newest", "oldest"]))

    @validates_schema
    def check(self, data, **kwargs) -> None:
        types = data.get("type")
        if types is not None:
            names = [t.strip() for t in types.split(",") if t.strip()]
            if not names or len(names) > 20 or not all(TYPE_NAME.match(n) for n in names):
                raise ValidationError(
                    "give event types such as Comment.Edited, comma-separated", "type"
                )
        since, until = data.get("since"), data.get("until")
        if since is not None and until is not None and until < since:
            raise ValidationError("until is before since", "until")


# ---- outputs ---------------------------------------------------------------------


class ActorOut(Schema):
    id = fields.String()
    name = fields.String(allow_none=True)


class AsOf(Schema):
    position = fields.Integer(
        metadata={"description": "the thread's last event at or before the point asked for"}
    )
    at = fields.String(allow_none=True, metadata={"description": "the time of that view"})


class ThreadAsOfPage(ThreadPage):
    as_of = fields.Nested(AsOf)


HISTORY_KINDS = [
    "posted",
    "edited",
    "retracted",
    "hidden",
    "restored",
    "erased",
    "revision_erased",
    "revision_suppressed",
    "revision_unsuppressed",
    "held",
    "approved",
    "rejected",
]
ERASURE_BASIS = {
    "enum": ["author_request", "legal", "personal_data", "operator"],
    "description": "why it was erased: one of a fixed list of public words",
}


def _withheld(what: str) -> fields.String:
    return fields.String(
        allow_none=True,
        metadata={
            "description": f"why {what} is withheld from the caller, and since when"
            " (e.g. 'erased on 6 December 2026'); null when shown or when there is none"
        },
    )


class RecordActor(Schema):
    """Who did it; null where the policy withholds who wrote the comment."""

    id = fields.String()
    name = fields.String(metadata={"description": "the display name; 'erased author' once erased"})


class HistoryEntry(Schema):
    version = fields.Integer(metadata={"description": "the comment's version after it"})
    kind = fields.String(metadata={"enum": HISTORY_KINDS})
    text = fields.String(
        allow_none=True,
        metadata={"description": "the text of this version (posted/edited); null when withheld"},
    )
    withheld = _withheld("the text")
    actor = fields.Nested(
        RecordActor,
        allow_none=True,
        metadata={"description": "the editor or moderator; null when withheld"},
    )
    at = fields.String()
    reason = fields.String(
        allow_none=True,
        metadata={"description": "edit, retraction or moderation reason, when the caller may"},
    )
    reason_withheld = _withheld("the reason")
    position = fields.Integer()
    revision = fields.Integer(
        allow_none=True,
        metadata={"description": "the revision an erasure or (un)suppression concerns"},
    )
    suppressed = fields.List(
        fields.String(metadata={"enum": ["text", "edit_reason"]}),
        allow_none=True,
        metadata={"description": "what a suppression withholds (revision_suppressed)"},
    )
    basis = fields.String(allow_none=True, metadata=ERASURE_BASIS)
    basis_label = fields.String(allow_none=True, metadata={"description": "the basis in words"})


class CommentHistory(Schema):
    comment_id = fields.String()
    thread_id = fields.String()
    author = fields.Nested(
        RecordActor, allow_none=True, metadata={"description": "null when withheld"}
    )
    state = fields.String(
        metadata={"enum": ["visible", "retracted", "hidden", "erased", "pending", "rejected"]}
    )
    text_withheld = fields.Boolean(
        metadata={
            "description": "every text is withheld from the caller (erased, hidden, or"
            " retracted): `withheld` says why"
        }
    )
    withheld = _withheld("every text")
    withheld_cause = fields.String(
        allow_none=True,
        metadata={
            "enum": ["erased", "hidden", "retracted", None],
            "description": "why every text is withheld: the comment (or its author) was"
            " erased, it was hidden by a moderator, or retracted by its author",
        },
    )
    revisions = fields.Integer(metadata={"description": "text versions (posted + edited)"})
    entries = fields.List(fields.Nested(HistoryEntry))


class DiffSide(Schema):
    version = fields.Integer()
    kind = fields.String()
    actor = fields.Nested(RecordActor, allow_none=True)
    at = fields.String()
    reason = fields.String(allow_none=True)
    reason_withheld = _withheld("the edit reason")
    position = fields.Integer()


class WordSpan(Schema):
    op = fields.String(metadata={"enum": ["equal", "insert", "delete"]})
    text = fields.String()


class CommentDiff(Schema):
    comment_id = fields.String()
    from_ = fields.Nested(DiffSide, data_key="from", attribute="from")
    to = fields.Nested(DiffSide)
    unified = fields.String(metadata={"description": "a line-level unified diff"})
    spans = fields.List(fields.Nested(WordSpan), metadata={"description": "word-level spans"})


class TimelineEntry(Schema):
    position = fields.Integer()
    at = fields.String()
    kind = fields.String(metadata={"description": "the event's type, e.g. Comment.Edited"})
    comment_id = fields.String(allow_none=True)
    actor = fields.Nested(RecordActor, allow_none=True)
    version = fields.Integer()
    summary = fields.String(metadata={"description": "what happened, with ids only"})
    reason = fields.String(
        allow_none=True, metadata={"description": "its reason, when the caller may read it"}
    )


class Timeline(Schema):
    thread_id = fields.String()
    entries = fields.List(fields.Nested(TimelineEntry))
    next_cursor = fields.Integer(allow_none=True)


class AddedComment(Schema):
    comment_id = fields.String()
    position = fields.Integer()
    at = fields.String()
    actor = fields.Nested(RecordActor, allow_none=True)
    version = fields.Integer()


class EditedComment(Schema):
    comment_id = fields.String()
    from_version = fields.Integer(metadata={"description": "the version before the edits"})
    to_version = fields.Integer(metadata={"description": "the version after the last edit"})
    edits = fields.Integer()
    first_position = fields.Integer()
    last_position = fields.Integer()
    last_at = fields.String()


class StateChange(Schema):
    comment_id = fields.String()
    position = fields.Integer()
    at = fields.String()
    actor = fields.Nested(RecordActor, allow_none=True)
    reason = fields.String(allow_none=True)


class ErasedChange(Schema):
    comment_id = fields.String()
    position = fields.Integer()
    at = fields.String()
    actor = fields.Nested(RecordActor, allow_none=True)
    scope = fields.String(
        metadata={
            "enum": ["comment", "revision", "author"],
            "description": "the comment, one revision, or the comment with its author's account",
        }
    )
    revision = fields.Integer(allow_none=True)
    basis = fields.String(allow_none=True, metadata=ERASURE_BASIS)
    basis_label = fields.String(allow_none=True)


class SuppressionChange(Schema):
    comment_id = fields.String()
    position = fields.Integer()
    at = fields.String()
    actor = fields.Nested(RecordActor, allow_none=True)
    kind = fields.String(metadata={"enum": ["suppressed", "unsuppressed"]})
    revision = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True, metadata={"description": "moderators only"})


class ThreadChange(Schema):
    kind = fields.String()
    position = fields.Integer()
    at = fields.String()
    actor = fields.Nested(RecordActor, allow_none=True)
    summary = fields.String()
    reason = fields.String(allow_none=True)


class Changes(Schema):
    thread_id = fields.String()
    from_ = fields.Integer(
        data_key="from", attribute="from", metadata={"description": "after this position"}
    )
    to = fields.Integer(metadata={"description": "up to and including this position"})
    events = fields.Integer()
    added = fields.List(fields.Nested(AddedComment))
    edited = fields.List(fields.Nested(EditedComment))
    retracted = fields.List(fields.Nested(StateChange))
    hidden = fields.List(fields.Nested(StateChange))
    restored = fields.List(fields.Nested(StateChange))
    erased = fields.List(fields.Nested(ErasedChange))
    suppressed = fields.List(fields.Nested(SuppressionChange))
    thread = fields.List(fields.Nested(ThreadChange))


class AuditEntry(Schema):
    position = fields.Integer()
    at = fields.String()
    type = fields.String(metadata={"description": "e.g. Comment.Edited"})
    actor = fields.Nested(RecordActor, allow_none=True)
    thread_id = fields.String(allow_none=True)
    comment_id = fields.String(allow_none=True)
    originator_id = fields.String()
    version = fields.Integer()
    reason = fields.String(allow_none=True)
    summary = fields.String()


class AuditPage(Schema):
    entries = fields.List(fields.Nested(AuditEntry))
    next_cursor = fields.Integer(allow_none=True)


class ErasuresQuery(ReadQuery):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))
    cursor = _position(
        load_default=None, metadata={"description": "the page's next_cursor (a position)"}
    )


class ErasureActor(Schema):
    id = fields.String()
    name = fields.String(
        metadata={
            "description": "a moderator's name ('erased author' once erased), 'operator',"
            " or 'the author themself'"
        }
    )


class Erasure(Schema):
    position = fields.Integer(metadata={"description": "the erasure's log position"})
    at = fields.String(metadata={"description": "when it was erased"})
    kind = fields.String(
        metadata={
            "enum": ["comment", "revision", "author"],
            "description": "a comment (a moderator's takedown), one revision of a comment,"
            " or an author's account with everything they wrote",
        }
    )
    comment_id = fields.String(allow_none=True)
    thread_id = fields.String(allow_none=True)
    revision = fields.Integer(allow_none=True, metadata={"description": "for kind revision"})
    author_id = fields.String(allow_none=True, metadata={"description": "for kind author"})
    comments = fields.Integer(
        allow_none=True,
        metadata={"description": "for kind author: how many comments the erasure covered"},
    )
    actor = fields.Nested(ErasureActor, metadata={"description": "who erased it"})
    basis = fields.String(allow_none=True, metadata=ERASURE_BASIS)
    basis_label = fields.String(allow_none=True, metadata={"description": "the basis in words"})


class ErasureLedger(Schema):
    entries = fields.List(fields.Nested(Erasure), metadata={"description": "newest first"})
    next_cursor = fields.Integer(allow_none=True)


class ChainHead(Schema):
    position = fields.Integer(metadata={"description": "the last position chained"})
    hash = fields.String(
        metadata={"description": "the chain's link there (hex sha256); keep it to verify later"}
    )
