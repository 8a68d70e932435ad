"""Schemas of an author's access tokens (web/api/tokens.py)."""

from __future__ import annotations

from marshmallow import Schema, fields

from domain.model import TOKEN_KINDS
from web.schemas import StrictSchema


class NoBody(StrictSchema):
    """Token writes take no fields; with the pages' cookie they must still be sent as
    JSON, which a cross-site form cannot (web/api/common.py json_body)."""


class TokenOut(Schema):
    id = fields.String(metadata={"description": "the token's public id (never its secret)"})
    kind = fields.String(
        metadata={
            "enum": list(TOKEN_KINDS),
            "description": "key: saved by its author to sign in again (and the API's bearer);"
            " session: a browser's sign-in",
        }
    )
    issued_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True, metadata={"description": "null: never"})
    current = fields.Boolean(metadata={"description": "the token of this request"})


class TokenList(Schema):
    tokens = fields.List(fields.Nested(TokenOut))


class TokenIssuedOut(Schema):
    id = fields.String()
    kind = fields.String(metadata={"enum": list(TOKEN_KINDS)})
    token = fields.String(metadata={"description": "shown once: only its hash is stored"})
    position = fields.Integer(metadata={"description": "pass as min_position to read it"})
