"""Output schema of the live updates (web/api/live.py): one change of a thread."""

from __future__ import annotations

from marshmallow import Schema, fields

from web.schemas import CommentOut


class LiveChange(Schema):
    position = fields.Integer(metadata={"description": "the event's position in the log"})
    event = fields.String(metadata={"description": "comment.posted, comment.edited, ..."})
    thread_id = fields.String()
    comment_id = fields.String(allow_none=True)
    parent_id = fields.String(allow_none=True)
    at = fields.String(metadata={"description": "when it happened (RFC 3339)"})
    comment = fields.Nested(
        CommentOut(exclude=("replies", "more_replies")),
        allow_none=True,
        metadata={"description": "the comment as the thread page shows it to you now"},
    )
