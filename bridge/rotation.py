"""Rotation plans: presets on a timetable, fired by beat through the normal pipeline.

A plan names profiles (or every profile of a service, resolved when the plan is saved)
and steps (`bridge.timetable`). Each profile is a target row with `done_until` (every
step up to that instant is dealt with) and `next_run_at` (the first step after it), in
UTC. A tick:

1. claims due targets: on PostgreSQL `SELECT ... FOR UPDATE SKIP LOCKED`, on SQLite a
   conditional UPDATE; either way the claim is a lease (`claimed_until`, a token) held
   while firing, so two beats, or a beat and "run now", never fire one target at once;
2. fires the latest due step only (after downtime, never a burst of stale ones), as a
   job with source `rotation`, its `late_seconds`, and an idempotency key naming the
   target and the instant, so a tick that dies after storing the job and before
   advancing cannot store it twice;
3. advances `done_until` to now and `next_run_at` to the next step, and drops the lease.

Runs act as the plan's creator (`principal`): a client's scopes and read-only flag are
checked on every run, and a revoked creator fails the runs saying so. Plans made with
the CLI act as the operator (`SYSTEM`, every profile).

A target's run that cannot happen (the profile left Buffer, the account cannot write,
a preset was deleted) is a failed job saying why; the other targets go on.

Past 400 lines on purpose: plans, claiming and firing share the target row's contract
(`done_until`, `next_run_at`, the lease) and are tested together in
tests/test_rotation*.py; the pure time arithmetic is its own module (timetable.py).
A natural next split is `plans` (save, preview, views) from `firing` (claim, fire, revert).
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from bridge import (
    auth,
    changes,
    events,
    jobs,
    metrics,
    models,
    presets,
    profiles,
    schedules,
    timetable,
)
from bridge.errors import (
    BridgeError,
    Conflict,
    DatabaseUnavailable,
    Forbidden,
    InvalidInput,
    NotFound,
)
from bridge.services import Services

log = logging.getLogger(__name__)
SYSTEM = "rotation"  # the principal of plans made by an operator (CLI)
LEASE = dt.timedelta(minutes=5)
MAX_PREVIEW = 50
TICK_LIMIT = 200


@dataclass
class TickReport:
    """What one tick (or run now) did: targets fired (job ids), late, skipped, failed;
    and, per target, why runs were skipped (`skips`) or failed (`failures`): dicts of
    profile_id, profile (its label), count (skips), reason and job_id (or None)."""

    fired: list[int] = field(default_factory=list)
    late: int = 0
    skipped: int = 0
    failed: int = 0
    skips: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)

    def skip(self, who: tuple[str, str], count: int, reason: str, job_id: int | None) -> None:
        """`count` runs of profile `who` (id, label) skipped, saying why."""
        self.skipped += count
        note = {"profile_id": who[0], "profile": who[1], "count": count, "reason": reason}
        self.skips.append({**note, "job_id": job_id})

    def fail(self, who: tuple[str, str], reason: str, job_id: int | None) -> None:
        """A run of profile `who` (id, label) failed, saying why."""
        self.failed += 1
        note = {"profile_id": who[0], "profile": who[1], "reason": reason, "job_id": job_id}
        self.failures.append(note)


# --- plans ---------------------------------------------------------------------------------


def get(session: Session, name: str, client: models.ApiClient | None = None) -> models.RotationPlan:
    """The plan `name`; NotFound when unknown or (for `client`) outside its scopes."""
    plan = session.scalars(
        select(models.RotationPlan).where(models.RotationPlan.name == name)
    ).first()
    if plan is None or (client is not None and not visible(session, client, plan)):
        raise NotFound(f"unknown rotation plan {name!r}")
    return plan


def visible(session: Session, client: models.ApiClient, plan: models.RotationPlan) -> bool:
    """A client sees a plan when it sees every profile of it (a scoped client's own plans
    are always within its scopes)."""
    if client.profiles is None:
        return True
    return all(auth.can_see_id(session, client, t.profile_id) for t in plan.targets)


def listing(session: Session, client: models.ApiClient | None = None) -> list[models.RotationPlan]:
    """Every plan `client` may see, by name."""
    plans = session.scalars(select(models.RotationPlan).order_by(models.RotationPlan.name))
    return [p for p in plans if client is None or visible(session, client, p)]


def _check_presets(
    session: Session, steps: Sequence[timetable.Step], principal: models.ApiClient
) -> None:
    """InvalidInput naming the step for a preset the plan's principal may not use: the
    runs look presets up as it (bridge/presets.py), so another client's is "unknown"."""
    for index, step in enumerate(steps):
        for name in step.presets:
            try:
                presets.get(session, name, principal)
            except NotFound:
                key = "presets" if step.kind == "rotate" else "preset"
                raise InvalidInput(f"unknown preset {name!r}", f"steps.{index}.{key}") from None


def save(
    services: Services,
    client: models.ApiClient | None,
    name: str,
    body: dict[str, Any],
    create: bool,
) -> models.RotationPlan:
    """Create plan `name` (or change it: `body` holds what changes) from `profiles` or
    `service`, and `steps`. `client` None is the operator.

    Raises InvalidInput naming the field, Conflict (a name in use), NotFound (a profile
    outside the client's scopes), Forbidden (a read-only client)."""
    principal = client or system_client()
    auth.check_write(principal)
    timetable.check_name(name)
    with services.db.session() as session:
        existing = session.scalars(
            select(models.RotationPlan).where(models.RotationPlan.name == name)
        ).first()
    if create and existing is not None:
        raise Conflict(f"a rotation plan named {name!r} already exists")
    if not create:
        with services.db.session() as session:
            get(session, name, client)
    steps_raw = body.get("steps", existing.steps if existing is not None else None)
    steps = timetable.parse_steps(steps_raw)
    with services.db.session() as session:
        # as the runs will look them up: as the plan's creator (another client may edit it)
        runner = principal if existing is None else _runner(session, existing)
        _check_presets(session, steps, runner)
    if "profiles" in body or "service" in body or existing is None:
        refs, service = body.get("profiles"), body.get("service")
        chosen = presets.targets(services, principal, refs, service)
    else:
        refs, service, chosen = existing.profiles, existing.service, None
    now = models.utcnow()
    with services.db.session() as session:
        plan = session.scalars(
            select(models.RotationPlan).where(models.RotationPlan.name == name)
        ).first()
        if plan is None:
            plan = models.RotationPlan(name=name, client=client.name if client else None)
            session.add(plan)
        plan.steps = [s.to_json() for s in steps]
        plan.profiles, plan.service = list(refs or []), service
        plan.updated_at = now
        if chosen is not None:
            keep = {t.profile_id: t for t in plan.targets}
            plan.targets = [
                keep.get(p.id)
                or models.RotationTarget(profile_id=p.id, done_until=now, overrides={})
                for p in chosen
            ]
        session.flush()
        for target in plan.targets:
            target.next_run_at = _next_run(session, steps, target, target.done_until)
    return plan


def _runner(session: Session, plan: models.RotationPlan) -> models.ApiClient:
    """Who `plan`'s runs act as (`principal`; the name is a local in `save`)."""
    return principal(session, plan)


def _next_run(
    session: Session,
    steps: Sequence[timetable.Step],
    target: models.RotationTarget,
    after: dt.datetime,
) -> dt.datetime | None:
    occurrence = timetable.next_after(steps, _zone(session, target.profile_id), after)
    return occurrence.at if occurrence is not None else None


def _zone(session: Session, profile_id: str) -> Any:
    """The zone a target's runs are timed in: UTC when Buffer's is none or not a zone
    (`_zone_problem` says so, and those runs fail saying why)."""
    profile = session.get(models.Profile, profile_id)
    return timetable.zone(profile.timezone if profile is not None else None)


def _zone_problem(session: Session, profile_id: str) -> str | None:
    """Why a profile's local times cannot be placed (a timezone that is not an IANA
    zone), or None."""
    profile = session.get(models.Profile, profile_id)
    try:
        timetable.profile_zone(profile.timezone if profile is not None else None)
    except InvalidInput as bad:
        return bad.message
    return None


def delete(services: Services, client: models.ApiClient | None, name: str) -> None:
    """Delete a plan and its targets (jobs already made stay)."""
    auth.check_write(client or system_client())
    with services.db.session() as session:
        session.delete(get(session, name, client))


def set_paused(
    services: Services, client: models.ApiClient | None, name: str, paused: bool
) -> models.RotationPlan:
    """Pause or resume a plan. Steps that fall while paused never fire: resuming starts
    from now (it does not catch up)."""
    auth.check_write(client or system_client())
    now = models.utcnow()
    with services.db.session() as session:
        plan = get(session, name, client)
        if plan.paused and not paused:
            steps = timetable.parse_steps(plan.steps)
            for target in plan.targets:
                target.done_until = now
                target.next_run_at = _next_run(session, steps, target, now)
        plan.paused = paused
        plan.updated_at = now
    return plan


def preview(
    services: Services,
    client: models.ApiClient | None,
    name: str,
    count: int = 5,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The next `count` runs of plan `name` per profile, in local time and UTC."""
    if not 1 <= count <= MAX_PREVIEW:
        raise InvalidInput(f"between 1 and {MAX_PREVIEW}", "count")
    now = now or models.utcnow()
    with services.db.session() as session:
        plan = get(session, name, client)
        steps = timetable.parse_steps(plan.steps)
        shown = []
        for target in plan.targets:
            profile = session.get(models.Profile, target.profile_id)
            tz = timetable.zone(profile.timezone if profile is not None else None)
            problem = _zone_problem(session, target.profile_id)
            runs = itertools.islice(
                timetable.upcoming(steps, tz, max(now, target.done_until)),
                0 if problem else count,  # its runs fail: none is shown as coming
            )
            shown.append(
                {
                    "profile_id": target.profile_id,
                    "profile": profiles.label(profile) if profile is not None else None,
                    "timezone": profile.timezone if problem and profile else tz.key,
                    "error": problem,
                    "next_run_at": target.next_run_at,
                    "last_run_at": target.last_run_at,
                    "last_job_id": target.last_job_id,
                    "last_error": target.last_error,
                    "runs": [_run_view(o, tz) for o in runs],
                }
            )
        return {"name": plan.name, "paused": plan.paused, "targets": shown}


def _run_view(occurrence: timetable.Occurrence, tz: Any) -> dict[str, Any]:
    local = occurrence.at.astimezone(tz)
    return {
        "at": occurrence.at.isoformat(),
        "local": local.isoformat(),
        "local_text": local.strftime("%a %Y-%m-%d %H:%M %Z"),
        "step": occurrence.step,
        "action": occurrence.action,
        "preset": occurrence.preset,
    }


def to_json(session: Session, plan: models.RotationPlan) -> dict[str, Any]:
    """The public view of a plan and its targets."""
    return {
        "name": plan.name,
        "client": plan.client,
        "profiles": plan.profiles,
        "service": plan.service,
        "steps": plan.steps,
        "paused": plan.paused,
        "created_at": plan.created_at.isoformat(),
        "updated_at": plan.updated_at.isoformat(),
        "targets": [
            {
                "profile_id": t.profile_id,
                "profile": _label(session, t.profile_id),
                "next_run_at": t.next_run_at.isoformat() if t.next_run_at else None,
                "last_run_at": t.last_run_at.isoformat() if t.last_run_at else None,
                "last_job_id": t.last_job_id,
                "last_error": t.last_error,
            }
            for t in plan.targets
        ],
    }


def _label(session: Session, profile_id: str) -> str | None:
    profile = session.get(models.Profile, profile_id)
    return profiles.label(profile) if profile is not None else None


# --- principals ---------------------------------------------------------------------------


def system_client() -> models.ApiClient:
    """The operator's principal (never stored): every profile, may write."""
    return models.ApiClient(name=SYSTEM, profiles=None, read_only=False)


def principal(session: Session, plan: models.RotationPlan) -> models.ApiClient:
    """Who a plan's runs act as: its creator as it is now (scopes, read-only), or the
    operator. Forbidden when the creator was revoked or removed."""
    if plan.client is None:
        return system_client()
    client = session.scalars(
        select(models.ApiClient).where(models.ApiClient.name == plan.client)
    ).first()
    if client is None or client.revoked:
        raise Forbidden(f"the plan's creator, client {plan.client!r}, was revoked or removed")
    return client


# --- claiming and firing -----------------------------------------------------------------


def tick(services: Services, now: dt.datetime | None = None) -> TickReport:
    """Fire every due target of every running plan once; see the module's docstring."""
    now = now or models.utcnow()
    report = TickReport()
    for target_id, token in claim(services, now):
        _fire_alone(services, target_id, token, now, report)
    return report


def _fire_alone(
    services: Services,
    target_id: int,
    token: str,
    now: dt.datetime,
    report: TickReport,
    forced: bool = False,
    ahead: bool = True,
) -> None:
    """`fire`, with one target's unexpected error kept to it: logged, counted as a failed
    run saying so, and its lease dropped so the next tick tries it again; the other
    targets and plans go on. Our database down is the exception: the tick stops (beat
    skips its turn, tasks/outage.py) and the leases lapse."""
    try:
        fire(services, target_id, token, now, report, forced=forced, ahead=ahead)
    except DatabaseUnavailable:
        raise
    except Exception as error:
        log.exception("rotation target %s: the run stopped on an unexpected error", target_id)
        who = _release(services, target_id, token)
        report.fail(who, f"the run stopped on an unexpected error ({type(error).__name__})", None)


def _release(services: Services, target_id: int, token: str) -> tuple[str, str]:
    """Drop a lease this caller holds; (profile id, label) of the target."""
    with services.db.session() as session:
        target = session.get(models.RotationTarget, target_id)
        if target is None:
            return str(target_id), str(target_id)
        if target.claim_token == token:
            target.claimed_until, target.claim_token = None, None
        return target.profile_id, _label(session, target.profile_id) or target.profile_id


def _due(now: dt.datetime) -> Any:
    target = models.RotationTarget
    return (
        select(target.id)
        .join(models.RotationPlan, models.RotationPlan.id == target.plan_id)
        .where(
            target.next_run_at.is_not(None),
            target.next_run_at <= now,
            models.RotationPlan.paused.is_(False),
            or_(target.claimed_until.is_(None), target.claimed_until < now),
        )
        .order_by(target.next_run_at)
        .limit(TICK_LIMIT)
    )


def claim(services: Services, now: dt.datetime, only: int | None = None) -> list[tuple[int, str]]:
    """Lease the due targets (or target `only`, due or not) to this caller: [(id, token)]."""
    target = models.RotationTarget
    token = str(uuid.uuid4())
    lease = {"claimed_until": now + LEASE, "claim_token": token}
    postgres = services.db.engine.dialect.name == "postgresql"
    with services.db.session() as session:
        if only is not None:
            query = select(target.id).where(
                target.id == only, or_(target.claimed_until.is_(None), target.claimed_until < now)
            )
        else:
            query = _due(now)
        if postgres:  # rows another tick holds are skipped, not waited for
            ids = list(session.scalars(query.with_for_update(skip_locked=True, of=target)))
            if ids:
                session.execute(update(target).where(target.id.in_(ids)).values(**lease))
            return [(i, token) for i in ids]
        ids = list(session.scalars(query))
    claimed = []
    for target_id in ids:  # SQLite: one conditional UPDATE each; rowcount says who won
        with services.db.session() as session:
            result = session.execute(
                update(target)
                .where(
                    target.id == target_id,
                    or_(target.claimed_until.is_(None), target.claimed_until < now),
                )
                .values(**lease)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append((target_id, token))
    return claimed


START = ("now", "next")  # on creating or resuming a plan: apply what holds now, or wait


def run_now(
    services: Services, client: models.ApiClient | None, name: str, ahead: bool = True
) -> TickReport:
    """Fire plan `name` now on every profile: the step in effect now (the latest due,
    however long ago; the first to come when none has, unless `ahead` is False),
    whatever `next_run_at` says."""
    auth.check_write(client or system_client())
    now = models.utcnow()
    with services.db.session() as session:
        plan = get(session, name, client)
        ids = [
            (t.id, (t.profile_id, _label(session, t.profile_id) or t.profile_id))
            for t in plan.targets
        ]
    report = TickReport()
    for target_id, who in ids:
        claimed = claim(services, now, only=target_id)
        if not claimed:
            reason = "a run of this profile is under way (beat or another run now): not fired twice"
            report.skip(who, 1, reason, None)
        for held, token in claimed:
            _fire_alone(services, held, token, now, report, forced=True, ahead=ahead)
    return report


def begin(
    services: Services, client: models.ApiClient | None, name: str, start: str = "now"
) -> TickReport | None:
    """After creating or resuming plan `name`: with `start` "now", apply the step in
    effect now on every profile (one run, as run now, but nothing when no step has
    fallen due yet: a step to come is left to its time); "next" leaves everything to the
    steps to come (None). InvalidInput for another `start`."""
    if start not in START:
        raise InvalidInput("now (apply the step in effect now) or next (wait for it)", "start")
    if start == "next":
        return None
    return run_now(services, client, name, ahead=False)


def resume(
    services: Services, client: models.ApiClient | None, name: str, start: str = "now"
) -> TickReport | None:
    """Resume a paused plan from now, and `begin` it (`start`); a running plan is left as
    it is (None)."""
    if start not in START:
        raise InvalidInput("now (apply the step in effect now) or next (wait for it)", "start")
    with services.db.session() as session:
        was_paused = get(session, name, client).paused
    set_paused(services, client, name, False)
    return begin(services, client, name, start) if was_paused else None


def fire(
    services: Services,
    target_id: int,
    token: str,
    now: dt.datetime,
    report: TickReport,
    forced: bool = False,
    ahead: bool = True,
) -> None:
    """Fire one claimed target's latest due step, then advance it and drop the lease.
    `forced` (run now): the step in effect now, or with `ahead` the first to come."""
    with services.db.session() as session:
        target = session.get(models.RotationTarget, target_id)
        if target is None or target.claim_token != token:
            return
        plan = target.plan
        steps = timetable.parse_steps(plan.steps)
        tz = _zone(session, target.profile_id)
        problem = _zone_problem(session, target.profile_id)
        who = (target.profile_id, _label(session, target.profile_id) or target.profile_id)
        after = now - timetable.HORIZON if forced else target.done_until
        # run now fires what is in effect and supersedes nothing: no counting
        occurrence, superseded = timetable.latest_due(steps, tz, after, now, count=not forced)
        if occurrence is None and forced and ahead:
            occurrence = timetable.next_after(steps, tz, now)
        plan_name, overrides = plan.name, dict(target.overrides or {})
        # ids may be reused after a delete (SQLite): the plan's birth keeps keys apart
        born = f"{plan.id}.{plan.created_at.timestamp():.6f}"
    job: models.Job | None = None
    error: str | None = None
    outcome = "none"
    if occurrence is not None:
        late = 0 if forced else max(int((now - occurrence.at).total_seconds()), 0)
        key = f"rotation:{born}:{target_id}:{occurrence.at.isoformat()}"
        if forced:
            key += f":now:{now.timestamp():.0f}"
        context = {"plan": plan_name, "due_at": occurrence.at.isoformat()}
        job, error, outcome = _run(
            services, target_id, plan_name, occurrence, overrides, late, key, context, problem
        )
        metrics.count_rotation(outcome)
        if outcome != "failed" and late > services.settings.rotation_late_after:
            metrics.count_rotation("late")
            report.late += 1
        if superseded.count:
            report.skip(who, superseded.count, _superseded_reason(superseded, occurrence), None)
        for _ in range(superseded.count):
            metrics.count_rotation("skipped")
        job_id = job.id if job is not None else None
        if outcome == "failed":
            report.fail(who, error or "the run failed", job_id)
        elif outcome == "skipped":
            reason = (job.result or {}).get("reason") if job is not None else None
            report.skip(who, 1, reason or "nothing to do", job_id)
        if job is not None:
            report.fired.append(job.id)
    elif forced and ahead:
        reason = f"no step of the plan falls within {timetable.HORIZON.days} days: nothing to apply"
        report.skip(who, 1, reason, None)
    elif forced:
        reason = (
            "no step has fallen due yet: nothing is in effect, the first step fires at its time"
        )
        report.skip(who, 1, reason, None)
    with services.db.session() as session:
        target = session.get(models.RotationTarget, target_id)
        if target is None or target.claim_token != token:
            return
        target.done_until = max(now, target.done_until)
        target.next_run_at = _next_run(session, steps, target, target.done_until)
        target.claimed_until, target.claim_token = None, None
        target.overrides = overrides
        if occurrence is not None:
            target.last_run_at = now
            target.last_job_id = job.id if job is not None else target.last_job_id
            target.last_error = error
        if occurrence is not None and outcome == "fired" and job is not None:
            # told in the transaction that records the run: a tick that dies before it
            # fires again, finds its job by the idempotency key, and tells it then
            _tell_fired(session, target, plan_name, occurrence, job)


def _superseded_reason(superseded: timetable.Superseded, run: timetable.Occurrence) -> str:
    """Why runs were skipped after downtime, in words."""
    count = f"{'at least ' if superseded.at_least else ''}{superseded.count}"
    runs = "run" if superseded.count == 1 and not superseded.at_least else "runs"
    first, last = superseded.first, superseded.last
    span = f" (due {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC)" if first and last else ""
    return (
        f"{count} earlier {runs}{span} fell due while beat was not running: only the latest "
        f"step, due {run.at:%Y-%m-%d %H:%M} UTC, fires"
    )


def _tell_fired(
    session: Session,
    target: models.RotationTarget,
    plan_name: str,
    occurrence: timetable.Occurrence,
    job: models.Job,
) -> None:
    """The `rotation.fired` event of one run."""
    what = f"preset {occurrence.preset}" if occurrence.preset else occurrence.action
    label = _label(session, target.profile_id) or target.profile_id
    events.rotation_fired(
        session,
        job.account,
        target.profile_id,
        {
            "plan": plan_name,
            "preset": occurrence.preset,
            "action": occurrence.action,
            "due_at": occurrence.at.isoformat(),
            "late_seconds": job.late_seconds or 0,
        },
        job.id,
        f"rotation {plan_name} applied {what} to {label}",
    )


def _run(
    services: Services,
    target_id: int,
    plan_name: str,
    occurrence: timetable.Occurrence,
    overrides: dict[str, Any],
    late: int,
    key: str,
    context: dict[str, Any],
    problem: str | None = None,
) -> tuple[models.Job | None, str | None, str]:
    """Make one occurrence's job: (job, error, outcome: fired, skipped or failed).
    `overrides` is updated in place (an override started, or reverted). `problem` says
    why the run cannot happen (the profile's timezone): a failed job saying so."""
    with services.db.session() as session:
        target = session.get(models.RotationTarget, target_id)
        assert target is not None
        profile_id = target.profile_id
        profile = session.get(models.Profile, profile_id)
        account = profile.account if profile is not None else "default"
        try:
            client = principal(session, target.plan)
        except Forbidden as refused:
            job = _recorded(
                services, profile_id, account, plan_name, key, late, context, refused.message
            )
            return job, refused.message, "failed"
    if problem is not None:
        log.warning("rotation %s on %s: %s", plan_name, profile_id, problem)
        job = _recorded(
            services, profile_id, account, plan_name, key, late, context, problem, client
        )
        return job, problem, "failed"
    try:
        if occurrence.action == "revert":
            return _revert(
                services, client, profile_id, account, occurrence, overrides, late, key, context
            )
        with services.db.session() as session:
            # as the principal: a preset it may not use (another client's own) is unknown
            preset = presets.get(session, occurrence.preset or "", client)
        submitted = presets.submit_one(
            services, client, preset, profile_id, _provenance(key, late, context)
        )
    except BridgeError as error:
        message = _why(error, profile_id)
        log.warning("rotation %s on %s: %s", plan_name, profile_id, message)
        job = _recorded(
            services, profile_id, account, plan_name, key, late, context, message, client
        )
        return job, message, "failed"
    if occurrence.action == "override":
        overrides[str(occurrence.step)] = {"job_id": submitted.job.id}
    return submitted.job, None, "fired"


def _why(error: BridgeError, profile_id: str) -> str:
    if isinstance(error, NotFound) and "profile" in error.message:
        return (
            f"profile {profile_id} is no longer in Buffer (or no longer within the plan "
            f"creator's scopes): {error.message}"
        )
    return error.message


def _revert(
    services: Services,
    client: models.ApiClient,
    profile_id: str,
    account: str,
    occurrence: timetable.Occurrence,
    overrides: dict[str, Any],
    late: int,
    key: str,
    context: dict[str, Any],
) -> tuple[models.Job | None, str | None, str]:
    """Put back what the profile had before the override, unless it changed meanwhile."""
    started = overrides.pop(str(occurrence.step), None)

    def skip(reason: str) -> tuple[models.Job | None, str | None, str]:
        job = _recorded(
            services, profile_id, account, context["plan"], key, late, context, None, client, reason
        )
        return job, None, "skipped"

    if not started:
        return skip("the override never started on this profile: nothing to revert")
    with services.db.session() as session:
        start = session.get(models.Job, int(started["job_id"]))
        profile = session.get(models.Profile, profile_id)
        snapshot = session.scalars(
            select(models.Snapshot).where(
                models.Snapshot.job_id == int(started["job_id"]),
                models.Snapshot.reason == models.BEFORE_CHANGE,
            )
        ).first()
    if start is None or not start.finished:
        return skip(f"the override's job {started['job_id']} has not finished: not reverting")
    if start.status == models.FAILED or not start.result:
        return skip(f"the override's job {start.id} failed: nothing to revert")
    before = schedules.from_buffer(start.result["before"])
    after = schedules.from_buffer(
        start.result.get("buffer", {}).get("after", start.result["after"])
    )
    if before == after:
        return skip(f"the override (job {start.id}) changed nothing: nothing to revert")
    current = profiles.week_of(profile).unpaused() if profile is not None else None
    if current != after.unpaused():
        return skip(
            f"the schedule was changed after the override started (job {start.id}): "
            "not reverting, so that change is not undone"
        )
    coalesced = start.result.get("buffer", {}).get("coalesced_jobs", 1)
    if snapshot is not None and coalesced == 1:
        request = changes.ChangeRequest("restore", profile_id, snapshot_id=snapshot.id)
    else:
        request = changes.ChangeRequest("replace", profile_id, week=schedules.week_to_json(before))
    submitted = changes.submit(services, client, request, _provenance(key, late, context))
    return submitted.job, None, "fired"


def _recorded(
    services: Services,
    profile_id: str,
    account: str,
    plan_name: str,
    key: str,
    late: int,
    context: dict[str, Any],
    error: str | None,
    client: models.ApiClient | None = None,
    skipped: str | None = None,
) -> models.Job:
    """A finished job recording a run that made no change: failed with `error`, or
    succeeded with `{"skipped": reason}`. Idempotent on `key` as other runs are."""
    name = client.name if client is not None else SYSTEM
    with services.db.session() as session:
        existing = session.scalars(
            select(models.Job).where(models.Job.client == name, models.Job.idempotency_key == key)
        ).first()
        if existing is not None:
            return existing
        kind = "revert" if skipped else "rotation"
        job = jobs.row(_provenance(key, late, context), name, account, profile_id, kind)
        job.start()
        if skipped:
            job.succeed({"skipped": True, "reason": skipped})
        else:
            job.fail(error)
        session.add(job)
    return job


def _provenance(key: str, late: int | None, context: dict[str, Any]) -> jobs.Provenance:
    """A rotation run's provenance: keyed by target and instant, with its lateness and the
    plan, preset and instant it came from."""
    return jobs.Provenance("rotation", idempotency_key=key, late_seconds=late, context=context)
