"""What one caller, and one web process, may hold: the per-client rate limit and the cap
on requests that wait (`?wait=`, a live Buffer read).

The client limit is a window in Redis (the Buffer limiter's, under other keys), so it
holds across processes and machines; with Redis down it lets requests through, as the
rest of intake does (a change is stored in the database and waits for Redis). The wait
cap is per process: what it protects is this process's threads, so that /healthz and
short requests always find one free (WAIT_MAX_CONCURRENT < GUNICORN_THREADS).
"""

from __future__ import annotations

import logging
import threading

import redis
from flask import Flask, current_app, g

from bridge import models
from bridge.errors import TooManyRequests
from bridge.ratelimit import RateLimiter
from bridge.services import Services

log = logging.getLogger(__name__)
# a wait lasts up to 25 s, but most end in a second or two: try again soon
WAIT_RETRY_AFTER = 5
_EXTENSION = "bridge.wait_slots"


def check_client_rate(services: Services, client: models.ApiClient) -> None:
    """Count one request of `client`; TooManyRequests (429) over CLIENT_RATE_LIMIT."""
    _count(
        services.client_limiter,
        client,
        "client rate limit",
        f"rate limit of {services.settings.client_rate_limit} requests reached",
    )


def check_ping_rate(services: Services, client: models.ApiClient) -> None:
    """Count one test ping of `client`; TooManyRequests (429) over PING_RATE_LIMIT. Tight:
    each ping is a POST to a receiver the client chose, held up to the delivery timeout,
    so a client pinging a slow receiver would otherwise fill the delivery workers."""
    _count(
        services.ping_limiter,
        client,
        "ping rate limit",
        f"ping limit of {services.settings.ping_rate_limit} per client reached",
    )


def _count(limiter: RateLimiter, client: models.ApiClient, limit: str, reached: str) -> None:
    """Count one call of `client` on `limiter`; TooManyRequests saying `reached` when over
    it. With Redis down the call is let through and a warning names `limit`."""
    try:
        wait = limiter.acquire(f"client:{client.id}")
    except redis.RedisError as error:
        log.warning("%s not checked: Redis is unavailable (%s)", limit, error)
        return
    if wait > 0:
        raise TooManyRequests(f"{reached}; try again later", retry_after=wait)


class WaitSlots:
    """At most `size` requests of this process waiting at once."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._free = threading.BoundedSemaphore(size)

    def try_take(self) -> bool:
        """Take a slot if one is free, at once (never blocks)."""
        return self._free.acquire(blocking=False)

    def give_back(self) -> None:
        self._free.release()


def init_app(app: Flask, size: int) -> None:
    """This process's wait slots, given back when each request ends."""
    app.extensions[_EXTENSION] = WaitSlots(size)
    app.teardown_request(_give_back)


def try_wait_slot() -> bool:
    """Take a wait slot for this request (held until it ends); False when none is free."""
    if g.get("wait_slot"):
        return True
    if not current_app.extensions[_EXTENSION].try_take():
        return False
    g.wait_slot = True
    return True


def take_wait_slot() -> None:
    """As try_wait_slot, but TooManyRequests (429) when none is free."""
    if not try_wait_slot():
        size = current_app.extensions[_EXTENSION].size
        raise TooManyRequests(
            f"{size} requests are already waiting here; try again later or without ?wait",
            retry_after=WAIT_RETRY_AFTER,
        )


def _give_back(_error: BaseException | None) -> None:
    if g.pop("wait_slot", False):
        current_app.extensions[_EXTENSION].give_back()
