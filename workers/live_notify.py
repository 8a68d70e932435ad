"""Telling the live-update streams that the read models moved, when scaled out: a
catch-up job that applied events publishes on its queue's Redis channel, and every
stream process's hub (web/live_hub.py) listening there wakes at once instead of at its
next poll. A lost message costs only latency: the hubs poll as well.
"""

from __future__ import annotations

import logging

from redis import Redis

log = logging.getLogger(__name__)

CHANNEL = "discuss:live"


def channel(queue: str) -> str:
    return f"{CHANNEL}:{queue}"


def publish_caught_up(redis: Redis, queue: str, position: int) -> None:
    """Never raises: the catch-up itself succeeded."""
    try:
        redis.publish(channel(queue), str(position))
    except Exception as error:
        log.warning("could not publish a live-update notice (%s); streams will poll", error)
