"""Snapshot tasks: one GET /profiles per account."""

from __future__ import annotations

from typing import Any

from bridge import snapshots
from bridge.errors import DatabaseUnavailable
from tasks import outage
from tasks.celery_app import celery, services


@celery.task(name="tasks.snapshots.snapshot_all")
def snapshot_all() -> int:
    """Queue a snapshot of every configured account."""
    names = services().settings.account_names()
    for account in names:
        snapshot_account.delay(account)
    return len(names)


@celery.task(name="tasks.snapshots.snapshot_account", bind=True, max_retries=None, acks_late=True)
def snapshot_account(self: Any, account: str, job_id: int | None = None) -> int:
    """Refresh the cache of `account` and store snapshots of what changed."""
    svc = services()
    try:
        outcome = snapshots.take_account(svc, account)
    except DatabaseUnavailable as error:  # nothing to record it in: run again later
        raise outage.retry_later(self, error) from None
    except Exception as error:
        if job_id is not None:
            snapshots.record_crash(svc, job_id, error)
        raise
    if job_id is not None:
        try:
            countdown = snapshots.finish_job(svc, job_id, outcome)
        except DatabaseUnavailable as error:
            raise outage.retry_later(self, error) from None
    else:  # a periodic snapshot has no job: count attempts on the task itself
        countdown = snapshots.retry_in(outcome, self.request.retries + 1)
    if countdown is not None:
        raise self.retry(countdown=countdown)
    return len(outcome.changed)
