"""The reconciler: re-wake any profile whose operations have waited too long.

Redis is not the source of truth; a lost message, a killed worker or a flushed
Redis leaves operations queued in the database, and this finds them. It leaves alone
what is in hand: an attempt that started less than RECONCILE_AFTER ago, and a profile
whose lock is held (a sync is running) or whose pending flag is set (a sync task is on
its way; the flag lives at most RECONCILE_AFTER, `queue.pending_ttl`, so a task lost
with a killed worker or a flushed Redis is found within two reconciler periods of that).

A sync that died holding its lock is found sooner, by `rescue` (beat, every
RESCUE_INTERVAL): its lock expires locks.LOCK_TTL after the death and its profile is
woken at once, so the profile is synced again within about ten seconds.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import and_, func, or_, select

from bridge import followups, metrics, models
from bridge.events import outbound
from bridge.locks import lock_key, orphans
from bridge.models import utcnow
from bridge.posting import kept
from bridge.queue import SNAPSHOT_ACCOUNT, pending_key
from bridge.services import Services

log = logging.getLogger(__name__)


def _overdue(services: Services, now: dt.datetime | None = None) -> Any:
    """The condition: an operation waiting longer than RECONCILE_AFTER past its due time."""
    now = now or utcnow()
    cutoff = now - dt.timedelta(seconds=services.settings.reconcile_after)
    op = models.Job
    return or_(
        and_(op.status == models.QUEUED, op.created_at < cutoff),
        and_(op.status == models.RETRYING, op.next_attempt_at < cutoff),
        # a worker died mid-attempt (rows from before attempt_started_at: their first start)
        and_(
            op.status == models.RUNNING,
            func.coalesce(op.attempt_started_at, op.started_at) < cutoff,
        ),
    )


def stale_profiles(services: Services, now: dt.datetime | None = None) -> list[str]:
    """Profiles with an operation waiting longer than RECONCILE_AFTER past its due time,
    or whose posts still wait to move onto a week changed that long ago."""
    op = models.Job
    query = select(op.profile_id).where(op.profile_id.is_not(None), _overdue(services, now))
    cutoff = (now or utcnow()) - dt.timedelta(seconds=services.settings.reconcile_after)
    with services.db.session() as session:
        found = {pid for pid in session.scalars(query) if pid}
        found.update(kept.moves_waiting(session, cutoff))
        return sorted(found)


def stale_snapshot_jobs(
    services: Services, now: dt.datetime | None = None
) -> list[tuple[str, int]]:
    """(account, job id) of snapshot jobs left waiting (a lost message or a crashed attempt)."""
    op = models.Job
    query = select(op.account, op.id).where(op.kind == "snapshot", _overdue(services, now))
    with services.db.session() as session:
        return [(account, job_id) for account, job_id in session.execute(query)]


def rewake(services: Services) -> list[str]:
    """Wake a sync for every stale profile, resend stale snapshot jobs, follow-ups and
    outbound event deliveries left pending; returns the profiles."""
    found = [p for p in stale_profiles(services) if not _in_hand(services, p)]
    jobs = stale_snapshot_jobs(services)
    notices = followups.resend_overdue(services)
    notices += outbound.resend_overdue(services)
    metrics.count_rewakes(len(found) + len(jobs) + len(notices))
    for profile_id in found:
        services.queue.wake(profile_id, force=True)
    for account, job_id in jobs:
        services.queue.send(SNAPSHOT_ACCOUNT, account, job_id)
    return found


def _in_hand(services: Services, profile_id: str) -> bool:
    """True when a sync of `profile_id` holds its lock or a sync task is already queued."""
    return bool(services.redis.exists(lock_key(profile_id), pending_key(profile_id)))


def rescue(services: Services) -> list[str]:
    """Wake every profile whose sync died holding its lock (the lock expired, the mark
    stayed): the task of a killed worker is not redelivered for hours, so without this
    its profile would wait for the reconciler. Only Redis is read."""
    found = orphans(services.redis)
    for profile_id in found:
        log.warning(
            "the sync of %s died with its worker: woken again",
            profile_id,
            extra={"profile_id": profile_id},
        )
        services.queue.wake(profile_id, force=True)
    metrics.count_rewakes(len(found))
    return found
