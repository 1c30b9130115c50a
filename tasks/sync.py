"""The sync task: reconcile one profile with Buffer."""

from __future__ import annotations

from typing import Any

from bridge import sync
from bridge.errors import DatabaseUnavailable
from tasks import outage
from tasks.celery_app import celery, services


@celery.task(name="tasks.sync.sync_profile", bind=True, max_retries=None, acks_late=True)
def sync_profile(self: Any, profile_id: str) -> str:
    """Fold the profile's queued operations into Buffer; retry later when told to, and
    while our database is down (tasks/outage.py)."""
    try:
        outcome = sync.sync_profile(services(), profile_id)
    except DatabaseUnavailable as error:
        raise outage.retry_later(self, error) from None
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.state
