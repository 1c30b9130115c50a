"""Pruning answered signed webhooks, on beat every hour."""

from __future__ import annotations

from bridge import deliveries
from tasks import outage
from tasks.celery_app import celery, services


@celery.task(name="tasks.deliveries.prune")
@outage.skipped_while_down
def prune() -> int:
    """Forget webhook answers older than WEBHOOK_DELIVERY_RETENTION; how many went."""
    return deliveries.prune(services())
