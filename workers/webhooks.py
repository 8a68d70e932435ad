"""The webhook sender of the outbox (workers/delivery.py runs it): one delivery is one
signed POST, following the Standard Webhooks convention (standardwebhooks.com):

- `webhook-id`: the event's position in the log, the same on every try and every
  redelivery, so a receiver can drop what it already has;
- `webhook-timestamp`: seconds since the epoch, at this try;
- `webhook-signature`: `v1,` and the base64 HMAC-SHA256, keyed by the endpoint's
  `whsec_` secret, of `{id}.{timestamp}.{body}`;
- the body `{"type", "timestamp", "data"}`, built now through the visibility policy
  (projections/webhooks.py, payload).

Deliveries to one endpoint go in log order: one whose earlier delivery is still waiting
for a retry is put back until then, its try not counted. A failure (network, timeout,
status not 2xx) is retried by the outbox with backoff and jitter and dead-lettered
after settings.outbox_max_attempts tries; after settings.webhook_disable_after failures
in a row the endpoint is disabled (an event, by the operator) and what is queued for it
is dropped until it is enabled again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from typing import Any
from uuid import UUID

import orjson

from domain.model import OPERATOR_ID
from domain.webhooks import disable_webhook, secret_key
from projections import webhooks
from projections.outbox import Dropped, Queued, Sent
from projections.webhook_channel import WEBHOOKS
from workers.webhook_http import post

log = logging.getLogger(__name__)


class Deferred:
    """Neither sent nor failed: put back (workers/delivery.py records no outcome)."""


def signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class WebhookSender:
    channel = WEBHOOKS

    def __init__(self, app: Any, engine: Any, settings: Any):
        self.app, self.engine, self.settings = app, engine, settings
        self.store = engine.store
        self._secrets: dict[str, str] = {}  # opened once: an endpoint's secret never changes

    def _secret(self, endpoint_id: str) -> str | None:
        if endpoint_id in self._secrets:
            return self._secrets[endpoint_id]
        sealed = webhooks.secret_of(self.store, endpoint_id)
        opener = getattr(self.app, "opener", None)
        if sealed is None or opener is None:
            return sealed
        opened = opener.open(sealed)
        if not isinstance(opened, str):
            return None
        self._secrets[endpoint_id] = opened
        return opened

    def send(self, rows: list[Queued]) -> Sent | Dropped | Deferred:
        (row,) = rows  # webhook deliveries are never batched
        endpoint = webhooks.endpoint(self.store, row.recipient)
        if endpoint is None or not endpoint["enabled"]:
            return Dropped("the endpoint is disabled")
        waiting = webhooks.earlier_pending(self.store, row.recipient, row.position)
        if waiting is not None:
            webhooks.defer(self.store, row.recipient, row.position, waiting)
            return Deferred()
        secret = self._secret(row.recipient)
        if secret is None:
            return Dropped("the endpoint's secret is unavailable")
        body = orjson.dumps(webhooks.payload(self.engine, row.position, row.kind, row.payload))
        webhook_id, timestamp = str(row.position), int(time.time())
        headers = {
            "webhook-id": webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(secret, webhook_id, timestamp, body),
            "User-Agent": "discuss-webhooks",
        }
        try:
            answer = post(
                endpoint["url"],
                body,
                headers,
                timeout=self.settings.webhook_timeout_seconds,
                allow_private=endpoint["allow_private"] or self.settings.webhook_allow_private,
            )
        except Exception as error:
            self._failed(row.recipient, f"{type(error).__name__}: {error}")
            raise
        if not answer.ok:
            self._failed(row.recipient, answer.summary)
            raise RuntimeError(answer.summary)
        if endpoint["failures_in_a_row"] or endpoint["last_status"] != answer.summary:
            webhooks.record_attempt(self.store, row.recipient, True, answer.summary)
        return Sent()

    def _failed(self, endpoint_id: str, why: str) -> None:
        failures = webhooks.record_attempt(self.store, endpoint_id, False, why)
        limit = self.settings.webhook_disable_after
        if limit and failures >= limit:
            log.warning(
                "webhook endpoint %s failed %d times in a row: disabled", endpoint_id, failures
            )
            disable_webhook(
                self.app,
                OPERATOR_ID,
                UUID(endpoint_id),
                f"disabled after {failures} failed deliveries in a row (last: {why})",
            )
