"""Sending outbound events (bridge/events/outbound.py): one delivery per task."""

from __future__ import annotations

from typing import Any

from bridge.errors import DatabaseUnavailable
from bridge.events import outbound
from tasks import outage
from tasks.celery_app import celery, services

# Longer waits are left to the reconciler, which finds due rows in the database: a
# countdown beyond the broker's visibility timeout would run twice.
MAX_COUNTDOWN = 3600.0


@celery.task(name="tasks.deliver.deliver_event", bind=True, acks_late=True, max_retries=None)
def deliver_event(self: Any, delivery_id: int) -> str:
    """One attempt at a delivery; schedules the next one when it failed and may retry, or
    when its subscription was busy (routed to the deliveries queue: bridge/queue.py).
    The attempt count lives in the database, so a lost task loses nothing."""
    try:
        attempt = outbound.deliver(services(), delivery_id)
    except DatabaseUnavailable as error:  # our database, not the receiver: no attempt made
        raise outage.retry_later(self, error) from None
    if attempt.retry_in is not None and attempt.retry_in <= MAX_COUNTDOWN:
        deliver_event.apply_async((delivery_id,), countdown=attempt.retry_in)
    return attempt.state


@celery.task(name="tasks.deliver.prune_events")
@outage.skipped_while_down
def prune_events() -> int:
    """Forget events older than EVENT_RETENTION; how many went."""
    return outbound.prune(services())
