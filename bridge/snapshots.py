"""Snapshots: every profile's schedules over time, taken with one GET /profiles per account.

A snapshot is stored only when a profile's schedules differ from its latest one;
a difference the bridge did not write itself is marked as an external change.

Past 400 lines on purpose: taking snapshots and reading the history they make share
the stored shape (content hash, week JSON, diff); the delivery of their jobs' outcomes
is bridge/outcome.py.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import json
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge import auth, db, events, models, profiles, schedules
from bridge.buffer.backend import BudgetExhausted
from bridge.buffer.models import Profile as BufferProfile
from bridge.errors import BufferAPIError, InvalidSchedule, NotFound
from bridge.models import utcnow
from bridge.posting.kept import kept_profile_ids
from bridge.retry import backoff
from bridge.services import Services


@dataclass
class SnapshotOutcome:
    """What one account's snapshot did; `retry_in` set means: run again later."""

    account: str
    profiles: int = 0
    changed: list[str] = field(default_factory=list)
    buffer_calls: int = 0
    retry_in: float | None = None
    error: BufferAPIError | None = None


def content_hash(week: schedules.Week) -> str:
    """A hash of the canonical schedules, so equal schedules compare equal however sent.

    Pauses count (a pause alone is a change), yet a week without pauses hashes exactly as
    before pauses existed: `week_to_json` adds its `paused` key only when a day is paused,
    so the hashes already stored stay valid and no spurious change is recorded.
    """
    encoded = json.dumps(schedules.week_to_json(week), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()


def latest(session: Session, profile_id: str) -> models.Snapshot | None:
    """The newest snapshot of a profile."""
    query = (
        select(models.Snapshot)
        .where(models.Snapshot.profile_id == profile_id)
        .order_by(models.Snapshot.taken_at.desc(), models.Snapshot.id.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def record(
    session: Session,
    profile_id: str,
    week: schedules.Week,
    reason: str,
    job_id: int | None = None,
) -> models.Snapshot:
    """Store a snapshot of `week` (its times in Buffer's v1 shape, its pauses beside)."""
    snapshot = models.Snapshot(
        profile_id=profile_id,
        schedules=schedules.to_buffer(week.unpaused()),
        paused_days=list(week.paused_days()),
        content_hash=content_hash(week),
        reason=reason,
        job_id=job_id,
        taken_at=utcnow(),
    )
    session.add(snapshot)
    session.flush()
    return snapshot


def record_if_changed(session: Session, profile_id: str, week: schedules.Week) -> bool:
    """Snapshot `week` when it differs from the latest; True when one was stored. A change
    the bridge did not make (drift) is told as a `schedule.drifted` event in this session's
    transaction."""
    previous = latest(session, profile_id)
    if previous is not None and previous.content_hash == content_hash(week):
        return False
    reason = models.PERIODIC if previous is None else models.EXTERNAL_CHANGE
    snapshot = record(session, profile_id, week, reason)
    profile = session.get(models.Profile, profile_id)
    if previous is not None and profile is not None:
        events.schedule_drifted(
            session, profile.account, profile_id, week_of(previous), week, snapshot.id
        )
    return True


def take_account(services: Services, account: str) -> SnapshotOutcome:
    """Refresh the profile cache of `account` and snapshot what changed: one v1 call, or
    one GraphQL call per organization (organizations cached hourly), whatever the number
    of profiles. `retry_in` is set when the rate limit says wait, `error` when Buffer
    refused."""
    outcome = SnapshotOutcome(account)
    backend = services.backend(account)
    calls_before = _calls(services, account)
    try:
        found = backend.profiles()
    except BudgetExhausted as wait:
        outcome.retry_in = wait.seconds
        return outcome
    except BufferAPIError as error:
        outcome.error = error
        if error.status == 401:
            with services.db.session() as session:
                events.account_degraded(
                    session, account, "Buffer refused the access token (HTTP 401)", 401
                )
        return outcome
    finally:
        outcome.buffer_calls = _calls(services, account) - calls_before
    with _cyclic_gc_paused(), services.db.session() as session:
        profiles.ensure_accounts(session, services.settings)
        profiles.upsert_bulk(session, account, found, utcnow())
        outcome.profiles = len(found)
        outcome.changed = record_changed(session, account, found)
    return outcome


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Hold off Python's cyclic garbage collector while an account is stored.

    Storing 10,000 profiles makes a few hundred thousand small dicts and lists (cache rows,
    JSON values, weeks) that live until the transaction ends; the collector, started every
    700 allocations, walked them again and again and found next to nothing to free (a
    collection right after a snapshot of 10,000 frees 65-81 objects: reference counting
    frees the rest). That was about a third of a cold snapshot's time (docs/BENCHMARKS.md).
    The collector is process-wide: other threads go without it for these few seconds, and
    it is switched back on only if it was on, so a nested or concurrent pause never leaves
    it off."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def latest_hashes(session: Session, account: str) -> dict[str, tuple[int, str]]:
    """profile id -> (id, content hash) of its newest snapshot, for every cached profile of
    `account` that has one: one query (an indexed lookup per profile, whatever the history)."""
    snap, cached = models.Snapshot, models.Profile
    newest = (
        select(snap.id)
        .where(snap.profile_id == cached.id)
        .order_by(snap.taken_at.desc(), snap.id.desc())
        .limit(1)
        .correlate(cached)
        .scalar_subquery()
    )
    ids = (
        select(cached.id.label("profile_id"), newest.label("snapshot_id"))
        .where(cached.account == account)
        .subquery()
    )
    query = select(ids.c.profile_id, snap.id, snap.content_hash).join(
        snap, snap.id == ids.c.snapshot_id
    )
    return {row[0]: (row[1], row[2]) for row in session.execute(query)}


def record_changed(session: Session, account: str, found: Iterable[BufferProfile]) -> list[str]:
    """Snapshot every profile of `found` whose schedules differ from its latest snapshot,
    in one flush; a difference the bridge did not make is told as `schedule.drifted`. The
    ids of the profiles snapshotted, in `found`'s order."""
    latest_of = latest_hashes(session, account)
    stored: list[tuple[str, schedules.Week]] = []
    rows: list[dict[str, Any]] = []
    now = utcnow()
    # a week the bridge keeps has its history from its own changes: Buffer's frozen
    # schedule of that profile is neither its history nor a drift from it
    kept_here = kept_profile_ids(session)
    for profile in found:
        if profile.id in kept_here:
            continue
        try:
            week = schedules.from_buffer(s.to_json() for s in profile.schedules).with_pauses(
                profile.paused_days
            )
        except InvalidSchedule:
            continue  # Buffer sent something we cannot read; keep the raw cache only
        digest = content_hash(week)
        previous = latest_of.get(profile.id)
        if previous is not None and previous[1] == digest:
            continue
        stored.append((profile.id, week))
        rows.append(
            {
                "profile_id": profile.id,
                "schedules": schedules.to_buffer(week.unpaused()),
                "paused_days": list(week.paused_days()),
                "content_hash": digest,
                "reason": models.PERIODIC if previous is None else models.EXTERNAL_CHANGE,
                "job_id": None,
                "taken_at": now,
            }
        )
    table = models.Base.metadata.tables["snapshots"]
    # the first ones need no id back (no event names them): one COPY on PostgreSQL, one
    # batched INSERT elsewhere
    db.insert_rows(session, table, [row for row in rows if row["reason"] == models.PERIODIC])
    for (profile_id, week), row in zip(stored, rows, strict=True):
        previous = latest_of.get(profile_id)
        if previous is None:
            continue
        # drift (rare): its own INSERT, whose id the event names
        snapshot_id = session.execute(table.insert().returning(table.c.id), row).scalar_one()
        before = session.get(models.Snapshot, previous[0])
        if before is not None:
            events.schedule_drifted(
                session, account, profile_id, week_of(before), week, snapshot_id
            )
    return [profile_id for profile_id, _ in stored]


MAX_JOB_ATTEMPTS = 5
# a snapshot waits for Buffer less patiently than a change: the next timer takes another
SNAPSHOT_BACKOFF_MAX = 300.0


def retry_in(outcome: SnapshotOutcome, attempt: int) -> float | None:
    """Seconds until attempt `attempt + 1` of a snapshot that ended with `outcome`, or None
    when it succeeded, failed for good, or has had MAX_JOB_ATTEMPTS attempts."""
    if outcome.error is None and outcome.retry_in is None:
        return None
    retryable = outcome.retry_in is not None or (
        outcome.error is not None and outcome.error.retryable
    )
    if not retryable or attempt >= MAX_JOB_ATTEMPTS:
        return None
    told = getattr(outcome.error, "retry_after", None)  # Buffer's retryAfter: obeyed exactly
    return outcome.retry_in or told or backoff(attempt, SNAPSHOT_BACKOFF_MAX)


def finish_job(services: Services, job_id: int, outcome: SnapshotOutcome) -> float | None:
    """Record a snapshot job's attempt; the seconds until the next one, or None when done."""
    with services.db.session() as session:
        job = _attempted(session, job_id)
        if job is None:
            return None
        if outcome.error is None and outcome.retry_in is None:
            job.succeed(
                {
                    "profiles": outcome.profiles,
                    "changed": outcome.changed,
                    "buffer": {"calls": outcome.buffer_calls},
                }
            )
            return None
        error = outcome.error
        message, status, code = (error.message, error.status, error.code) if error else (None,) * 3
        countdown = retry_in(outcome, job.attempts)
        if countdown is None:
            job.fail(message, status, code)
        else:
            job.retry_at(utcnow() + dt.timedelta(seconds=countdown), message, status, code)
        return countdown


def record_crash(services: Services, job_id: int, error: Exception) -> None:
    """A snapshot attempt raised unexpectedly: leave the job for the reconciler to retry,
    or fail it after the last attempt, so it never stays queued for ever."""
    with services.db.session() as session:
        job = _attempted(session, job_id)
        if job is None:
            return
        message = f"internal error ({type(error).__name__}); see the worker's log"
        if job.attempts < MAX_JOB_ATTEMPTS:
            job.retry_at(utcnow(), message)
        else:
            job.fail(message)


def _attempted(session: Session, job_id: int) -> models.Job | None:
    """The job, with one more attempt started."""
    job = session.get(models.Job, job_id)
    if job is not None:
        job.start()
    return job


def get(session: Session, snapshot_id: int) -> models.Snapshot:
    """The snapshot with `snapshot_id`, or NotFound."""
    snapshot = session.get(models.Snapshot, snapshot_id) if snapshot_id <= models.MAX_ID else None
    if snapshot is None:
        raise NotFound(f"unknown snapshot {snapshot_id}")
    return snapshot


def listing(
    session: Session,
    profile_id: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
    within: Collection[str] | None = None,
) -> list[models.Snapshot]:
    """Snapshots, newest first, optionally of one profile; with `within`, only of those
    profile ids (a caller's scopes), filtered in the query so `limit` counts what is shown."""
    query = select(models.Snapshot).order_by(models.Snapshot.id.desc()).limit(limit)
    if profile_id:
        query = query.where(models.Snapshot.profile_id == profile_id)
    if within is not None:
        query = query.where(models.Snapshot.profile_id.in_(list(within)))
    if before_id:
        query = query.where(models.Snapshot.id < before_id)
    return list(session.scalars(query))


def page(
    services: Services,
    client: models.ApiClient,
    limit: int,
    profile_id: str | None = None,
    before_id: int | None = None,
) -> tuple[list[models.Snapshot], int | None]:
    """The snapshots `client` may see (of one profile), newest first: a page of at most
    `limit`, and the `before` of the next page (None: no more)."""
    with services.db.session() as session:
        found = listing(
            session, profile_id, limit + 1, before_id, auth.visible_ids(session, client)
        )
    shown = found[:limit]
    return shown, shown[-1].id if len(found) > limit and shown else None


def visible(services: Services, client: models.ApiClient, snapshot_id: int) -> dict[str, Any]:
    """A snapshot as JSON with its diff from the one before; NotFound outside the scopes."""
    with services.db.session() as session:
        snapshot = get(session, snapshot_id)
        if not auth.can_see_id(session, client, snapshot.profile_id):
            raise NotFound(f"unknown snapshot {snapshot_id}")
        return to_json(snapshot, previous_of(session, snapshot))


def of_profile(services: Services, profile_id: str, snapshot_id: int) -> models.Snapshot:
    """Snapshot `snapshot_id` of that profile; NotFound for any other profile's."""
    with services.db.session() as session:
        snapshot = get(session, snapshot_id)
    if snapshot.profile_id != profile_id:
        raise NotFound(f"unknown snapshot {snapshot_id}")
    return snapshot


@dataclass
class HistoryEntry:
    """One line of a profile's history: the snapshot, its JSON with the diff from the one
    before, and the job that made it (None: found in Buffer, or first seen)."""

    snapshot: models.Snapshot
    view: dict[str, Any]
    job: models.Job | None


@dataclass
class History:
    """A page of a profile's history, newest first; `next_before` pages on (None: no more)."""

    entries: list[HistoryEntry]
    next_before: int | None


def history(
    services: Services, profile_id: str, count: int, before_id: int | None = None
) -> History:
    """The profile's latest `count` snapshots (older than `before_id`), newest first, each
    with what changed since the one before it."""
    with services.db.session() as session:
        found = listing(session, profile_id, count + 1, before_id)
        entries = []
        for index, snapshot in enumerate(found[:count]):
            previous = found[index + 1] if index + 1 < len(found) else None
            job = session.get(models.Job, snapshot.job_id) if snapshot.job_id else None
            entries.append(HistoryEntry(snapshot, to_json(snapshot, previous), job))
    more = len(found) > count
    return History(entries, entries[-1].snapshot.id if more and entries else None)


def previous_of(session: Session, snapshot: models.Snapshot) -> models.Snapshot | None:
    """The snapshot of the same profile just before `snapshot`."""
    query = (
        select(models.Snapshot)
        .where(
            models.Snapshot.profile_id == snapshot.profile_id,
            models.Snapshot.id < snapshot.id,
        )
        .order_by(models.Snapshot.id.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def restore_target(session: Session, profile_id: str, snapshot_id: int | None) -> models.Snapshot:
    """The snapshot to restore: the one named, or 'previous' (the state before the latest)."""
    if snapshot_id is not None:
        snapshot = get(session, snapshot_id)
        if snapshot.profile_id != profile_id:
            raise NotFound(f"snapshot {snapshot_id} is not of profile {profile_id}")
        return snapshot
    newest = latest(session, profile_id)
    previous = previous_of(session, newest) if newest is not None else None
    if previous is None:
        raise NotFound(f"profile {profile_id} has no earlier snapshot to restore")
    return previous


def _calls(services: Services, account: str) -> int:
    """Buffer calls made so far by this process's clients of `account` (both APIs)."""
    api = services.settings.account_api(account)
    v1 = services.buffer(account).calls if api in ("v1", "both") else 0
    graphql = services.graphql(account).calls if api in ("graphql", "both") else 0
    return v1 + graphql


def week_of(snapshot: models.Snapshot) -> schedules.Week:
    """The schedules a snapshot holds, with its paused days."""
    return schedules.from_buffer(snapshot.schedules).with_pauses(snapshot.paused_days or ())


def to_json(snapshot: models.Snapshot, previous: models.Snapshot | None = None) -> dict[str, Any]:
    """The public view of a snapshot, with its diff from `previous` when given."""
    view: dict[str, Any] = {
        "id": snapshot.id,
        "profile_id": snapshot.profile_id,
        "taken_at": snapshot.taken_at.isoformat(),
        "reason": snapshot.reason,
        "job_id": snapshot.job_id,
        "schedules": snapshot.schedules,
        "paused_days": list(snapshot.paused_days or ()),
        "summary": schedules.summary(week_of(snapshot)),
        "content_hash": snapshot.content_hash,
    }
    if previous is not None or snapshot.reason != models.PERIODIC:
        before = week_of(previous) if previous is not None else schedules.empty_week()
        view["diff"] = schedules.diff(before, week_of(snapshot))
    return view
