"""The reconciler, on beat every minute, and its fast half, `rescue`, every few seconds."""

from __future__ import annotations

from bridge import reconcile as reconciler
from tasks import outage
from tasks.celery_app import celery, services


@celery.task(name="tasks.reconcile.reconcile")
@outage.skipped_while_down
def reconcile() -> int:
    """Re-wake every profile whose operations have waited too long."""
    return len(reconciler.rewake(services()))


@celery.task(name="tasks.reconcile.rescue", ignore_result=True)
def rescue() -> int:
    """Wake the profiles whose sync died with its worker (Redis only, so it runs while
    the database is down too)."""
    return len(reconciler.rescue(services()))
