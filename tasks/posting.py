"""Kept weeks: adopt Buffer's queue into them on a timer (bridge.posting.adoption)."""

from __future__ import annotations

from bridge.posting import adoption
from tasks.celery_app import celery, services


@celery.task(name="tasks.posting.adopt_queues", acks_late=True)
def adopt_queues() -> dict[str, int]:
    """Adopt the new posts of Buffer's queue for every profile with adopt_queue."""
    return adoption.run(services()).adopted
