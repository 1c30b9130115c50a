"""Jobs: accepted changes and snapshot requests stored before anything is queued, and
their idempotency.

A change is stored before anything is queued; waking a worker is best effort
(the reconciler re-wakes what was not picked up), so nothing accepted is lost.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bridge import auth, logs, models, profiles, schedules
from bridge.errors import Conflict, DatabaseUnavailable, InvalidInput, NotFound
from bridge.posting.models import POST_JOB
from bridge.services import Services

MAX_IDEMPOTENCY_KEY = 255
# an outage while the job was stored: what the 503 says, with and without a key
MAYBE_STORED = (
    "the database is unavailable; the change may have been stored: send changes with an "
    "Idempotency-Key so that a retry stores each at most once"
)
RETRY_WITH_KEY = (
    "the database is unavailable; retry with the same Idempotency-Key: the change is "
    "stored at most once"
)
REREAD_TRIES = 3  # an ambiguous commit: looks for the job stored under its key
REREAD_PAUSE = 0.5
# stored beside the operation in a job's params: a restore's snapshot, and where a
# rotation run came from (the preset, the plan, the instant it was due)
JOB_METADATA = ("snapshot_id", "preset", "plan", "due_at")


@dataclass(frozen=True)
class Provenance:
    """Where a job comes from and what follows it, one value from the adapter that took
    the request down to the row: every field but `context` is a column of the same name
    on `models.Job` (adding one here, to the model, its migration and the schema is the
    whole of adding a field to a job)."""

    source: str  # bridge.sources: rest, zapier, slack, rotation, ...
    idempotency_key: str | None = None
    notify: dict[str, Any] | None = None  # where the outcome is told (a chat's follow-up)
    group_id: str | None = None  # ties the jobs of one preset applied to several profiles
    late_seconds: int | None = None  # how late a rotation run fired
    context: dict[str, Any] | None = None  # JOB_METADATA entries, kept in the job's params

    def columns(self) -> dict[str, Any]:
        """The job columns this provenance fills."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "context"}


def row(
    origin: Provenance,
    client: str | None,
    account: str,
    profile_id: str | None,
    kind: str,
    params: dict[str, Any] | None = None,
) -> models.Job:
    """A new job row: the one place a job is made (changes, posts, snapshots, rotation's
    recorded runs, adopted queues), so every job carries its provenance the same way."""
    return models.Job(
        profile_id=profile_id,
        account=account,
        client=client,
        kind=kind,
        params={**(params or {}), **_metadata(origin)},
        **origin.columns(),
    )


def _metadata(origin: Provenance) -> dict[str, Any]:
    return {k: v for k, v in (origin.context or {}).items() if k in JOB_METADATA}


@dataclass(frozen=True)
class NewJob:
    """A resolved, authorised change about to be stored as a job."""

    profile: models.Profile
    operation: schedules.Operation | None  # None for a post (`post` holds it)
    origin: Provenance
    client: str | None = None
    snapshot_id: int | None = None
    post: dict[str, Any] | None = None  # a post to place (bridge.posting.posts), not a change

    @property
    def idempotency_key(self) -> str | None:
        return self.origin.idempotency_key


def fingerprint(payload: Any) -> str:
    """A stable hash of a request body, to tell a retry from a different request."""
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def check_idempotency_key(key: str | None) -> str | None:
    """Validate an Idempotency-Key (header or field)."""
    if key is None or key == "":
        return None
    if len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise InvalidInput(
            f"must be at most {MAX_IDEMPOTENCY_KEY} printable characters", "Idempotency-Key"
        )
    return key


def _existing(session: Session, client: str | None, key: str) -> models.Job | None:
    """The operation an earlier request with this key created, if any."""
    query = select(models.Job).where(models.Job.client == client, models.Job.idempotency_key == key)
    return session.scalars(query).first()


def _replay(existing: models.Job, request_hash: str) -> models.Job:
    """Return the first job for a repeated key, or refuse a different body under it."""
    if existing.request_hash != request_hash:
        raise Conflict("this Idempotency-Key was already used with a different request")
    return existing


def submit(services: Services, change: NewJob) -> tuple[models.Job, bool]:
    """Store `change` as a queued operation and wake a worker; (job, created)."""
    job, created, _change = store_and_wake(services, lambda _session: change)
    return job, created


def store_and_wake(
    services: Services, build: Callable[[Session], NewJob]
) -> tuple[models.Job, bool, NewJob]:
    """Store the change `build` makes as a queued operation, then wake a worker; (job,
    created, the change built). `build` runs inside the transaction that stores the job,
    so what it looks up (the profile, a restore's snapshot) and the insert share one
    connection and one commit: a change costs one pool checkout instead of one per lookup.

    A key seen before with the same change returns the first job, `created` False;
    Conflict for a key seen with another change. Whatever `build` raises is raised,
    nothing stored."""
    built: list[NewJob] = []
    try:
        return _store_and_wake(services, build, built)
    except DatabaseUnavailable:
        if not built:
            raise  # the outage came before the insert: nothing can have been stored
        # the database may have committed the job and died before saying so: with a key
        # the stored job can be found again, and is the answer; without one the caller
        # is told the change may be stored
        if built[0].idempotency_key is None:
            raise DatabaseUnavailable(MAYBE_STORED) from None
        found = _reread(services, built[0])
        if found is None:
            raise DatabaseUnavailable(RETRY_WITH_KEY) from None
        logs.bind(job_id=found.id)
        services.queue.wake(built[0].profile.id)
        return found, True, built[0]


def _reread(services: Services, change: NewJob) -> models.Job | None:
    """The job stored under `change`'s key, looked for a few times while the database
    comes back (REREAD_TRIES, REREAD_PAUSE apart); None when it is not there or the
    database does not answer. Raises Conflict for a key stored with another change."""
    for attempt in range(REREAD_TRIES):
        if attempt:
            time.sleep(REREAD_PAUSE)
        try:
            with services.db.session() as session:
                existing = _existing(session, change.client, change.idempotency_key or "")
                if existing is None:
                    return None
                return _replay(existing, _request_hash(change, _params(change)))
        except DatabaseUnavailable:
            continue
    return None


def _store_and_wake(
    services: Services, build: Callable[[Session], NewJob], built: list[NewJob]
) -> tuple[models.Job, bool, NewJob]:
    """`store_and_wake` itself; `built` gets the change once `build` made it."""
    try:
        with services.db.session() as session:
            change = build(session)
            built.append(change)
            params = _params(change)
            request_hash = _request_hash(change, params)
            if change.idempotency_key:
                existing = _existing(session, change.client, change.idempotency_key)
                if existing is not None:
                    return _replay(existing, request_hash), False, change
            job = _new_job(change, params, request_hash)
            session.add(job)
    except IntegrityError:
        # two requests with one key raced: the other insert won, answer with its job
        if not built or not built[0].idempotency_key:
            raise
        change = built[0]
        with services.db.session() as session:
            existing = _existing(session, change.client, change.idempotency_key or "")
            if existing is None:
                raise
            return _replay(existing, _request_hash(change, _params(change))), False, change
    logs.bind(job_id=job.id)
    services.queue.wake(change.profile.id)
    return job, True, change


def _params(change: NewJob) -> dict[str, Any]:
    """The job's params: the operation (or the post), a restore's snapshot, where a
    rotation run came from."""
    if change.post is not None:
        return dict(change.post)
    assert change.operation is not None
    params = change.operation.to_json()
    if change.snapshot_id is not None:
        params["snapshot_id"] = change.snapshot_id
    return {**params, **_metadata(change.origin)}


def _request_hash(change: NewJob, params: dict[str, Any]) -> str:
    """What tells a retry of `change` (with its `params`) under its Idempotency-Key from
    another change."""
    return fingerprint({"profile": change.profile.id, "operation": params})


def _new_job(change: NewJob, params: dict[str, Any], request_hash: str) -> models.Job:
    """The queued job row for `change`."""
    job = row(
        change.origin, change.client, change.profile.account, change.profile.id, _kind(change)
    )
    job.params, job.request_hash, job.status = params, request_hash, models.QUEUED
    return job


def _kind(change: NewJob) -> str:
    """A job's kind: `post`, `restore`, or the operation's own (replace, set, ...)."""
    if change.post is not None:
        return POST_JOB
    if change.snapshot_id is not None:
        return "restore"
    assert change.operation is not None
    return change.operation.kind


def submit_snapshot(
    services: Services, account: str, client: str | None, origin: Provenance
) -> models.Job:
    """Store a snapshot request for `account` as a job and queue it."""
    with services.db.session() as session:
        session.add(job := row(origin, client, account, None, "snapshot"))
    from bridge.queue import SNAPSHOT_ACCOUNT

    services.queue.send(SNAPSHOT_ACCOUNT, account, job.id)
    return job


def operation_of(job: models.Job) -> schedules.Operation:
    """The schedule operation a job carries (its params minus bookkeeping like snapshot_id)."""
    params = {k: v for k, v in job.params.items() if k not in JOB_METADATA}
    return schedules.Operation.from_json(params)


def get(session: Session, job_id: int) -> models.Job:
    """The job with `job_id`, or NotFound."""
    job = session.get(models.Job, job_id) if job_id <= models.MAX_ID else None
    if job is None:
        raise NotFound(f"unknown job {job_id}")
    return job


@dataclass(frozen=True)
class JobFilter:
    """What a job list may be narrowed to (REST's /v1/jobs and the dashboard's jobs page)."""

    profile_id: str | None = None
    status: str | None = None
    source: str | None = None
    group: str | None = None
    before: int | None = None  # ids below this one: the next page


@dataclass
class JobPage:
    """One page of jobs, newest first; `next_before` pages on (None: no more), `labels`
    names the jobs' profiles (id → `service:handle`)."""

    jobs: list[models.Job]
    next_before: int | None
    labels: dict[str, str]


def page(services: Services, client: models.ApiClient, wanted: JobFilter, limit: int) -> JobPage:
    """The jobs `client` may see that match `wanted`, newest first, at most `limit`."""
    job = models.Job
    query = select(job).order_by(job.id.desc())
    for column, value in (
        (job.profile_id, wanted.profile_id),
        (job.status, wanted.status),
        (job.source, wanted.source),
        (job.group_id, wanted.group),
    ):
        if value:
            query = query.where(column == value)
    if wanted.before:
        query = query.where(job.id < wanted.before)
    with services.db.session() as session:
        within = auth.visible_ids(session, client)
        if within is not None:  # in the query, before the limit: a page is never short
            query = query.where(job.profile_id.in_(within))
        found = list(session.scalars(query.limit(limit + 1)))
        shown = found[:limit]
        labels = _labels(session, shown)
    more = len(found) > limit
    return JobPage(shown, shown[-1].id if more and shown else None, labels)


def visible(services: Services, client: models.ApiClient, job_ids: list[int]) -> JobPage:
    """The jobs of `job_ids` that `client` may see (others are left out, as unknown)."""
    with services.db.session() as session:
        found = [
            job
            for job_id in job_ids
            if job_id <= models.MAX_ID
            and (job := session.get(models.Job, job_id)) is not None
            and auth.can_see_id(session, client, job.profile_id)
        ]
        return JobPage(found, None, _labels(session, found))


def visible_one(services: Services, client: models.ApiClient, job_id: int) -> JobPage:
    """A page of the one job `job_id`; NotFound when it is unknown or outside the scopes."""
    found = visible(services, client, [job_id])
    if not found.jobs:
        raise NotFound(f"unknown job {job_id}")
    return found


def _labels(session: Session, found: list[models.Job]) -> dict[str, str]:
    ids = {job.profile_id for job in found if job.profile_id}
    return {
        profile.id: profiles.label(profile)
        for profile_id in ids
        if (profile := session.get(models.Profile, profile_id)) is not None
    }
