"""The reconciler: re-wake any profile whose operations have waited too long.

Redis is not the source of truth; a lost message, a killed worker or a flushed
Redis leaves operations queued in the database, and this finds them.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, or_, select

from bridge import metrics, models
from bridge.models import utcnow
from bridge.services import Services


def stale_profiles(services: Services, now: dt.datetime | None = None) -> list[str]:
    """Profiles with an operation waiting longer than RECONCILE_AFTER past its due time."""
    now = now or utcnow()
    cutoff = now - dt.timedelta(seconds=services.settings.reconcile_after)
    op = models.Operation
    overdue = or_(
        and_(op.status == models.QUEUED, op.created_at < cutoff),
        and_(op.status == models.RETRYING, op.next_attempt_at < cutoff),
        # a worker died mid-sync: its lock has expired by now
        and_(op.status == models.RUNNING, op.started_at < cutoff),
    )
    query = select(op.profile_id).where(op.profile_id.is_not(None), overdue).distinct()
    with services.db.session() as session:
        return sorted(pid for pid in session.scalars(query) if pid)


def rewake(services: Services) -> list[str]:
    """Wake a sync for every stale profile; returns them."""
    found = stale_profiles(services)
    metrics.count_rewakes(len(found))
    for profile_id in found:
        services.queue.wake(profile_id, force=True)
    return found
