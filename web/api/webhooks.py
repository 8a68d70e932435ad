"""Webhooks for moderators: register endpoints, list them, read an endpoint's delivery
log, redeliver from a position, disable and enable (domain/webhooks.py; deliveries by
the outbox, workers/webhooks.py). A loopback or private address is refused (422) unless
the operator allows it (DISCUSS_WEBHOOK_ALLOW_PRIVATE, or the command line's
`--allow-private` for one endpoint)."""

from __future__ import annotations

from uuid import UUID

from flask import Blueprint

from domain.webhooks import disable_webhook, enable_webhook, get_webhook, register_webhook
from projections import webhooks
from web.api.common import (
    after_write,
    json_body,
    json_response,
    load_query,
    services,
    settings,
    write_limits,
)
from web.auth import require_author
from web.errors import ApiError
from web.openapi import operation
from web.schemas_webhooks import (
    DeliveriesQuery,
    DeliveryLog,
    DisableWebhook,
    NewWebhook,
    Redeliver,
    RedeliveryOut,
    WebhookChanged,
    WebhookCreated,
    WebhookList,
    WebhookOut,
)
from workers.webhook_http import check_destination

bp = Blueprint("webhooks", __name__)


def _moderator():
    author = require_author()
    if not author.is_moderator:
        raise ApiError(403, "permission_denied", "only moderators manage webhooks")
    return author


def _endpoint(endpoint_id: UUID) -> dict:
    """The endpoint as the channel knows it (caught up first: it may just be registered)."""
    svc = services()
    get_webhook(svc.app, endpoint_id)  # 404 for an unknown id
    svc.outbox.catch_up()
    found = webhooks.endpoint(svc.engine.store, str(endpoint_id))
    if found is None:
        raise ApiError(404, "not_found", f"no webhook endpoint with id {endpoint_id}")
    return found


@bp.get("/webhooks")
@operation(
    "List the webhook endpoints (moderators)",
    tags=["webhooks"],
    auth="required",
    responses={200: (WebhookList, "Every endpoint, enabled or not")},
)
def list_webhooks():
    _moderator()
    svc = services()
    svc.outbox.catch_up()
    return json_response(WebhookList(), {"webhooks": webhooks.endpoints(svc.engine.store)})


@bp.post("/webhooks")
@write_limits
@operation(
    "Register a webhook endpoint (moderators)",
    tags=["webhooks"],
    body=NewWebhook,
    auth="required",
    limited="write",
    responses={201: (WebhookCreated, "Registered; the secret is shown this once")},
    description=(
        "Each event of the chosen kinds is POSTed as JSON, signed the Standard Webhooks"
        " way: webhook-id (the event's log position), webhook-timestamp and"
        " webhook-signature (v1, base64 HMAC-SHA256 of id.timestamp.body). 422 for a URL"
        " that is not http(s) or that resolves to a loopback or private address."
    ),
)
def add_webhook():
    author = _moderator()
    data = json_body(NewWebhook())
    allowed = settings().webhook_allow_private
    check_destination(data["url"], allowed)
    done = register_webhook(
        services().app, author.id, data["url"], data["events"], data["secret"], allowed
    )
    after_write(done.position)
    body = {
        "id": str(done.endpoint_id),
        "url": data["url"].strip(),
        "events": sorted(set(data["events"])),
        "secret": done.secret,
        "position": done.position,
    }
    return json_response(WebhookCreated(), body, 201)


@bp.get("/webhooks/<uuid:endpoint_id>")
@operation(
    "One webhook endpoint (moderators)",
    tags=["webhooks"],
    auth="required",
    responses={200: (WebhookOut, "The endpoint")},
)
def get_endpoint(endpoint_id):
    _moderator()
    return json_response(WebhookOut(), _endpoint(endpoint_id))


@bp.get("/webhooks/<uuid:endpoint_id>/deliveries")
@operation(
    "An endpoint's delivery log (moderators)",
    tags=["webhooks"],
    query=DeliveriesQuery,
    auth="required",
    responses={200: (DeliveryLog, "Newest first; next_cursor reads on")},
)
def endpoint_deliveries(endpoint_id):
    _moderator()
    _endpoint(endpoint_id)
    args = load_query(DeliveriesQuery())
    page = webhooks.deliveries(
        services().engine.store, str(endpoint_id), args["cursor"], args["limit"]
    )
    return json_response(DeliveryLog(), page)


@bp.post("/webhooks/<uuid:endpoint_id>/redeliver")
@write_limits
@operation(
    "Redeliver from a position (moderators)",
    tags=["webhooks"],
    body=Redeliver,
    auth="required",
    limited="write",
    responses={200: (RedeliveryOut, "How many deliveries are due again")},
)
def redeliver(endpoint_id):
    _moderator()
    data = json_body(Redeliver())
    _endpoint(endpoint_id)
    count = webhooks.redeliver(services().engine.store, str(endpoint_id), data["from_position"])
    after_write(0)
    return json_response(RedeliveryOut(), {"redelivered": count})


def _changed(endpoint_id: UUID, changed) -> dict:
    endpoint = get_webhook(services().app, endpoint_id)
    return {"id": str(endpoint_id), "enabled": endpoint.enabled, "position": changed.position}


@bp.post("/webhooks/<uuid:endpoint_id>/disable")
@write_limits
@operation(
    "Disable an endpoint (moderators)",
    tags=["webhooks"],
    body=DisableWebhook,
    body_required=False,
    auth="required",
    limited="write",
    responses={200: (WebhookChanged, "Disabled: nothing more is queued for it")},
)
def disable(endpoint_id):
    author = _moderator()
    data = json_body(DisableWebhook(), required=False)
    reason = data.get("reason") or "disabled by a moderator"
    changed = disable_webhook(services().app, author.id, endpoint_id, reason)
    after_write(changed.position)
    return json_response(WebhookChanged(), _changed(endpoint_id, changed))


@bp.post("/webhooks/<uuid:endpoint_id>/enable")
@write_limits
@operation(
    "Enable an endpoint again (moderators)",
    tags=["webhooks"],
    auth="required",
    limited="write",
    responses={200: (WebhookChanged, "Enabled: events from now on are queued for it")},
)
def enable(endpoint_id):
    author = _moderator()
    changed = enable_webhook(services().app, author.id, endpoint_id)
    after_write(changed.position)
    return json_response(WebhookChanged(), _changed(endpoint_id, changed))
