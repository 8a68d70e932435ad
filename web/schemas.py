"""Marshmallow schemas: the contract of every input and output of the API.

Inputs refuse unknown fields (marshmallow's default RAISE). Outputs are dumped
once per change of a thread and the bytes cached (web/api/caching.py).
"""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from domain.rules import NAME_MAX_LENGTH


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


# ---- inputs ----------------------------------------------------------------------


class ThreadQuery(StrictSchema):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    cursor = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(0))
    depth = fields.Integer(load_default=6, validate=validate.Range(0, 50))
    sort = fields.String(load_default="oldest", validate=validate.OneOf(["oldest", "newest"]))
    min_position = fields.Integer(load_default=None, validate=validate.Range(0))


class ThreadListQuery(StrictSchema):
    limit = fields.Integer(load_default=20, validate=validate.Range(1, 100))
    cursor = fields.String(load_default=None)
    min_position = fields.Integer(load_default=None, validate=validate.Range(0))


class NewAuthor(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(1, NAME_MAX_LENGTH))


# ---- outputs ---------------------------------------------------------------------


class AuthorRef(Schema):
    id = fields.String()
    name = fields.String()


class MoreReplies(Schema):
    replies = fields.Integer(metadata={"description": "direct replies not shown"})
    comments = fields.Integer(metadata={"description": "comments below not shown"})
    continue_from = fields.String(metadata={"description": "GET /comments/{id} to read on"})


class CommentOut(Schema):
    id = fields.String()
    parent_id = fields.String(allow_none=True)
    depth = fields.Integer()
    author = fields.Nested(AuthorRef, allow_none=True)
    text = fields.String(allow_none=True)
    state = fields.String(metadata={"enum": ["visible", "retracted", "hidden"]})
    placeholder = fields.String(allow_none=True)
    state_reason = fields.String(allow_none=True)
    posted_at = fields.String()
    edited = fields.Boolean()
    edit_count = fields.Integer()
    last_edited_at = fields.String(allow_none=True)
    version = fields.Integer()
    reply_count = fields.Integer()
    descendant_count = fields.Integer()
    replies = fields.List(fields.Nested(lambda: CommentOut()))
    more_replies = fields.Nested(MoreReplies, allow_none=True)


class ThreadMeta(Schema):
    id = fields.String()
    key = fields.String(allow_none=True)
    title = fields.String()
    body = fields.String(allow_none=True)
    locked = fields.Boolean()
    opened_at = fields.String()
    comment_count = fields.Integer()
    visible_count = fields.Integer()
    top_level_count = fields.Integer()
    last_activity_at = fields.String()
    position = fields.Integer(metadata={"description": "log position this view reflects"})


class PageInfo(Schema):
    next_cursor = fields.Integer(allow_none=True)
    remaining_top_level = fields.Integer()
    comments_on_page = fields.Integer()


class ThreadPage(Schema):
    thread = fields.Nested(ThreadMeta)
    comments = fields.List(fields.Nested(CommentOut))
    page = fields.Nested(PageInfo)


class ThreadList(Schema):
    threads = fields.List(fields.Nested(ThreadMeta))
    next_cursor = fields.String(allow_none=True)
