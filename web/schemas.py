"""Marshmallow schemas: the contract of every input and output of the API.

Inputs refuse unknown fields (marshmallow's default RAISE). Outputs are dumped
once per change of a thread and the bytes cached (web/api/caching.py). The OpenAPI
document (web/openapi.py) is generated from these classes, so what is declared here
is what clients are promised.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from uuid import UUID

import orjson
from marshmallow import (
    EXCLUDE,
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)

from domain.model import ERASURE_BASES
from domain.rules import NAME_MAX_LENGTH, TITLE_MAX_LENGTH

# The largest value a BIGINT column (and SQLite's INTEGER) holds.
MAX_POSITION = 2**63 - 1
REASON_MAX_LENGTH = 1000
KEY_MAX_LENGTH = 2000
CLIENT_KEY_MAX_LENGTH = 200


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class HeaderSchema(Schema):
    """Request headers: only the declared ones are read, every other is ignored."""

    class Meta:
        unknown = EXCLUDE


# ---- custom fields ---------------------------------------------------------------


class ThreadListCursor(fields.String):
    """The keyset cursor of the thread list: (last_activity_at, thread_id), encoded as
    URL-safe base64 of a JSON pair, so that clients treat it as opaque."""

    def __init__(self, **kwargs):
        metadata = {
            "description": "opaque: the next_cursor of the previous page",
            **kwargs.pop("metadata", {}),
        }
        super().__init__(metadata=metadata, **kwargs)

    @staticmethod
    def encode(cursor: tuple[str, str] | None) -> str | None:
        if cursor is None:
            return None
        raw = orjson.dumps([cursor[0], cursor[1]])
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def _serialize(self, value, attr, obj, **kwargs) -> str | None:
        return self.encode(value)

    def _deserialize(self, value, attr, data, **kwargs) -> tuple[str, str] | None:
        text = super()._deserialize(value, attr, data, **kwargs)
        if text is None:
            return None
        problem = "not a cursor from this API: pass next_cursor as it was given"
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            activity, thread_id = orjson.loads(raw)
            if not isinstance(activity, str) or not isinstance(thread_id, str):
                raise ValueError
            datetime.fromisoformat(activity)
            UUID(thread_id)
        except (binascii.Error, ValueError, TypeError):
            raise ValidationError(problem) from None
        return activity, str(UUID(thread_id))


class StrictBoolean(fields.Boolean):
    """A JSON true or false, nothing else (marshmallow's Boolean also takes "yes", 1...)."""

    def _deserialize(self, value, attr, data, **kwargs) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def basis_field(allowed=tuple(ERASURE_BASES), **kwargs) -> fields.String:
    """The basis of an erasure: one of a fixed list of public words (a free text would
    itself be personal content that could never be forgotten)."""
    allowed = list(allowed)
    described = "; ".join(f"`{b}`: {ERASURE_BASES[b]}" for b in allowed)
    return fields.String(
        validate=validate.OneOf(allowed, error="must be one of: {choices}"),
        metadata={"description": f"why it is erased, shown publicly: {described}"},
        **kwargs,
    )


class VersionTag(fields.String):
    """An If-Match value: the comment's version, quoted or not (`"3"`, `3`, `W/"3"`),
    or `*` for "whatever the current version is" (deserialised as None)."""

    def _deserialize(self, value, attr, data, **kwargs) -> int | None:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if text == "*":
            return None
        if "," in text:
            raise ValidationError("give one version, not a list")
        if text[:2] in ("W/", "w/"):
            text = text[2:]
        text = text.strip().strip('"').strip()
        if not text.isdigit() or not text.isascii() or len(text) > 18:
            raise ValidationError('must be the comment\'s version, e.g. "3"')
        return int(text)


# ---- inputs: query strings -----------------------------------------------------


class ThreadQuery(StrictSchema):
    """A page of a thread's top-level comments (or of one comment's direct replies)."""

    limit = fields.Integer(
        load_default=50,
        validate=validate.Range(1, 200),
        metadata={"description": "top-level comments (or direct replies) per page"},
    )
    cursor = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(0, MAX_POSITION),
        metadata={"description": "the page's next_cursor, to read the next page"},
    )
    depth = fields.Integer(
        load_default=6,
        validate=validate.Range(0, 50),
        metadata={"description": "levels of replies below each comment on the page"},
    )
    sort = fields.String(load_default="oldest", validate=validate.OneOf(["oldest", "newest"]))
    min_position = fields.Integer(
        load_default=None,
        validate=validate.Range(0, MAX_POSITION),
        metadata={
            "description": "read your writes: wait (bounded) until the view includes this"
            " position, the `position` a write returned; 503 if it takes too long"
        },
    )


class ThreadListQuery(StrictSchema):
    limit = fields.Integer(load_default=20, validate=validate.Range(1, 100))
    cursor = ThreadListCursor(load_default=None)
    min_position = fields.Integer(
        load_default=None,
        validate=validate.Range(0, MAX_POSITION),
        metadata={"description": "wait (bounded) until the list includes this position"},
    )


# ---- inputs: headers -------------------------------------------------------------


class PostCommentHeaders(HeaderSchema):
    idempotency_key = fields.String(
        data_key="Idempotency-Key",
        load_default=None,
        validate=[
            validate.Length(1, CLIENT_KEY_MAX_LENGTH),
            validate.Regexp(r"^[\x21-\x7e]+$", error="printable ASCII, no spaces"),
        ],
        metadata={
            "description": "a key the client makes per comment: a retry with the same key"
            " returns the original comment (200) instead of posting it again"
        },
    )


class EditHeaders(HeaderSchema):
    if_match = VersionTag(
        data_key="If-Match",
        required=True,
        metadata={
            "description": "the version of the comment being edited (its `version`);"
            " 412 when it is no longer current, 428 when missing"
        },
    )


class ConditionalHeaders(HeaderSchema):
    if_none_match = fields.String(
        data_key="If-None-Match",
        load_default=None,
        metadata={"description": "the ETag of the copy you have: 304 if it is current"},
    )


# ---- inputs: bodies --------------------------------------------------------------


class NewAuthor(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(1, NAME_MAX_LENGTH))


class NewThread(StrictSchema):
    title = fields.String(required=True, validate=validate.Length(1, TITLE_MAX_LENGTH))
    key = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(1, KEY_MAX_LENGTH),
        metadata={"description": "the host page's URL or slug; unique"},
    )
    body = fields.String(load_default=None, allow_none=True)


class NewComment(StrictSchema):
    text = fields.String(required=True)
    parent_id = fields.UUID(
        load_default=None,
        allow_none=True,
        metadata={"description": "the comment replied to; none for a top-level comment"},
    )


class EditComment(StrictSchema):
    text = fields.String(required=True)
    reason = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=REASON_MAX_LENGTH)
    )


class OptionalReason(StrictSchema):
    reason = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=REASON_MAX_LENGTH)
    )


class RequiredReason(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(1, REASON_MAX_LENGTH))


# The phrase an author types to erase their own account: a stray request cannot.
ERASE_ACCOUNT_CONFIRMATION = "erase my account"


class EraseContent(StrictSchema):
    basis = basis_field(required=True)


class SuppressRevision(StrictSchema):
    text = StrictBoolean(
        load_default=True, metadata={"description": "withhold the revision's text"}
    )
    edit_reason = StrictBoolean(
        load_default=False, metadata={"description": "withhold the revision's edit reason"}
    )
    reason = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=REASON_MAX_LENGTH),
        metadata={"description": "for the audit log (moderators only)"},
    )

    @validates_schema
    def _something(self, data, **kwargs) -> None:
        if not data.get("text") and not data.get("edit_reason"):
            raise ValidationError("suppress the text, the edit reason, or both", "text")


class EraseAccount(StrictSchema):
    basis = basis_field(("author_request",), load_default="author_request")
    confirm = fields.String(
        required=True,
        validate=validate.OneOf(
            [ERASE_ACCOUNT_CONFIRMATION],
            error=f'type exactly "{ERASE_ACCOUNT_CONFIRMATION}" to confirm',
        ),
        metadata={"description": f'exactly "{ERASE_ACCOUNT_CONFIRMATION}"'},
    )


class ExportQuery(StrictSchema):
    min_position = fields.Integer(
        load_default=None,
        validate=validate.Range(0, MAX_POSITION),
        metadata={"description": "wait (bounded) until the export includes this position"},
    )


# ---- outputs ---------------------------------------------------------------------


class AuthorRef(Schema):
    id = fields.String()
    name = fields.String()


class AuthorOut(Schema):
    id = fields.String()
    name = fields.String()
    role = fields.String(metadata={"enum": ["member", "moderator"]})


class AuthorCreated(AuthorOut):
    token = fields.String(
        metadata={"description": "the bearer token: shown once, only its hash is stored"}
    )


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
    state = fields.String(metadata={"enum": ["visible", "retracted", "hidden", "erased"]})
    placeholder = fields.String(allow_none=True)
    state_reason = fields.String(allow_none=True)
    posted_at = fields.String()
    edited = fields.Boolean()
    edit_count = fields.Integer()
    last_edited_at = fields.String(allow_none=True)
    version = fields.Integer(metadata={"description": "send it as If-Match to edit"})
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
    lock_reason = fields.String(allow_none=True)
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


class SubtreePageInfo(Schema):
    next_cursor = fields.Integer(allow_none=True)
    remaining_replies = fields.Integer()
    comments_on_page = fields.Integer()


class CommentPage(Schema):
    thread = fields.Nested(ThreadMeta)
    comment = fields.Nested(CommentOut)
    page = fields.Nested(SubtreePageInfo)


class ThreadList(Schema):
    threads = fields.List(fields.Nested(ThreadMeta))
    next_cursor = ThreadListCursor(allow_none=True)


class ThreadCreated(Schema):
    id = fields.String()
    key = fields.String(allow_none=True)
    position = fields.Integer(metadata={"description": "pass as min_position to read it"})


class CommentPosted(Schema):
    comment = fields.String(metadata={"description": "the comment's id"})
    thread_id = fields.String()
    version = fields.Integer()
    position = fields.Integer(metadata={"description": "pass as min_position to read it"})
    replayed = fields.Boolean(
        metadata={"description": "true when an Idempotency-Key retry returned the original"}
    )


class ChangedOut(Schema):
    id = fields.String()
    version = fields.Integer(metadata={"description": "the new version (If-Match)"})
    position = fields.Integer(metadata={"description": "pass as min_position to read it"})


class ErasedOut(ChangedOut):
    erased = fields.Boolean(
        metadata={"description": "false when it was erased already (nothing new recorded)"}
    )


# ---- an author's own data (GET /authors/me/export) ---------------------------------


class ExportProfile(Schema):
    id = fields.String()
    name = fields.String(allow_none=True, metadata={"description": "null once erased"})
    role = fields.String(metadata={"enum": ["member", "moderator"]})
    registered_at = fields.String()
    erased = fields.Boolean()


class ExportThread(Schema):
    id = fields.String()
    key = fields.String(allow_none=True)
    title = fields.String(allow_none=True)


class ExportWithheld(Schema):
    why = fields.String(
        metadata={"enum": ["erased", "hidden", "retracted", "suppressed", "unavailable"]}
    )
    since = fields.String(allow_none=True)
    note = fields.String(metadata={"description": 'e.g. "erased on 6 December 2026"'})


class ExportRevision(Schema):
    revision = fields.Integer(metadata={"description": "the comment's version"})
    kind = fields.String(metadata={"enum": ["posted", "edited"]})
    at = fields.String()
    position = fields.Integer()
    by_author = fields.Boolean(metadata={"description": "false when a moderator edited it"})
    text = fields.String(allow_none=True)
    text_withheld = fields.Nested(ExportWithheld, allow_none=True)
    edit_reason = fields.String(allow_none=True)
    edit_reason_withheld = fields.Nested(ExportWithheld, allow_none=True)


class ExportChange(Schema):
    version = fields.Integer()
    kind = fields.String(
        metadata={
            "enum": [
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
        }
    )
    at = fields.String()
    position = fields.Integer()
    by = fields.String(metadata={"enum": ["author", "moderator", "operator"]})
    revision = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True, metadata={"description": "your own words only"})
    basis = fields.String(allow_none=True)


class ExportComment(Schema):
    id = fields.String()
    thread = fields.Nested(ExportThread)
    parent_id = fields.String(allow_none=True)
    posted_at = fields.String()
    position = fields.Integer(metadata={"description": "the log position of the post"})
    state = fields.String(metadata={"enum": ["visible", "retracted", "hidden", "erased"]})
    withheld = fields.Nested(ExportWithheld, allow_none=True)
    revisions = fields.List(fields.Nested(ExportRevision))
    changes = fields.List(fields.Nested(ExportChange))


class AuthorExport(Schema):
    format = fields.String()
    exported_at = fields.String()
    position = fields.Integer(metadata={"description": "the record's position read"})
    author = fields.Nested(ExportProfile)
    comments = fields.List(fields.Nested(ExportComment))


class ProjectionStatus(Schema):
    name = fields.String()
    generation = fields.Integer()
    position = fields.Integer()
    head = fields.Integer()
    lag_events = fields.Integer()
    lag_seconds = fields.Float()
    error = fields.String(allow_none=True)
    error_position = fields.Integer(allow_none=True)


class ChannelStatus(Schema):
    """An outward channel (projections/outbox.py): its position and its deliveries."""

    channel = fields.String()
    position = fields.Integer()
    head = fields.Integer()
    lag_events = fields.Integer()
    error = fields.String(allow_none=True)
    pending = fields.Integer()
    sent = fields.Integer()
    dead = fields.Integer(metadata={"description": "dead-lettered after every try failed"})
    dropped = fields.Integer()


class ProjectionList(Schema):
    head = fields.Integer(metadata={"description": "the last position of the event log"})
    projections = fields.List(fields.Nested(ProjectionStatus))
    channels = fields.List(fields.Nested(ChannelStatus))


class StoreHealth(Schema):
    reachable = fields.Boolean()
    backend = fields.String(metadata={"enum": ["sqlite", "postgres"]})
    head = fields.Integer(allow_none=True)


class RedisHealth(Schema):
    configured = fields.Boolean()
    reachable = fields.Boolean(allow_none=True)


class ProjectionLag(Schema):
    name = fields.String()
    position = fields.Integer()
    lag_events = fields.Integer()
    lag_seconds = fields.Float()
    error = fields.String(allow_none=True)


class Health(Schema):
    status = fields.String(
        metadata={
            "enum": ["ok", "degraded", "unavailable"],
            "description": "degraded: Redis unreachable or a projection stopped;"
            " unavailable (503): the event store is unreachable",
        }
    )
    store = fields.Nested(StoreHealth)
    redis = fields.Nested(RedisHealth)
    projections = fields.List(fields.Nested(ProjectionLag))


class ErrorBody(Schema):
    code = fields.String(metadata={"description": "a stable word for programs"})
    message = fields.String(metadata={"description": "what is wrong, in words for people"})
    fields_ = fields.Dict(
        data_key="fields",
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "for 422: which field (or header) and why"},
    )
    request_id = fields.String(
        allow_none=True, metadata={"description": "for 5xx: quote it when reporting"}
    )


class ErrorResponse(Schema):
    error = fields.Nested(ErrorBody, required=True)
