"""A page's query values, loaded through its schema (web/schemas_pages.py): a value
that is not valid is the 400 error page, naming the parameter and what it takes."""

from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import Schema, ValidationError

from web.errors import ApiError


def page_args(schema: Schema) -> dict[str, Any]:
    try:
        return schema.load(request.args)
    except ValidationError as error:
        messages = error.messages if isinstance(error.messages, dict) else {"": error.messages}
        name = next(iter(messages))
        field = next((f for f in schema.fields.values() if (f.data_key or f.name) == name), None)
        takes = field.metadata.get("takes") if field is not None else None
        given = request.args.get(name, "")
        raise ApiError(
            400, "bad_request", f"?{name}= takes {takes or 'another value'}, not {given[:40]!r}"
        ) from None
