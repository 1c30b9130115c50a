"""Pruning the replay memory of answered signed webhooks, on beat every hour.

The task keeps its first name, `tasks.deliveries.prune`, so timers and messages queued
before the module was renamed (deliveries now means outbound events) still find it."""

from __future__ import annotations

from bridge import replays
from tasks import outage
from tasks.celery_app import celery, services


@celery.task(name="tasks.deliveries.prune")
@outage.skipped_while_down
def prune() -> int:
    """Forget webhook answers older than WEBHOOK_DELIVERY_RETENTION; how many went."""
    return replays.prune(services())
