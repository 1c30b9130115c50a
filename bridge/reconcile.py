"""The reconciler: re-wake any profile whose operations have waited too long.

Redis is not the source of truth; a lost message, a killed worker or a flushed
Redis leaves operations queued in the database, and this finds them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, or_, select

from bridge import metrics, models
from bridge.models import utcnow
from bridge.queue import SNAPSHOT_ACCOUNT
from bridge.services import Services


def _overdue(services: Services, now: dt.datetime | None = None) -> Any:
    """The condition: an operation waiting longer than RECONCILE_AFTER past its due time."""
    now = now or utcnow()
    cutoff = now - dt.timedelta(seconds=services.settings.reconcile_after)
    op = models.Job
    return or_(
        and_(op.status == models.QUEUED, op.created_at < cutoff),
        and_(op.status == models.RETRYING, op.next_attempt_at < cutoff),
        # a worker died mid-sync: its lock has expired by now
        and_(op.status == models.RUNNING, op.started_at < cutoff),
    )


def stale_profiles(services: Services, now: dt.datetime | None = None) -> list[str]:
    """Profiles with an operation waiting longer than RECONCILE_AFTER past its due time."""
    op = models.Job
    query = select(op.profile_id).where(op.profile_id.is_not(None), _overdue(services, now))
    with services.db.session() as session:
        return sorted({pid for pid in session.scalars(query) if pid})


def stale_snapshot_jobs(
    services: Services, now: dt.datetime | None = None
) -> list[tuple[str, int]]:
    """(account, job id) of snapshot jobs left waiting (a lost message or a crashed attempt)."""
    op = models.Job
    query = select(op.account, op.id).where(op.kind == "snapshot", _overdue(services, now))
    with services.db.session() as session:
        return [(account, job_id) for account, job_id in session.execute(query)]


def rewake(services: Services) -> list[str]:
    """Wake a sync for every stale profile and resend stale snapshot jobs; returns the
    profiles."""
    found = stale_profiles(services)
    jobs = stale_snapshot_jobs(services)
    metrics.count_rewakes(len(found) + len(jobs))
    for profile_id in found:
        services.queue.wake(profile_id, force=True)
    for account, job_id in jobs:
        services.queue.send(SNAPSHOT_ACCOUNT, account, job_id)
    return found
