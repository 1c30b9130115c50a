"""Presets: named weeks of posting times, owned by a Buffer account, applied to profiles.

A preset is made from explicit days and times, copied from a profile's cached schedules,
or from a snapshot. Applying one to several profiles stores one `replace` job per
profile through `changes.submit` (so scopes, capabilities, coalescing and history all
hold), every job carrying one group id (`GET /v1/jobs?group=`).

Presets hold no profile data beyond a week, so every client may read them; only a
client that may write changes them. Names are unique across accounts (they are the key
in URLs and chat).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge import auth, catalog, changes, models, profiles, schedules, snapshots, timetable
from bridge.errors import Conflict, InvalidInput, NotFound, WritesUnavailable
from bridge.services import Services

MAX_PROFILES = 100


def get(session: Session, name: str) -> models.Preset:
    """The preset called `name`, or NotFound."""
    found = session.scalars(select(models.Preset).where(models.Preset.name == name)).first()
    if found is None:
        raise NotFound(f"unknown preset {name!r}")
    return found


def listing(session: Session) -> list[models.Preset]:
    """Every preset, by name."""
    return list(session.scalars(select(models.Preset).order_by(models.Preset.name)))


def week(preset: models.Preset) -> schedules.Week:
    """The week a preset holds."""
    return schedules.week_from_json(preset.week)


def to_json(preset: models.Preset) -> dict[str, Any]:
    """The public view of a preset."""
    held = week(preset)
    return {
        "name": preset.name,
        "account": preset.account,
        "week": schedules.week_to_json(held),
        "schedules": schedules.to_buffer(held),
        "summary": schedules.summary(held),
        "client": preset.client,
        "created_at": preset.created_at.isoformat(),
        "updated_at": preset.updated_at.isoformat(),
    }


def source_week(
    services: Services,
    client: models.ApiClient,
    schedules_week: Mapping[str, Any] | None = None,
    from_profile: str | None = None,
    from_snapshot: int | None = None,
) -> tuple[schedules.Week, str]:
    """(the week, its account) from exactly one of: a week, a profile, a snapshot.

    Raises InvalidInput naming the fields, NotFound for a profile or snapshot the client
    may not see."""
    given = [x is not None for x in (schedules_week, from_profile, from_snapshot)]
    if sum(given) != 1:
        raise InvalidInput(
            "give exactly one of schedules, from_profile, from_snapshot", "schedules"
        )
    default_account = (services.settings.account_names() or ["default"])[0]
    if schedules_week is not None:
        return schedules.make_week(schedules_week, "schedules"), default_account
    if from_profile is not None:
        profile = catalog.readable(services, client, from_profile, "from_profile")
        return profiles.week_of(profile).unpaused(), profile.account
    assert from_snapshot is not None
    with services.db.session() as session:
        snapshot = snapshots.get(session, from_snapshot)
        if not auth.can_see_id(session, client, snapshot.profile_id):
            raise NotFound(f"unknown snapshot {from_snapshot}")
        owner = session.get(models.Profile, snapshot.profile_id)
        account = owner.account if owner is not None else default_account
        return snapshots.week_of(snapshot).unpaused(), account


def create(
    services: Services, client: models.ApiClient, name: str, held: schedules.Week, account: str
) -> models.Preset:
    """Store a new preset (Forbidden for a read-only client, Conflict for a name in use)."""
    auth.check_write(client)
    timetable.check_name(name)
    with services.db.session() as session:
        if session.scalars(select(models.Preset).where(models.Preset.name == name)).first():
            raise Conflict(f"a preset named {name!r} already exists")
        preset = models.Preset(
            name=name, account=account, week=schedules.week_to_json(held), client=client.name
        )
        session.add(preset)
    return preset


def update(
    services: Services, client: models.ApiClient, name: str, held: schedules.Week
) -> models.Preset:
    """Give preset `name` a new week (plans using it apply the new one from now on)."""
    auth.check_write(client)
    with services.db.session() as session:
        preset = get(session, name)
        preset.week = schedules.week_to_json(held)
        preset.updated_at = models.utcnow()
    return preset


def delete(services: Services, client: models.ApiClient, name: str) -> None:
    """Delete preset `name`; Conflict while a rotation plan names it."""
    auth.check_write(client)
    with services.db.session() as session:
        preset = get(session, name)
        users = [
            plan.name
            for plan in session.scalars(select(models.RotationPlan))
            if name in _names_in(plan.steps)
        ]
        if users:
            raise Conflict(f"preset {name!r} is used by rotation plans: {', '.join(users)}")
        session.delete(preset)


def _names_in(steps: Sequence[Any]) -> set[str]:
    """The preset names stored steps mention."""
    names: set[str] = set()
    for step in steps:
        if isinstance(step, dict):
            names.update(step.get("presets") or [])
            if step.get("preset"):
                names.add(step["preset"])
    return names


def targets(
    services: Services,
    client: models.ApiClient,
    refs: Sequence[str] | None,
    service: str | None,
    field: str = "profiles",
) -> list[models.Profile]:
    """The profiles named by `refs`, or every profile of `service` the client may change.

    Raises InvalidInput (neither or both given, too many, a service with no profile),
    ProfileNotFound for a reference outside the client's scopes."""
    auth.check_write(client)
    if (refs is None) == (service is None):
        raise InvalidInput("give either profiles or service", field)
    if refs is not None:
        if not refs or len(refs) > MAX_PROFILES:
            raise InvalidInput(f"a list of 1 to {MAX_PROFILES} profiles", field)
        found = [catalog.writable(services, client, ref) for ref in refs]
        return list({p.id: p for p in found}.values())
    assert service is not None
    visible, _stale = catalog.visible(services, client)
    chosen = [p for p in visible if p.service.lower() == service.strip().lower()]
    if not chosen:
        raise InvalidInput(f"no profile of service {service!r} that you may change", "service")
    return chosen[:MAX_PROFILES]


def apply(
    services: Services,
    client: models.ApiClient,
    name: str,
    refs: Sequence[str] | None = None,
    service: str | None = None,
    source: str = "rest",
) -> tuple[str, list[changes.Submitted]]:
    """Apply preset `name` to profiles: (the group id, one submitted job per profile).

    Every profile is resolved and checked (scopes, the account can write) before any job
    is stored, so a refusal leaves nothing half-applied."""
    with services.db.session() as session:
        preset = get(session, name)
    chosen = targets(services, client, refs, service)
    today = models.utcnow().date()
    for profile in chosen:
        abilities = services.backend(profile.account).capabilities(today)
        if not abilities.can_write:
            refusal = abilities.write_refusal or "this account cannot write"
            raise WritesUnavailable(f"{profiles.label(profile)}: {refusal}")
    group = str(uuid.uuid4())
    submitted = [
        submit_one(services, client, preset, profile.id, source, group_id=group)
        for profile in chosen
    ]
    return group, submitted


def submit_one(
    services: Services,
    client: models.ApiClient,
    preset: models.Preset,
    profile_ref: str,
    source: str,
    group_id: str | None = None,
    late_seconds: int | None = None,
    idempotency_key: str | None = None,
    context: dict[str, Any] | None = None,
) -> changes.Submitted:
    """Store one `replace` job putting `preset`'s week on one profile."""
    request = changes.ChangeRequest(
        "replace", profile_ref, week=schedules.week_to_json(week(preset))
    )
    return changes.submit(
        services,
        client,
        request,
        source,
        idempotency_key=idempotency_key,
        group_id=group_id,
        late_seconds=late_seconds,
        context={"preset": preset.name, **(context or {})},
    )
