"""The reconciler task, on beat every minute."""

from __future__ import annotations

from bridge import reconcile as reconciler
from tasks import outage
from tasks.celery_app import celery, services


@celery.task(name="tasks.reconcile.reconcile")
@outage.skipped_while_down
def reconcile() -> int:
    """Re-wake every profile whose operations have waited too long."""
    return len(reconciler.rewake(services()))
