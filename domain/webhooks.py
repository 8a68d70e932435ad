"""Webhook endpoints: where the operator and moderators have the log's changes POSTed,
signed (Standard Webhooks), by the webhook channel of the outbox.

An endpoint is an aggregate of its own, so that registering, disabling (by a moderator,
or by the sender after too many failures in a row) and enabling are events of the log
like any other: audited, replayed in order by the channel (projections/webhook_channel.py),
which queues a delivery for each endpoint that wants an event, exactly once.

The signing secret (`whsec_` and base64 of 24 to 64 random bytes) is sealed in the
event under the endpoint's own data key (domain/sealing.py), so exports of the log never
carry it in clear. Whether an address may be reached (no loopback or private networks
unless the operator allows it) needs the network: workers/webhook_http.py checks it
before a registration and before every delivery.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from domain.errors import InvalidInput, InvalidTransition, NotFound

SECRET_PREFIX = "whsec_"
URL_MAX = 2000
REASON_MAX = 300
# What an endpoint may ask for: the changes of threads and comments.
EVENTS = (
    "comment.posted",
    "comment.edited",
    "comment.retracted",
    "comment.hidden",
    "comment.restored",
    "comment.erased",
    "comment.revision_erased",
    "comment.revision_suppressed",
    "comment.revision_unsuppressed",
    "thread.opened",
    "thread.retitled",
    "thread.locked",
    "thread.unlocked",
)


class WebhookNotFound(NotFound):
    pass


class WebhookEndpoint(Aggregate):
    class Registered(Aggregate.Created):
        url: str
        events: list[str]
        secret: str  # sealed
        allow_private: bool
        actor_id: UUID

    class Disabled(Aggregate.Event):
        reason: str
        actor_id: UUID

        def apply(self, endpoint: WebhookEndpoint) -> None:
            endpoint.enabled = False

    class Enabled(Aggregate.Event):
        actor_id: UUID

        def apply(self, endpoint: WebhookEndpoint) -> None:
            endpoint.enabled = True

    def __init__(
        self, url: str, events: list[str], secret: str, allow_private: bool, actor_id: UUID
    ):
        self.url = url
        self.events = list(events)
        self.secret = secret
        self.allow_private = allow_private
        self.enabled = True


def clean_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if len(url) > URL_MAX or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("the URL must be an http:// or https:// address with a host", "url")
    if parts.username or parts.password:
        raise InvalidInput("the URL must not carry a user name or password", "url")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise InvalidInput("the URL's port is not a number", "url") from None
    return url


def clean_events(events: list[str]) -> list[str]:
    chosen = sorted({e.strip() for e in events if e.strip()})
    unknown = [e for e in chosen if e not in EVENTS]
    if not chosen or unknown:
        raise InvalidInput(
            f"events must be some of {', '.join(EVENTS)}"
            + (f"; unknown: {', '.join(unknown)}" if unknown else ""),
            "events",
        )
    return chosen


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_` secret (InvalidInput if it is not one)."""
    if not secret.startswith(SECRET_PREFIX):
        raise InvalidInput(f"a secret starts with {SECRET_PREFIX}", "secret")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("a secret is whsec_ and base64", "secret") from None
    if not 24 <= len(key) <= 64:
        raise InvalidInput("a secret holds 24 to 64 bytes", "secret")
    return key


@dataclass(frozen=True)
class Registered:
    endpoint_id: UUID
    secret: str  # shown once
    position: int


def register_webhook(
    app: Any,
    actor_id: UUID,
    url: str,
    events: list[str],
    secret: str | None = None,
    allow_private: bool = False,
) -> Registered:
    """Register an endpoint (moderators and the operator). Checks the URL's form only:
    the caller checks first that the address may be reached (workers/webhook_http.py)."""
    app.actor(actor_id).check_moderator("register a webhook")
    url, events = clean_url(url), clean_events(events)
    secret = secret or new_secret()
    secret_key(secret)
    endpoint_id = uuid4()
    key = app.data_key(endpoint_id, None, 1)
    endpoint = WebhookEndpoint._create(
        WebhookEndpoint.Registered,
        id=endpoint_id,
        url=url,
        events=events,
        secret=key.seal(secret),
        allow_private=allow_private,
        actor_id=actor_id,
    )
    position = app._save(endpoint, keys=[key])
    return Registered(endpoint.id, secret, position)


def get_webhook(app: Any, endpoint_id: UUID) -> WebhookEndpoint:
    endpoint = app._get(endpoint_id, WebhookEndpoint)
    if endpoint is None:
        raise WebhookNotFound(f"no webhook endpoint with id {endpoint_id}")
    return endpoint


def disable_webhook(app: Any, actor_id: UUID, endpoint_id: UUID, reason: str) -> Any:
    """Stop queueing deliveries to an endpoint (what is queued is dropped at send)."""
    app.actor(actor_id).check_moderator("disable a webhook")
    endpoint = get_webhook(app, endpoint_id)
    if not endpoint.enabled:
        return app._unchanged(endpoint)
    reason = (reason or "").strip()[:REASON_MAX] or "disabled"
    endpoint.trigger_event(WebhookEndpoint.Disabled, reason=reason, actor_id=actor_id)
    return app._changed(endpoint)


def enable_webhook(app: Any, actor_id: UUID, endpoint_id: UUID) -> Any:
    app.actor(actor_id).check_moderator("enable a webhook")
    endpoint = get_webhook(app, endpoint_id)
    if endpoint.enabled:
        return app._unchanged(endpoint)
    endpoint.trigger_event(WebhookEndpoint.Enabled, actor_id=actor_id)
    return app._changed(endpoint)


__all__ = [
    "EVENTS",
    "InvalidTransition",
    "WebhookEndpoint",
    "WebhookNotFound",
    "clean_events",
    "clean_url",
    "disable_webhook",
    "enable_webhook",
    "get_webhook",
    "new_secret",
    "register_webhook",
    "secret_key",
]
