"""Reconcile one profile: make Buffer hold the fold of every queued operation.

Under a per-profile lock: read Buffer's schedules (1 call), fold the queued
operations in id order, write only if the result differs (1 call), record
before/after snapshots and each operation's own before/after/diff. Retry
decisions are returned, not slept on: the Celery task turns them into countdowns.

The lock is fenced, not just taken: every Buffer call has a total deadline shorter
than the lock's life, a renewer thread extends the lock while the sync runs, and the
sync asks Redis whether the lock is still its own right before the write and right
before recording any outcome. A sync that lost its lock writes nothing and records
nothing (another holder owns the profile's jobs now) and runs again shortly.

When a sync runs: a change to a profile with no sync started in the last
SYNC_BURST_WINDOW is synced at once (the leading edge); changes arriving while a sync runs
or within that window after it start are a burst, and wait until the profile has had no
change for SYNC_SETTLE (at most SYNC_SETTLE_MAX after the oldest), then are folded into
one trailing sync (`_settle_time`).

Before writing, each job notes the write it is about to make (`Job.plan`): a worker
killed after Buffer accepted the write leaves that note, and the re-run, finding
Buffer already holding the planned result, reports the change that happened.

Past 400 lines on purpose: one profile's reconciliation (lock, fence, read, fold, write,
verify, record) is one protocol whose steps must be read in order.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from bridge import events, logs, metrics, models, schedules, snapshots
from bridge.errors import BufferAPIError, ConfigError, InvalidSchedule
from bridge.jobs import operation_of
from bridge.locks import LOCK_TTL, ProfileLock, Renewer, mark_syncing, unmark_syncing
from bridge.models import utcnow
from bridge.posting import kept, placement
from bridge.posting.models import BRIDGE, POST_JOB
from bridge.queue import NOTIFY, pending_key, pending_ttl, synced_key
from bridge.retry import backoff
from bridge.services import Services

log = logging.getLogger(__name__)

BUSY_RETRY = 1.0  # another sync of this profile is running: look again shortly
CALLS_PER_SYNC = 2  # one read, at most one write: both slots are taken before the read


@dataclass
class SyncOutcome:
    """What a sync did; `retry_in` set means: run again after that many seconds."""

    # idle | busy | settling | rate_limited | succeeded | retrying | failed | lost_lock
    state: str
    retry_in: float | None = None
    job_ids: list[int] = field(default_factory=list)
    buffer_calls: int = 0


class _LockLost(Exception):
    """The profile lock stopped being ours before an outcome was recorded."""


def lock_ttl(services: Services) -> float:
    """How long the profile lock lives without renewal (locks.LOCK_TTL). The renewer
    extends it while Buffer calls run, however long they take; kept short so that a
    worker dying mid-sync frees its profile within seconds (the watchdog then wakes it)."""
    return LOCK_TTL


def sync_profile(services: Services, profile_id: str) -> SyncOutcome:
    """Bring Buffer in line with `profile_id`'s queued operations."""
    ttl = lock_ttl(services)
    lock = ProfileLock(services.redis, profile_id, ttl)
    if not lock.acquire():
        return SyncOutcome("busy", retry_in=BUSY_RETRY)
    try:
        mark_syncing(services.redis, profile_id)  # from here a death is found by the watchdog
        with Renewer(lock, ttl) as guard:
            settle = _settle_time(services, profile_id)
            if settle is not None:
                # a burst is still arriving: keep the flag so it queues no further tasks
                services.redis.set(pending_key(profile_id), "1", ex=pending_ttl(services.settings))
                return SyncOutcome("settling", retry_in=settle)
            # cleared before reading the log: an operation stored after this wakes a follow-up
            services.redis.delete(pending_key(profile_id))
            try:
                changed = _sync_locked(services, profile_id, guard)
                return _combined(changed, placement.run(services, profile_id, guard))
            except (_LockLost, placement.LockLost):
                log.warning(
                    "sync of %s lost its lock: nothing written or recorded, retrying",
                    profile_id,
                    extra={"profile_id": profile_id},
                )
                return SyncOutcome("lost_lock", retry_in=BUSY_RETRY)
    finally:
        unmark_syncing(services.redis, profile_id)  # before the release: see locks.py
        lock.release()


def _combined(changes: SyncOutcome, posts: placement.PlacementOutcome) -> SyncOutcome:
    """One outcome of a sync's two parts: its changes, then its posts (placed and moved);
    run again at the sooner of the two retries."""
    waits = [w for w in (changes.retry_in, posts.retry_in) if w is not None]
    state = changes.state if changes.state != "idle" or not posts.job_ids else posts.state
    return SyncOutcome(
        state,
        retry_in=min(waits) if waits else None,
        job_ids=changes.job_ids + posts.job_ids,
        buffer_calls=changes.buffer_calls + posts.buffer_calls,
    )


def _settle_time(services: Services, profile_id: str) -> float | None:
    """Seconds to wait for a burst of changes to pause, or None to sync now.

    Leading edge: a profile with no sync started in the last SYNC_BURST_WINDOW syncs at
    once, so a lone change reaches Buffer without waiting. Inside that window the changes
    are a burst: syncing on each would spend the rate limit on syncs whose result the next
    change overtakes, so the trailing sync waits SYNC_SETTLE after the newest queued change
    (but never past SYNC_SETTLE_MAX after the oldest) and folds the burst into one.
    """
    settings = services.settings
    if settings.sync_settle <= 0:
        return None
    if settings.sync_burst_window > 0 and not services.redis.exists(synced_key(profile_id)):
        return None
    query = select(func.min(models.Job.created_at), func.max(models.Job.created_at)).where(
        models.Job.profile_id == profile_id, models.Job.status == models.QUEUED
    )
    with services.db.session() as session:
        oldest, newest = session.execute(query).one()
    if newest is None:
        return None
    now = utcnow()
    quiet = (now - newest).total_seconds()
    waited = (now - oldest).total_seconds()
    if quiet >= settings.sync_settle or waited >= settings.sync_settle_max:
        return None
    return min(settings.sync_settle - quiet, settings.sync_settle_max - waited)


def _mark_synced(services: Services, profile_id: str) -> None:
    """Start the profile's burst window: changes in the next SYNC_BURST_WINDOW settle."""
    window = services.settings.sync_burst_window
    if window > 0 and services.settings.sync_settle > 0:
        services.redis.set(synced_key(profile_id), "1", px=max(1, int(window * 1000)))


def _pending(session: Session, profile_id: str) -> list[models.Job]:
    """The profile's operations still to fold, oldest first (a lone sync holds the lock,
    so 'running' ones were left by a worker that died)."""
    query = (
        select(models.Job)
        .where(
            models.Job.profile_id == profile_id,
            models.Job.status.in_(models.PENDING_STATUSES),
            models.Job.kind != POST_JOB,  # posts are placed by bridge.posting.placement
        )
        .order_by(models.Job.id)
    )
    return list(session.scalars(query))


@metrics.timed_sync
def _sync_locked(services: Services, profile_id: str, guard: Renewer) -> SyncOutcome:
    """The sync itself, with the lock held; raises _LockLost once the lock is gone."""
    with services.db.session() as session:
        jobs = _pending(session, profile_id)
        if not jobs:
            return SyncOutcome("idle")
        account = jobs[0].account
        refusal = _write_refusal(services, account)
        kept = refusal is None and _keeps_week(services, session, profile_id, account)
        if refusal is None:
            if not kept:  # the kept week costs no Buffer call: no slot to take
                slots = services.limiter.take(services.buffer_token(account), CALLS_PER_SYNC)
                if slots.wait > 0:
                    return SyncOutcome(
                        "rate_limited", retry_in=slots.wait, job_ids=[j.id for j in jobs]
                    )
            _give_up_on_exhausted(jobs, services.settings.sync_max_attempts)
            operations = _parse_operations([j for j in jobs if j.status != models.FAILED])
            started = [job for job in jobs if job.id in operations]
            for job in started:
                job.start()
            planned = [job.planned for job in started if job.planned]
    if refusal is not None:
        return _fail_all(services, profile_id, refusal, guard)
    job_ids = [job.id for job in jobs if job.id in operations]
    logs.bind_jobs(job_ids)
    if kept:
        return _sync_kept(services, profile_id, operations, planned, guard)
    _mark_synced(services, profile_id)
    backend = services.backend(account)
    calls = 0
    try:
        calls += 1
        try:
            now = backend.read_for_write(profile_id)
        finally:
            slots.stamp()  # Buffer counted the read by the time it ended
        before = _landed_before(planned, now)
        after = schedules.fold(before, operations.values())
        if after != now:
            _plan(services, job_ids, before, after, guard)
            calls += 1
            try:
                backend.write_schedules(profile_id, after)
            finally:
                slots.stamp()
    except BufferAPIError as error:
        return _failed_attempt(services, profile_id, job_ids, error, calls, guard)
    except InvalidSchedule as error:  # Buffer sent schedules we cannot read
        wrapped = BufferAPIError(f"unreadable schedules from Buffer: {error.message}", status=200)
        return _failed_attempt(services, profile_id, job_ids, wrapped, calls, guard)
    finally:
        slots.release()  # no write (nothing to change, or the read failed): its slot back
    _succeeded(services, profile_id, operations, before, after, calls, guard)
    return SyncOutcome("succeeded", job_ids=job_ids, buffer_calls=calls)


def _keeps_week(services: Services, session: Session, profile_id: str, account: str) -> bool:
    """True when the bridge keeps this profile's week (`bridge` mode, bridge.posting)."""
    abilities = services.backend(account).capabilities(utcnow().date())
    return kept.mode_of(abilities, kept.settings_of(session, profile_id)) == BRIDGE


def _sync_kept(
    services: Services,
    profile_id: str,
    operations: dict[int, schedules.Operation],
    planned: list[dict[str, Any]],
    guard: Renewer,
) -> SyncOutcome:
    """Fold the operations onto the kept week and keep the result (no Buffer call); the
    posts that follow the week are moved by the placement that runs next."""
    with services.db.session() as session:
        settings = kept.start_keeping(session, _cached(session, profile_id))
        now = kept.week_of(settings, None)
    before = _landed_before(planned, now)
    after = schedules.fold(before, operations.values())
    _succeeded(services, profile_id, operations, before, after, 0, guard, kept_week=True)
    return SyncOutcome("succeeded", job_ids=list(operations))


def _cached(session: Session, profile_id: str) -> models.Profile:
    """The cached profile (a job names only profiles found in the cache)."""
    profile = session.get(models.Profile, profile_id)
    if profile is None:
        raise ConfigError(f"profile {profile_id} is not in the cache")
    return profile


def _fence(guard: Renewer) -> None:
    """Raise _LockLost unless the profile lock is still ours (asked of Redis now)."""
    if not guard.held():
        raise _LockLost


def _landed_before(planned: list[dict[str, Any]], now: schedules.Week) -> schedules.Week:
    """What Buffer held before this batch's writes: `now`, unless an earlier attempt planned
    a write whose result Buffer holds now (its worker died after Buffer accepted it), in
    which case that plan's `before` (so the re-run reports the change that happened)."""
    for plan in reversed(planned):
        try:
            if schedules.from_buffer(plan["after"]) == now:
                return schedules.from_buffer(plan["before"])
        except (InvalidSchedule, KeyError, TypeError):
            continue
    return now


def _plan(
    services: Services,
    job_ids: list[int],
    before: schedules.Week,
    after: schedules.Week,
    guard: Renewer,
) -> None:
    """Note on every job the write about to be made, committed before the write; raises
    _LockLost (nothing noted) when the lock is no longer ours."""
    with services.db.session() as session:
        for job in (session.get(models.Job, i) for i in job_ids):
            if job is not None:
                job.plan(schedules.to_buffer(before), schedules.to_buffer(after))
        _fence(guard)  # the last look before the write: a lost lock never writes


def _write_refusal(services: Services, account: str) -> str | None:
    """Why no job of `account` can be applied, whatever the retries, or None when they can:
    its token variable was removed, or v1 is past its sunset and there is no GraphQL key to
    keep the week with."""
    try:
        abilities = services.backend(account).capabilities(utcnow().date())
        if abilities.can_write:
            if abilities.v1_writes:
                services.buffer_token(account)  # ConfigError when the variable is empty
            return None
    except ConfigError as error:
        return f"Buffer account {account!r} is not configured: {error.message}"
    return abilities.write_refusal or f"account {account!r} cannot change posting schedules"


def _fail_all(services: Services, profile_id: str, why: str, guard: Renewer) -> SyncOutcome:
    """Fail the profile's jobs for good with `why`: no retry can help, and the reconciler
    would otherwise wake them every minute for ever."""
    with services.db.session() as session:
        jobs = _pending(session, profile_id)
        for job in jobs:
            job.fail(why)
            metrics.count_operation(job)
            events.job_finished(session, job)
        if jobs:
            events.account_degraded(session, jobs[0].account, why)
        failed = [job.id for job in jobs]
        notify = [job.id for job in jobs if job.notify]
        _fence(guard)
    for job_id in notify:
        services.queue.send(NOTIFY, job_id)
    log.error("sync of %s: %s", profile_id, why, extra={"profile_id": profile_id})
    return SyncOutcome("failed", job_ids=failed)


def _give_up_on_exhausted(jobs: list[models.Job], max_attempts: int) -> None:
    """Fail jobs whose attempts ran out without a Buffer answer (a worker crashed on them
    each time), so a job that breaks the worker cannot be retried for ever."""
    for job in jobs:
        if job.attempts >= max_attempts:
            job.fail(f"gave up after {job.attempts} attempts")
            metrics.count_operation(job)
            _tell(job)


def _parse_operations(jobs: list[models.Job]) -> dict[int, schedules.Operation]:
    """Each job's operation; a job whose stored parameters no longer parse fails alone."""
    parsed: dict[int, schedules.Operation] = {}
    for job in jobs:
        try:
            parsed[job.id] = operation_of(job)
        except InvalidSchedule as error:
            job.fail(f"stored operation is invalid: {error.message}")
            metrics.count_operation(job)
            _tell(job)
    return parsed


def _tell(job: models.Job) -> None:
    """The job's outbound event, in the transaction of the session holding it."""
    session = object_session(job)
    if session is not None:
        events.job_finished(session, job)


def _succeeded(
    services: Services,
    profile_id: str,
    operations: dict[int, schedules.Operation],
    before: schedules.Week,
    after: schedules.Week,
    calls: int,
    guard: Renewer,
    kept_week: bool = False,
) -> None:
    """Record snapshots, the cache (or, with `kept_week`, the kept week) and every job's
    own before/after/diff; raises _LockLost (and records nothing) when the lock is no
    longer ours."""
    with services.db.session() as session:
        first_job = min(operations) if operations else None
        profile = session.get(models.Profile, profile_id)
        if kept_week:
            # the kept week carries its own pauses; Buffer's schedule is left as it is
            paused_before, paused_after = before.paused_days(), after.paused_days()
        else:
            # the write went through v1, which neither reads nor writes pauses: Buffer keeps
            # the ones last read (GraphQL), so the snapshots carry them, not a "resume"
            paused = tuple(profile.paused_days or ()) if profile is not None else ()
            paused_before = paused_after = paused
        if after != before:
            snapshots.record(
                session,
                profile_id,
                before.with_pauses(paused_before),
                models.BEFORE_CHANGE,
                first_job,
            )
            snapshots.record(
                session, profile_id, after.with_pauses(paused_after), models.AFTER_CHANGE, first_job
            )
        if kept_week:
            if after != before:
                last_job = max(operations) if operations else None
                kept.keep(kept.ensure_settings(session, profile_id), after, last_job)
        elif profile is not None:
            profile.schedules = schedules.to_buffer(after)
            profile.seen_at = utcnow()
        state = before
        for job_id, operation in operations.items():
            job = session.get(models.Job, job_id)
            if job is None:
                continue
            job_before, state = state, schedules.apply(state, operation)
            result = _result(job_before, state, before, after, calls, len(operations))
            if kept_week:  # nothing went to Buffer: the batch changed the week kept here
                result["schedule_mode"] = BRIDGE
                result["kept_week"] = result.pop("buffer")
            job.succeed(result)
            metrics.count_operation(job)
            events.job_finished(session, job)
        notify = [job_id for job_id in operations if _wants_notice(session, job_id)]
        _fence(guard)  # checked last, right before the commit
    for job_id in notify:
        services.queue.send(NOTIFY, job_id)


def _result(
    job_before: schedules.Week,
    job_after: schedules.Week,
    before: schedules.Week,
    after: schedules.Week,
    calls: int,
    batch: int,
) -> dict[str, Any]:
    """A job's result: its own change, and what the whole sync did in Buffer."""
    return {
        "before": schedules.to_buffer(job_before),
        "after": schedules.to_buffer(job_after),
        "diff": schedules.diff(job_before, job_after),
        "summary": schedules.summary(job_after),
        "buffer": {
            "before": schedules.to_buffer(before),
            "after": schedules.to_buffer(after),
            "written": after != before,
            "calls": calls,
            "coalesced_jobs": batch,
        },
    }


def _wants_notice(session: Session, job_id: int) -> bool:
    """True when someone asked to be told how `job_id` ended."""
    job = session.get(models.Job, job_id)
    return bool(job is not None and job.notify)


def _failed_attempt(
    services: Services,
    profile_id: str,
    job_ids: list[int],
    error: BufferAPIError,
    calls: int,
    guard: Renewer,
) -> SyncOutcome:
    """Retry later (retryable, attempts left) or fail the jobs with Buffer's error; raises
    _LockLost (and records nothing) when the lock is no longer ours."""
    max_attempts = services.settings.sync_max_attempts
    retry_in: float | None = None
    with services.db.session() as session:
        jobs = [job for job in (session.get(models.Job, i) for i in job_ids) if job]
        attempts = max((job.attempts for job in jobs), default=1)
        if error.retryable and attempts < max_attempts:
            retry_in = backoff(attempts, services.settings.sync_backoff_max)
        next_at = utcnow() + dt.timedelta(seconds=retry_in) if retry_in is not None else None
        for job in jobs:
            if next_at is not None:
                job.retry_at(next_at, error.message, error.status, error.code)
            else:
                job.fail(error.message, error.status, error.code)
                metrics.count_operation(job)
                events.job_finished(session, job)
        if error.status == 401 and jobs:
            events.account_degraded(
                session, jobs[0].account, "Buffer refused the access token (HTTP 401)", 401
            )
        notify = [job.id for job in jobs if retry_in is None and job.notify]
        _fence(guard)
    for job_id in notify:
        services.queue.send(NOTIFY, job_id)
    log.warning(
        "sync of %s: Buffer error %s (%s)",
        profile_id,
        error,
        f"retry in {retry_in:.1f}s" if retry_in is not None else "failed",
        extra={"profile_id": profile_id},
    )
    state = "retrying" if retry_in is not None else "failed"
    return SyncOutcome(state, retry_in=retry_in, job_ids=job_ids, buffer_calls=calls)
