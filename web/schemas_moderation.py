"""Schemas of the moderation queue and rules (issue 13): web/api/moderation.py."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from web.schemas import REASON_MAX_LENGTH, StrictSchema
from web.schemas_history import ReadQuery, _position

RULES_MAX_LENGTH = 64 * 1024 - 1024  # inside the body limit's default


class QueueQuery(ReadQuery):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    cursor = _position(
        load_default=None, metadata={"description": "the page's next_cursor (a position)"}
    )


class Decide(StrictSchema):
    """Approve or reject one or many comments awaiting review."""

    comment_ids = fields.List(fields.UUID(), required=True, validate=validate.Length(1, 100))
    reason = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=REASON_MAX_LENGTH)
    )


class Premoderation(StrictSchema):
    on = fields.Boolean(required=True, metadata={"description": "hold every new comment and edit"})


class RulesTry(StrictSchema):
    rules = fields.String(
        required=True,
        validate=validate.Length(1, RULES_MAX_LENGTH),
        metadata={"description": "a rule set in TOML, as in a DISCUSS_RULES file"},
    )
    since = _position(load_default=1, metadata={"description": "replay from this position"})


class Span(Schema):
    op = fields.String(metadata={"enum": ["equal", "insert", "delete"]})
    text = fields.String()


class QueueAuthor(Schema):
    id = fields.String()
    name = fields.String(allow_none=True)


class AuthorHistory(Schema):
    posted = fields.Integer()
    approved = fields.Integer()
    rejected = fields.Integer()


class QueueItem(Schema):
    comment_id = fields.String()
    thread_id = fields.String()
    thread_title = fields.String(allow_none=True)
    author = fields.Nested(QueueAuthor)
    author_history = fields.Nested(AuthorHistory)
    kind = fields.String(metadata={"enum": ["comment", "edit"]})
    revision = fields.Integer(metadata={"description": "the revision awaiting review"})
    shown_revision = fields.Integer(
        allow_none=True, metadata={"description": "what readers see meanwhile (edits)"}
    )
    rules = fields.List(fields.String(), metadata={"description": "the rules that held it"})
    held_at = fields.String()
    position = fields.Integer()
    text = fields.String(allow_none=True)
    withheld = fields.String(allow_none=True)
    diff = fields.List(
        fields.Nested(Span),
        allow_none=True,
        metadata={"description": "edits: word spans from the revision readers see"},
    )


class QueuePage(Schema):
    items = fields.List(fields.Nested(QueueItem))
    total = fields.Integer(metadata={"description": "comments awaiting review in all"})
    next_cursor = fields.Integer(allow_none=True)


class DecisionOutcome(Schema):
    id = fields.String()
    ok = fields.Boolean()
    version = fields.Integer(allow_none=True)
    position = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True, metadata={"description": "e.g. not_pending"})
    message = fields.String(allow_none=True)


class DecisionsOut(Schema):
    decided = fields.Integer()
    outcomes = fields.List(fields.Nested(DecisionOutcome))
    position = fields.Integer(metadata={"description": "pass as min_position to read it"})


class RuleExample(Schema):
    comment_id = fields.String()
    thread_id = fields.String()
    position = fields.Integer()
    excerpt = fields.String()


class RuleReport(Schema):
    name = fields.String()
    action = fields.String(metadata={"enum": ["hold", "refuse"]})
    fired = fields.Integer()
    examples = fields.List(fields.Nested(RuleExample))


class RulesReport(Schema):
    since = fields.Integer()
    until = fields.Integer()
    events = fields.Integer()
    checked = fields.Integer()
    held = fields.Integer()
    refused = fields.Integer()
    passed = fields.Integer()
    seconds = fields.Float()
    rules = fields.List(fields.Nested(RuleReport))
