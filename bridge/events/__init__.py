"""Outbound events: what happened, written to the outbox in the transaction that made it so.

Whoever records an outcome (a sync finishing jobs, a snapshot finding drift) calls one of
the builders here with its own session: the event row and one delivery row per matching
subscription are added to that transaction, so they commit or roll back with the outcome
itself (the transactional outbox). Their delivery ids are noted in `session.info`; the
store wakes a sender for each after the commit (`Database.after_commit`), and the
reconciler re-sends any left pending (a lost task, a flushed Redis, a killed worker).

Every event carries `id` (`evt_...`, also the `webhook-id` of every attempt to send it,
so a receiver can tell a repeat), `type`, `timestamp`, `account`, `profile` (`id`,
`label`), a per-profile `sequence` and `data`, whose flat fields (`profile_id`,
`profile_label`, `summary`, `diff_text`) sit beside the nested ones, so a Zap maps them
without code.

Ordering: events of one profile carry `sequence`, 1, 2, 3, ... in the order their
transactions committed (the counter is bumped with an UPDATE on the profile's row,
whose lock orders concurrent transactions). Deliveries are sent as soon as possible and
retried independently, so a receiver may see N+1 before a retried N: it keeps the
highest sequence it applied per profile and ignores older ones (each schedule event
carries the whole `after` state, so nothing is lost by skipping a stale one).
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bridge import auth, models, outcome, profiles, schedules
from bridge.db import OUTBOX
from bridge.models import utcnow
from bridge.services import Services

JOB_SUCCEEDED = "job.succeeded"
JOB_FAILED = "job.failed"
SCHEDULE_CHANGED = "schedule.changed"
SCHEDULE_DRIFTED = "schedule.drifted"
ACCOUNT_DEGRADED = "account.degraded"
ROTATION_FIRED = "rotation.fired"  # emitted by the rotation timer (issue 11) via rotation_fired
PING = "ping"  # only to one subscription, from POST /v1/subscriptions/<id>/test
# posts the bridge places on a kept week (bridge.posting): placed, moved, or refused
POST_SCHEDULED = "post.scheduled"
POST_MOVED = "post.moved"
POST_FAILED = "post.failed"
TYPES = (
    JOB_SUCCEEDED,
    JOB_FAILED,
    SCHEDULE_CHANGED,
    SCHEDULE_DRIFTED,
    ACCOUNT_DEGRADED,
    ROTATION_FIRED,
    POST_SCHEDULED,
    POST_MOVED,
    POST_FAILED,
)
EVERY = "*"

DEGRADED_QUIET = dt.timedelta(hours=1)  # one account.degraded per account and reason per hour


def new_uid() -> str:
    """`evt_` + 24 hex digits: unguessable, unique."""
    return "evt_" + secrets.token_hex(12)


def emit(
    session: Session,
    type_: str,
    account: str | None,
    profile_id: str | None,
    data: dict[str, Any],
    only: models.EventSubscription | None = None,
) -> models.Event:
    """Store an event and its deliveries in `session`'s transaction; returns the event.

    Delivered to every enabled subscription wanting `type_` whose client may see the
    profile (account-wide events only to clients and subscriptions of every profile), or
    to `only`."""
    profile = session.get(models.Profile, profile_id) if profile_id else None
    label = profiles.label(profile) if profile is not None else None
    now = utcnow()
    sequence = _next_sequence(session, profile_id) if profile is not None else None
    uid = new_uid()
    flat = {
        "account": account,
        "profile_id": profile_id,
        "profile_label": label or "",
        "summary": "",
        "diff_text": "",
    }
    payload = {
        "id": uid,
        "type": type_,
        "timestamp": now.isoformat(),
        "account": account,
        "profile": {"id": profile_id, "label": label} if profile_id else None,
        "sequence": sequence,
        "data": {**flat, **data},
    }
    event = models.Event(
        uid=uid,
        type=type_,
        account=account,
        profile_id=profile_id,
        sequence=sequence,
        payload=payload,
        created_at=now,
    )
    session.add(event)
    session.flush()
    targets = [only] if only is not None else _subscribers(session, type_, account, profile)
    deliveries = [
        models.EventDelivery(
            event_id=event.id,
            subscription_id=target.id,
            profile_id=profile_id,
            status=models.DELIVERY_PENDING,
            next_attempt_at=now,
            created_at=now,
        )
        for target in targets
    ]
    if deliveries:
        session.add_all(deliveries)
        session.flush()
        session.info.setdefault(OUTBOX, []).extend(d.id for d in deliveries)
    return event


def _next_sequence(session: Session, profile_id: str | None) -> int | None:
    """The profile's next event number, counted on its row (the row lock orders writers)."""
    profile = models.Profile
    bumped = (
        update(profile)
        .where(profile.id == profile_id)
        .values(event_sequence=func.coalesce(profile.event_sequence, 0) + 1)
        .returning(profile.event_sequence)
        .execution_options(synchronize_session=False)
    )
    return session.execute(bumped).scalar_one_or_none()


def _subscribers(
    session: Session, type_: str, account: str | None, profile: models.Profile | None
) -> list[models.EventSubscription]:
    """Enabled subscriptions of live clients that want `type_` and may see `profile`."""
    sub, client = models.EventSubscription, models.ApiClient
    query = (
        select(sub, client)
        .join(client, client.id == sub.client_id)
        .where(sub.enabled.is_(True), sub.deleted_at.is_(None), client.revoked_at.is_(None))
        .order_by(sub.id)
    )
    found = []
    for subscription, owner in session.execute(query):
        wanted = subscription.events or []
        if type_ not in wanted and EVERY not in wanted:
            continue
        if profile is None:
            if owner.profiles is not None or subscription.profiles is not None:
                continue  # an account-wide event: only for whoever sees every profile
        elif not auth.can_see(owner, profile) or (
            subscription.profiles is not None and profile.id not in subscription.profiles
        ):
            continue
        found.append(subscription)
    return found


# -- the events


def _schedule_fields(before: list[Any], after: list[Any], diff: dict[str, Any]) -> dict[str, Any]:
    after_week = schedules.from_buffer(after)
    return {
        "before": before,
        "after": after,
        "diff": diff,
        "summary": schedules.summary(after_week),
        "diff_text": schedules.describe_diff(diff),
    }


def job_finished(session: Session, job: models.Job) -> None:
    """job.succeeded (and schedule.changed when it changed the schedules) or job.failed,
    for a job just finished in `session`."""
    profile = session.get(models.Profile, job.profile_id) if job.profile_id else None
    name = profiles.label(profile) if profile is not None else None  # not the raw id
    if job.status == models.SUCCEEDED:
        result = job.result or {}
        base = {"job_id": job.id, "source": job.source, "action": job.kind}
        changed = bool(result.get("diff"))
        fields: dict[str, Any] = {}
        if "after" in result:
            fields = _schedule_fields(result["before"], result["after"], result.get("diff") or {})
        emit(
            session,
            JOB_SUCCEEDED,
            job.account,
            job.profile_id,
            {**base, **fields, "changed": changed, "message": outcome.describe(job, name)},
        )
        if changed:
            emit(session, SCHEDULE_CHANGED, job.account, job.profile_id, {**base, **fields})
    elif job.status == models.FAILED:
        error = outcome.explain_error(job)
        emit(
            session,
            JOB_FAILED,
            job.account,
            job.profile_id,
            {
                "job_id": job.id,
                "source": job.source,
                "action": job.kind,
                "error": error,
                "error_status": job.error_status,
                "error_code": job.error_code,
                "error_message": job.error_message,
                "summary": f"job {job.id} failed: {error}",
            },
        )


def schedule_drifted(
    session: Session,
    account: str,
    profile_id: str,
    before: schedules.Week,
    after: schedules.Week,
    snapshot_id: int,
) -> None:
    """A snapshot found schedules the bridge did not write (someone used Buffer itself)."""
    diff = schedules.diff(before, after)
    fields = _schedule_fields(
        schedules.to_buffer(before.unpaused()), schedules.to_buffer(after.unpaused()), diff
    )
    emit(
        session,
        SCHEDULE_DRIFTED,
        account,
        profile_id,
        {
            **fields,
            "snapshot_id": snapshot_id,
            "source": "buffer",
            # Buffer does not say who: only that the change was not made through the bridge
            "changed_by": "someone in Buffer (not through the bridge)",
        },
    )


def account_degraded(
    session: Session, account: str, reason: str, status: int | None = None
) -> models.Event | None:
    """Buffer refused the account's token (401) or the account lost its writes; at most one
    per account and reason per DEGRADED_QUIET (None when one was sent recently)."""
    since = utcnow() - DEGRADED_QUIET
    query = select(models.Event).where(
        models.Event.type == ACCOUNT_DEGRADED,
        models.Event.account == account,
        models.Event.created_at > since,
    )
    for recent in session.scalars(query):
        if recent.payload.get("data", {}).get("reason") == reason:
            return None
    return emit(
        session,
        ACCOUNT_DEGRADED,
        account,
        None,
        {"reason": reason, "status": status, "summary": f"account {account}: {reason}"},
    )


def rotation_fired(
    session: Session,
    account: str,
    profile_id: str,
    rotation: dict[str, Any],
    job_id: int | None,
    summary: str,
) -> models.Event:
    """A rotation plan fired for a profile (called by the rotation timer in its transaction):
    `rotation` names the plan and preset, `job_id` the change it queued."""
    return emit(
        session,
        ROTATION_FIRED,
        account,
        profile_id,
        {"rotation": rotation, "job_id": job_id, "summary": summary, "source": "rotation"},
    )


def post_event(
    session: Session, type_: str, account: str, profile_id: str, data: dict[str, Any]
) -> None:
    """post.scheduled, post.moved or post.failed: `data` holds the post's id, due_at (in
    the profile's timezone), slot, text excerpt and, for a failure, the error."""
    when = data.get("due_at") or "no time"
    words = {POST_SCHEDULED: "post scheduled", POST_MOVED: "post moved", POST_FAILED: "post failed"}
    summary = f"{words[type_]} for {when}: {data.get('excerpt', '')}"
    emit(session, type_, account, profile_id, {**data, "summary": summary})


def ping(session: Session, subscription: models.EventSubscription) -> models.Event:
    """A test event for one subscription."""
    return emit(
        session,
        PING,
        None,
        None,
        {"subscription_id": subscription.id, "summary": "ping from buffer-bridge"},
        only=subscription,
    )


def text(payload: dict[str, Any]) -> str:
    """An event as one or two readable lines (for Slack)."""
    data = payload.get("data", {})
    who = data.get("profile_label") or data.get("account") or "buffer-bridge"
    line = f"*{payload.get('type')}* {who}: {data.get('summary') or ''}".rstrip(": ")
    diff = data.get("diff_text")
    if payload.get("type") == JOB_FAILED:
        return line
    return f"{line}\nchanged: {diff}" if diff and diff != "no change" else line


def example(type_: str) -> dict[str, Any]:
    """A made-up event of `type_` in the shape subscribers get (Zapier's sample)."""
    diff = {"mon": {"before": ["09:00"], "after": ["09:00", "17:00"], "added": ["17:00"]}}
    return {
        "id": "evt_000000000000000000000000",
        "type": type_,
        "timestamp": "2026-12-09T09:00:00+00:00",
        "account": "default",
        "profile": {"id": "4eb854340acb04e870000010", "label": "twitter:brand"},
        "sequence": 1,
        "data": {
            "account": "default",
            "profile_id": "4eb854340acb04e870000010",
            "profile_label": "twitter:brand",
            "summary": "mon 09:00 17:00",
            "diff_text": schedules.describe_diff(diff),
            "before": [{"days": ["mon"], "times": ["09:00"]}],
            "after": [{"days": ["mon"], "times": ["09:00", "17:00"]}],
            "diff": diff,
            "example": True,
        },
    }


def recent(
    services: Services, client: models.ApiClient, type_: str | None, limit: int
) -> list[dict[str, Any]]:
    """The newest events `client` may see (of `type_`), newest first, as subscribers get
    them."""
    query = select(models.Event).order_by(models.Event.id.desc())
    if type_:
        query = query.where(models.Event.type == type_)
    query = query.where(models.Event.type != PING)
    if client.profiles is not None:
        query = query.where(models.Event.profile_id.in_(list(client.profiles)))
    with services.db.session() as session:
        return [event.payload for event in session.scalars(query.limit(limit))]
