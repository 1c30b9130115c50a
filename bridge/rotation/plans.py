"""Rotation plans: saving, pausing, deleting, previewing and showing them, and who their
runs act as (`principal`). Firing them is bridge/rotation/firing.py."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge import (
    auth,
    models,
    presets,
    profiles,
    timetable,
)
from bridge.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
)
from bridge.services import Services

log = logging.getLogger(__name__)
SYSTEM = "rotation"  # the principal of plans made by an operator (CLI)
MAX_PREVIEW = 50


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
            target.next_run_at = next_run(session, steps, target, target.done_until)
    return plan


def _runner(session: Session, plan: models.RotationPlan) -> models.ApiClient:
    """Who `plan`'s runs act as (`principal`; the name is a local in `save`)."""
    return principal(session, plan)


def next_run(
    session: Session,
    steps: Sequence[timetable.Step],
    target: models.RotationTarget,
    after: dt.datetime,
) -> dt.datetime | None:
    occurrence = timetable.next_after(steps, zone_of(session, target.profile_id), after)
    return occurrence.at if occurrence is not None else None


def zone_of(session: Session, profile_id: str) -> Any:
    """The zone a target's runs are timed in: UTC when Buffer's is none or not a zone
    (`zone_problem` says so, and those runs fail saying why)."""
    profile = session.get(models.Profile, profile_id)
    return timetable.zone(profile.timezone if profile is not None else None)


def zone_problem(session: Session, profile_id: str) -> str | None:
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
                target.next_run_at = next_run(session, steps, target, now)
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
            problem = zone_problem(session, target.profile_id)
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
                "profile": label_of(session, t.profile_id),
                "next_run_at": t.next_run_at.isoformat() if t.next_run_at else None,
                "last_run_at": t.last_run_at.isoformat() if t.last_run_at else None,
                "last_job_id": t.last_job_id,
                "last_error": t.last_error,
            }
            for t in plan.targets
        ],
    }


def label_of(session: Session, profile_id: str) -> str | None:
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


def shown(services: Services, client: models.ApiClient) -> list[dict[str, Any]]:
    """Every plan `client` may see, as `to_json` shows it."""
    with services.db.session() as session:
        return [to_json(session, plan) for plan in listing(session, client)]


def shown_one(services: Services, name: str, client: models.ApiClient) -> dict[str, Any]:
    """Plan `name` as `to_json` shows it (NotFound for one the client may not see)."""
    with services.db.session() as session:
        return to_json(session, get(session, name, client))


def names(services: Services, client: models.ApiClient) -> list[tuple[str, bool]]:
    """(name, paused) of every plan `client` may see, by name."""
    with services.db.session() as session:
        return [(plan.name, plan.paused) for plan in listing(session, client)]
