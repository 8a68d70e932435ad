"""Signed links: what an emailed link carries instead of a stored secret.

A link token is `<parts>.<expiry>.<signature>`: the parts (ids and versions that name
the event it answers, never a secret), a Unix expiry time, and an HMAC-SHA256 over the
purpose, the parts and the expiry under a key derived from the master key
(domain/sealing.py `MasterKey.derive`). Nothing is stored: the token can be derived
again from the event that asked for it, and a forged, altered, expired or
other-purpose token is refused.

Written here rather than with `itsdangerous`: the domain imports only the standard
library, eventsourcing and cryptography, and this is a dozen lines of `hmac`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from domain.errors import InvalidInput

SIGNATURE_BYTES = 18


class InvalidLink(InvalidInput):
    """The link is forged, altered, expired, already used or no longer current."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class LinkSigner:
    def __init__(self, key: bytes):
        self._key = key

    def _mac(self, purpose: str, body: str) -> str:
        digest = hmac.new(self._key, f"{purpose}|{body}".encode(), hashlib.sha256).digest()
        return _b64(digest[:SIGNATURE_BYTES])

    def sign(self, purpose: str, *parts: object, expires: float) -> str:
        body = ".".join([*(str(p) for p in parts), str(int(expires))])
        return f"{body}.{self._mac(purpose, body)}"

    def open(self, purpose: str, token: str, now: float | None = None) -> list[str]:
        """The parts of a valid token; InvalidLink otherwise (the message says which)."""
        body, _, signature = (token or "").strip().rpartition(".")
        if (
            not body
            or len(token) > 400
            or not hmac.compare_digest(signature.encode(), self._mac(purpose, body).encode())
        ):
            raise InvalidLink("this link is not valid (it may be incomplete or altered)")
        *parts, expires = body.split(".")
        if not expires.isdigit() or int(expires) < (time.time() if now is None else now):
            raise InvalidLink("this link has expired")
        return parts

    def digest(self, value: str) -> str:
        """A keyed hash for lookups of a personal value (an email address)."""
        return hmac.new(self._key, f"digest|{value}".encode(), hashlib.sha256).hexdigest()
