"""Operations: health (for load balancers and monitors) and the projections' status."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app
from redis import Redis

from web.api.common import json_response, settings
from web.errors import STORE_UNAVAILABLE, store_breaker
from web.openapi import operation
from web.runtime import runtime
from web.schemas import Health, ProjectionList

log = logging.getLogger(__name__)

bp = Blueprint("status", __name__)


def _redis_reachable() -> bool:
    client = runtime().redis or Redis.from_url(
        settings().redis_url, socket_timeout=1, socket_connect_timeout=1
    )
    try:
        return bool(client.ping())
    except Exception as error:
        log.warning("health: Redis unreachable: %s", error)
        return False


@bp.get("/health")
@operation(
    "Health: the event store, Redis (when configured) and the projections' lag",
    tags=["operations"],
    responses={
        200: (Health, "Serving (status ok, or degraded: Redis down or a projection stopped)"),
        503: (Health, "The event store is unreachable (status unavailable)"),
    },
    description=(
        "Not rate limited, never cached. It always looks at the store: while the store is"
        " down other API requests fail fast (503) for a few seconds, and a healthy answer"
        " here ends that at once."
    ),
)
def health() -> Response:
    cfg = settings()
    body = {
        "status": "ok",
        "store": {"reachable": True, "backend": cfg.database.backend, "head": None},
        "redis": {"configured": bool(cfg.redis_url), "reachable": None},
        "projections": [],
    }
    try:
        services = runtime().services
        body["store"]["head"] = services.app.head_position()
        statuses = services.engine.status()
        store_breaker(current_app).reset()
    except STORE_UNAVAILABLE as error:
        log.error("health: event store unreachable: %s: %s", type(error).__name__, error)
        if cfg.database.backend == "postgres":
            store_breaker(current_app).trip()
        body["status"] = "unavailable"
        body["store"]["reachable"] = False
        statuses = []
    body["projections"] = [
        {
            "name": s.name,
            "position": s.position,
            "lag_events": s.lag_events,
            "lag_seconds": s.lag_seconds,
            "error": s.error,
        }
        for s in statuses
    ]
    if cfg.redis_url:
        body["redis"]["reachable"] = _redis_reachable()
    if body["status"] == "ok" and (
        body["redis"]["reachable"] is False or any(s.error for s in statuses)
    ):
        body["status"] = "degraded"
    unavailable = body["status"] == "unavailable"
    return json_response(
        Health(),
        body,
        503 if unavailable else 200,
        headers={"Retry-After": "5"} if unavailable else None,
    )


@bp.get("/projections")
@operation(
    "Each projection's position, the log's head, and the lag; each outward channel's"
    " position and its deliveries (pending, sent, dead, dropped)",
    tags=["operations"],
    responses={200: (ProjectionList, "One row per projection")},
)
def projections() -> Response:
    services = runtime().services
    statuses = services.engine.status()
    head = statuses[0].head if statuses else services.app.head_position()
    body = {"head": head, "projections": [s.as_dict() for s in statuses]}
    body["channels"] = services.outbox.status() if services.outbox is not None else []
    return json_response(ProjectionList(), body)
