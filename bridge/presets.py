"""Presets: named weeks of posting times, owned by a Buffer account, applied to profiles.

A preset is made from explicit days and times, copied from a profile's cached schedules,
or from a snapshot. Applying one to several profiles stores one `replace` job per
profile through `changes.submit` (so scopes, capabilities, coalescing and history all
hold), every job carrying one group id (`GET /v1/jobs?group=`).

Who may do what (issue 20: a scoped client rewrote a shared preset that another client's
rotation plan put on profiles outside its scopes):

- a preset made by a client scoped to some profiles is its own (`owner_id`): only that
  client reads, changes, deletes and applies it, and only its plans use it;
- a preset made by an unscoped client or the operator is account-wide: every client reads
  and applies it (to profiles it may change), only unscoped writers change or delete it.

So whoever can change the week a plan applies has at least the plan's principal's reach.
A name is looked up among the caller's own presets first, then the account-wide ones;
another client's own presets are never found (answered "unknown", as out-of-scope
profiles are), and the same name may be used by several clients for their own.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge import auth, catalog, changes, jobs, models, profiles, schedules, snapshots, timetable
from bridge.errors import Conflict, Forbidden, InvalidInput, NotFound, WritesUnavailable
from bridge.services import Services

MAX_PROFILES = 100


def get(session: Session, name: str, client: models.ApiClient) -> models.Preset:
    """The preset called `name` that `client` may use: its own first, else the account-wide
    one. NotFound otherwise (another client's own preset is "unknown" too)."""
    query = select(models.Preset).where(models.Preset.name == name)
    found = {p.owner_id: p for p in session.scalars(query) if usable(client, p)}
    preset = found.get(client.id) if client.id is not None else None
    preset = preset or found.get(None)
    if preset is None:
        raise NotFound(f"unknown preset {name!r}")
    return preset


def usable(client: models.ApiClient, preset: models.Preset) -> bool:
    """True when `client` may read and apply `preset`: account-wide, or its own. The
    operator's principal (no id) has no own presets."""
    return preset.owner_id is None or (client.id is not None and preset.owner_id == client.id)


def check_change(client: models.ApiClient, preset: models.Preset) -> None:
    """Forbidden unless `client` may change or delete `preset` (a preset it may use):
    account-wide ones only for unscoped writers, since plans of every client apply them."""
    auth.check_write(client)
    if preset.owner_id is None and client.profiles is not None:
        raise Forbidden(
            f"preset {preset.name!r} is account-wide: only a client with every profile in "
            "its scopes may change or delete it (create your own preset instead)"
        )


def listing(session: Session, client: models.ApiClient | None) -> list[models.Preset]:
    """Every preset `client` may use (None: the operator's view, every preset), by name."""
    query = select(models.Preset).order_by(models.Preset.name, models.Preset.id)
    return [p for p in session.scalars(query) if client is None or usable(client, p)]


def shown(services: Services, client: models.ApiClient) -> list[dict[str, Any]]:
    """The public view of every preset `client` may use, by name."""
    with services.db.session() as session:
        return [to_json(p) for p in listing(session, client)]


def shown_one(services: Services, name: str, client: models.ApiClient) -> dict[str, Any]:
    """The public view of the preset `name` that `client` may use (NotFound otherwise)."""
    with services.db.session() as session:
        return to_json(get(session, name, client))


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
        "shared": preset.owner_id is None,
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
    """Store a new preset: the client's own when it is scoped, else account-wide.

    Forbidden for a read-only client, Conflict for a name among those it may use (another
    client's own names are free to it: refusing them would tell they exist)."""
    auth.check_write(client)
    timetable.check_name(name)
    owner = client.id if client.profiles is not None else None
    with services.db.session() as session:
        taken = session.scalars(
            select(models.Preset).where(models.Preset.name == name, _same_owner(owner))
        ).first()
        if taken is not None:
            raise Conflict(f"a preset named {name!r} already exists")
        preset = models.Preset(
            name=name,
            account=account,
            week=schedules.week_to_json(held),
            client=client.name,
            owner_id=owner,
        )
        session.add(preset)
    return preset


def _same_owner(owner: int | None) -> Any:
    column = models.Preset.owner_id
    return column.is_(None) if owner is None else column == owner


def update(
    services: Services, client: models.ApiClient, name: str, held: schedules.Week
) -> models.Preset:
    """Give preset `name` a new week (plans using it apply the new one from now on).
    NotFound for a preset `client` may not use, Forbidden (`check_change`)."""
    with services.db.session() as session:
        preset = get(session, name, client)
        check_change(client, preset)
        preset.week = schedules.week_to_json(held)
        preset.updated_at = models.utcnow()
    return preset


def delete(services: Services, client: models.ApiClient, name: str) -> None:
    """Delete preset `name`; Conflict while a rotation plan uses it, naming only the plans
    `client` may see (issue 20: the names of others' plans are theirs)."""
    with services.db.session() as session:
        preset = get(session, name, client)
        check_change(client, preset)
        users = [
            plan
            for plan in session.scalars(select(models.RotationPlan))
            if _uses(session, plan, preset)
        ]
        if users:
            shown = [plan.name for plan in users if _sees_plan(session, client, plan)]
            hidden = len(users) - len(shown)
            named = ", ".join(shown + ([f"{hidden} you cannot see"] if hidden else []))
            raise Conflict(f"preset {name!r} is used by rotation plans: {named}")
        session.delete(preset)


def _uses(session: Session, plan: models.RotationPlan, preset: models.Preset) -> bool:
    """True when `plan`'s runs would apply `preset` (its steps name it, and its principal
    finds this preset by that name)."""
    if preset.name not in _names_in(plan.steps):
        return False
    if plan.client is None:  # the operator's plans see account-wide presets only
        return preset.owner_id is None
    owner = session.scalars(
        select(models.ApiClient).where(models.ApiClient.name == plan.client)
    ).first()
    if owner is None:
        return False
    try:
        return get(session, preset.name, owner).id == preset.id
    except NotFound:
        return False


def _sees_plan(session: Session, client: models.ApiClient, plan: models.RotationPlan) -> bool:
    """A client sees a plan when it sees every profile of it: `rotation.visible`'s rule,
    repeated because bridge.rotation imports this module."""
    return all(auth.can_see_id(session, client, t.profile_id) for t in plan.targets)


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
        preset = get(session, name, client)
    chosen = targets(services, client, refs, service)
    today = models.utcnow().date()
    for profile in chosen:
        abilities = services.backend(profile.account).capabilities(today)
        if not abilities.can_write:
            refusal = abilities.write_refusal or "this account cannot write"
            raise WritesUnavailable(f"{profiles.label(profile)}: {refusal}")
    group = str(uuid.uuid4())
    submitted = [
        submit_one(services, client, preset, profile.id, jobs.Provenance(source, group_id=group))
        for profile in chosen
    ]
    return group, submitted


def submit_one(
    services: Services,
    client: models.ApiClient,
    preset: models.Preset,
    profile_ref: str,
    origin: jobs.Provenance,
) -> changes.Submitted:
    """Store one `replace` job putting `preset`'s week on one profile (the job's context
    names the preset)."""
    request = changes.ChangeRequest(
        "replace", profile_ref, week=schedules.week_to_json(week(preset))
    )
    named = replace(origin, context={"preset": preset.name, **(origin.context or {})})
    return changes.submit(services, client, request, named)


def submit_named(
    services: Services,
    client: models.ApiClient,
    name: str,
    profile_ref: str,
    origin: jobs.Provenance,
) -> changes.Submitted:
    """Put the preset `name` (one `client` may use) on one profile: one `replace` job."""
    with services.db.session() as session:
        preset = get(session, name, client)
    return submit_one(services, client, preset, profile_ref, origin)
