"""Rotation's firing engine: beat's tick claims due targets and fires the step in effect,
run now and `begin` (on creating or resuming a plan) fire at once, a revert puts back
what an override replaced, and a run that cannot happen is recorded saying why. The
plans themselves are bridge/rotation/plans.py.

Past 400 lines on purpose: claiming, firing, reverting and recording share the target
row's contract (`done_until`, `next_run_at`, the lease) and a run's key, and are read
in that order; the pure time arithmetic is bridge/timetable.py."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
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
    DatabaseUnavailable,
    Forbidden,
    InvalidInput,
    NotFound,
)
from bridge.rotation import plans
from bridge.services import Services

log = logging.getLogger(__name__)
LEASE = dt.timedelta(minutes=5)
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


# --- claiming and firing -----------------------------------------------------------------


@dataclass
class Run:
    """One step of a plan fired on one target: what firing, reverting and recording it
    share. `profile_id`, `account` and `client` (the plan's principal) are filled in
    once the target is read; `overrides` is the target's, updated in place."""

    target_id: int
    plan_name: str
    occurrence: timetable.Occurrence
    overrides: dict[str, Any]
    late: int
    key: str  # the run's idempotency key: target and instant (and run now's moment)
    profile_id: str = ""
    account: str = "default"
    client: models.ApiClient | None = None

    @property
    def principal(self) -> models.ApiClient:
        """Who the run acts as (read before any job is made)."""
        assert self.client is not None
        return self.client

    def provenance(self) -> jobs.Provenance:
        """The run's jobs' provenance: keyed by target and instant, with its lateness and
        the plan, preset and instant it came from."""
        context = {"plan": self.plan_name, "due_at": self.occurrence.at.isoformat()}
        return jobs.Provenance(
            "rotation", idempotency_key=self.key, late_seconds=self.late, context=context
        )


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
        return target.profile_id, plans.label_of(session, target.profile_id) or target.profile_id


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
    auth.check_write(client or plans.system_client())
    now = models.utcnow()
    with services.db.session() as session:
        plan = plans.get(session, name, client)
        ids = [
            (t.id, (t.profile_id, plans.label_of(session, t.profile_id) or t.profile_id))
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
        was_paused = plans.get(session, name, client).paused
    plans.set_paused(services, client, name, False)
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
        tz = plans.zone_of(session, target.profile_id)
        problem = plans.zone_problem(session, target.profile_id)
        who = (target.profile_id, plans.label_of(session, target.profile_id) or target.profile_id)
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
        run = Run(target_id, plan_name, occurrence, overrides, late, key)
        job, error, outcome = _run(services, run, problem)
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
        target.next_run_at = plans.next_run(session, steps, target, target.done_until)
        target.claimed_until, target.claim_token = None, None
        target.overrides = overrides
        if occurrence is not None:
            target.last_run_at = now
            target.last_job_id = job.id if job is not None else target.last_job_id
            target.last_error = error
        if occurrence is not None and outcome == "fired" and job is not None:
            # told in the transaction that records the run: a tick that dies before it
            # fires again, finds its job by the idempotency key, and tells it then
            _tell_fired(session, target, run, job)


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


def _tell_fired(session: Session, target: models.RotationTarget, run: Run, job: models.Job) -> None:
    """The `rotation.fired` event of one run."""
    plan_name, occurrence = run.plan_name, run.occurrence
    what = f"preset {occurrence.preset}" if occurrence.preset else occurrence.action
    label = plans.label_of(session, target.profile_id) or target.profile_id
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
    services: Services, run: Run, problem: str | None = None
) -> tuple[models.Job | None, str | None, str]:
    """Make one run's job: (job, error, outcome: fired, skipped or failed). The run's
    `overrides` is updated in place (an override started, or reverted). `problem` says
    why the run cannot happen (the profile's timezone): a failed job saying so."""
    with services.db.session() as session:
        target = session.get(models.RotationTarget, run.target_id)
        assert target is not None
        run.profile_id = target.profile_id
        profile = session.get(models.Profile, run.profile_id)
        run.account = profile.account if profile is not None else "default"
        try:
            run.client = plans.principal(session, target.plan)
        except Forbidden as refused:
            return _recorded(services, run, refused.message), refused.message, "failed"
    if problem is not None:
        log.warning("rotation %s on %s: %s", run.plan_name, run.profile_id, problem)
        return _recorded(services, run, problem), problem, "failed"
    occurrence = run.occurrence
    try:
        if occurrence.action == "revert":
            return _revert(services, run)
        with services.db.session() as session:
            # as the principal: a preset it may not use (another client's own) is unknown
            preset = presets.get(session, occurrence.preset or "", run.client)
        submitted = presets.submit_one(
            services, run.principal, preset, run.profile_id, run.provenance()
        )
    except BridgeError as error:
        message = _why(error, run.profile_id)
        log.warning("rotation %s on %s: %s", run.plan_name, run.profile_id, message)
        return _recorded(services, run, message), message, "failed"
    if occurrence.action == "override":
        run.overrides[str(occurrence.step)] = {"job_id": submitted.job.id}
    return submitted.job, None, "fired"


def _why(error: BridgeError, profile_id: str) -> str:
    if isinstance(error, NotFound) and "profile" in error.message:
        return (
            f"profile {profile_id} is no longer in Buffer (or no longer within the plan "
            f"creator's scopes): {error.message}"
        )
    return error.message


def _revert(services: Services, run: Run) -> tuple[models.Job | None, str | None, str]:
    """Put back what the profile had before the override, unless it changed meanwhile."""
    started = run.overrides.pop(str(run.occurrence.step), None)
    profile_id = run.profile_id

    def skip(reason: str) -> tuple[models.Job | None, str | None, str]:
        return _recorded(services, run, None, skipped=reason), None, "skipped"

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
    submitted = changes.submit(services, run.principal, request, run.provenance())
    return submitted.job, None, "fired"


def _recorded(
    services: Services, run: Run, error: str | None, skipped: str | None = None
) -> models.Job:
    """A finished job recording a run that made no change: failed with `error`, or
    succeeded with `{"skipped": reason}`. Idempotent on the run's key as other runs are."""
    name = run.client.name if run.client is not None else plans.SYSTEM
    with services.db.session() as session:
        existing = session.scalars(
            select(models.Job).where(
                models.Job.client == name, models.Job.idempotency_key == run.key
            )
        ).first()
        if existing is not None:
            return existing
        kind = "revert" if skipped else "rotation"
        job = jobs.row(run.provenance(), name, run.account, run.profile_id, kind)
        job.start()
        if skipped:
            job.succeed({"skipped": True, "reason": skipped})
        else:
            job.fail(error)
        session.add(job)
    return job


def report_json(services: Services, report: TickReport) -> dict[str, Any]:
    """A run's report as the API shows it: its jobs, and why runs were skipped or failed."""
    with services.db.session() as session:
        made = [session.get(models.Job, job_id) for job_id in report.fired]
    return {
        "jobs": [job for job in made if job is not None],
        "failed": report.failed,
        "skipped": report.skipped,
        "failures": report.failures,
        "skips": report.skips,
    }
