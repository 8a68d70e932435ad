"""Forms of the pages, described once and rendered by templates/_form.html (and by
templates/action.html as a page of their own, which the inline-form script fetches).

A form keeps what was typed when a write is refused: the view re-renders it with the
values posted and the domain error next to the field it concerns, with a 4xx status.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from flask import request

from domain.errors import DomainError
from domain.model import ERASURE_BASES
from web.errors import DOMAIN_STATUS


@dataclass
class Field:
    name: str
    label: str = ""
    kind: str = "textarea"  # textarea | text | secret | hidden | select | checkbox
    value: str = ""
    required: bool = False
    help: str = ""
    maxlength: int | None = None
    rows: int = 6
    error: str | None = None
    options: list[tuple[str, str]] = field(default_factory=list)  # select: (value, label)


@dataclass
class Form:
    action: str  # URL the form posts to
    submit: str  # label of the submit button
    fields: list[Field] = field(default_factory=list)
    error: str | None = None  # an error that concerns no one field
    cancel: str | None = None  # where "Cancel" goes
    danger: bool = False  # a destructive action (retract, hide)
    id: str = ""

    def get(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    def fill_from_request(self) -> Form:
        for f in self.fields:
            if f.kind == "checkbox":  # an unticked box is not sent at all
                f.value = "1" if request.form.get(f.name) else ""
            elif f.name in request.form:
                f.value = request.form[f.name]
        return self

    def fail(self, error: DomainError) -> int:
        """Put a domain error next to its field (or on the form); the HTTP status."""
        target = self.get(error.field) if error.field else None
        message = sentence(error.message)
        if target is not None and target.kind != "hidden":
            target.error = message
        else:
            self.error = message
        return DOMAIN_STATUS.get(error.kind, 409)


def sentence(message: str) -> str:
    """Domain messages start in lower case (for logs and JSON); a page starts a sentence."""
    return message[:1].upper() + message[1:]


def text(value: str = "", label: str = "Your comment", rows: int = 6) -> Field:
    return Field("text", label, "textarea", value, required=True, rows=rows)


def reason(required: bool = False, value: str = "", label: str | None = None) -> Field:
    word = "Reason" if required else "Reason (optional)"
    return Field("reason", label or word, "text", value, required=required, maxlength=1000)


def client_key() -> Field:
    """A fresh key per rendered form: sending the same form twice posts once."""
    return Field("client_key", kind="hidden", value=uuid.uuid4().hex)


# The honeypot (issue 13): a field people never see (CSS moves it out of sight, out of
# the tab order); form-filling bots do fill it, and their post is refused.
HONEYPOT = "website"


def honeypot() -> Field:
    return Field(HONEYPOT, "Leave this field empty", "honeypot")


def caught_by_honeypot() -> bool:
    return bool(request.form.get(HONEYPOT, "").strip())


def fill_caught(form: Form) -> bool:
    """Fill the form from the request; True when the honeypot was filled."""
    form.fill_from_request()
    return caught_by_honeypot()


def posted(name: str) -> str:
    return request.form.get(name, "")


def optional(name: str) -> str | None:
    value = request.form.get(name, "")
    return value if value.strip() else None


def basis(allowed: list[str] | None = None, value: str = "") -> Field:
    """Why something is erased: one of a fixed list of public words (a select)."""
    allowed = allowed or list(ERASURE_BASES)
    options = [(b, sentence(ERASURE_BASES[b])) for b in allowed]
    return Field(
        "basis",
        "Basis (shown publicly in the erasure ledger)",
        "select",
        value or allowed[0],
        required=True,
        options=options,
    )


def checkbox(name: str, label: str, checked: bool = False, help: str = "") -> Field:
    return Field(name, label, "checkbox", "1" if checked else "", help=help)


def ticked(name: str) -> bool:
    return bool(request.form.get(name))
