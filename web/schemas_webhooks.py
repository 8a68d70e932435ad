"""Input and output schemas of the webhooks API (web/api/webhooks.py)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from domain.webhooks import EVENTS, URL_MAX
from web.schemas import StrictSchema


class NewWebhook(StrictSchema):
    url = fields.String(
        required=True,
        validate=validate.Length(1, URL_MAX),
        metadata={"description": "http:// or https://; not a loopback or private address"},
    )
    events = fields.List(
        fields.String(validate=validate.OneOf(EVENTS)),
        required=True,
        validate=validate.Length(1, len(EVENTS)),
        metadata={"description": f"some of {', '.join(EVENTS)}"},
    )
    secret = fields.String(
        load_default=None,
        validate=validate.Length(30, 200),
        metadata={"description": "whsec_ and base64 of 24-64 bytes; default: a new one"},
    )


class DisableWebhook(StrictSchema):
    reason = fields.String(load_default=None, validate=validate.Length(0, 300))


class Redeliver(StrictSchema):
    from_position = fields.Integer(
        required=True,
        validate=validate.Range(1, 2**62),
        metadata={"description": "every delivery from this log position on is sent again"},
    )


class DeliveriesQuery(StrictSchema):
    cursor = fields.Integer(load_default=None, validate=validate.Range(1, 2**62))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))


class WebhookOut(Schema):
    id = fields.String()
    url = fields.String()
    events = fields.List(fields.String())
    allow_private = fields.Boolean()
    enabled = fields.Boolean()
    disabled_reason = fields.String(allow_none=True)
    registered_position = fields.Integer()
    failures_in_a_row = fields.Integer()
    last_status = fields.String(allow_none=True)
    last_attempt_at = fields.String(allow_none=True)


class WebhookCreated(Schema):
    id = fields.String()
    url = fields.String()
    events = fields.List(fields.String())
    secret = fields.String(metadata={"description": "shown once: sign checks use it"})
    position = fields.Integer()


class WebhookList(Schema):
    webhooks = fields.List(fields.Nested(WebhookOut))


class DeliveryOut(Schema):
    webhook_id = fields.String(metadata={"description": "the webhook-id header: a position"})
    position = fields.Integer()
    event = fields.String()
    state = fields.String(metadata={"enum": ["pending", "sent", "dead", "dropped"]})
    attempts = fields.Integer()
    queued_at = fields.String()
    next_attempt_at = fields.String(allow_none=True)
    done_at = fields.String(allow_none=True)
    last_error = fields.String(allow_none=True)


class DeliveryLog(Schema):
    deliveries = fields.List(fields.Nested(DeliveryOut))
    next_cursor = fields.Integer(allow_none=True)


class RedeliveryOut(Schema):
    redelivered = fields.Integer()


class WebhookChanged(Schema):
    id = fields.String()
    enabled = fields.Boolean()
    position = fields.Integer()
