"""marshmallow schemas of the email pages' forms (web/pages/email.py)."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate


class AddressForm(Schema):
    class Meta:
        unknown = EXCLUDE

    address = fields.String(required=True, validate=validate.Length(min=3, max=254))


class NotificationsForm(Schema):
    class Meta:
        unknown = EXCLUDE

    replies = fields.Boolean(load_default=False, truthy={"1", "on", "true"})
    digest = fields.Boolean(load_default=False, truthy={"1", "on", "true"})


class ThreadNotificationsForm(Schema):
    class Meta:
        unknown = EXCLUDE

    thread = fields.String(required=True, validate=validate.Length(min=1, max=2048))
    replies = fields.String(required=True, validate=validate.OneOf(["on", "off", "default"]))


class RetryForm(Schema):
    class Meta:
        unknown = EXCLUDE

    channel = fields.String(load_default=None, validate=validate.Length(max=64))
    position = fields.Integer(load_default=None, validate=validate.Range(min=1, max=2**62))
