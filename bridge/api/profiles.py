"""/v1/profiles: the profile cache, Buffer's current schedules, and schedule changes."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask.views import MethodView
from flask_smorest import Blueprint

from bridge import auth, jobs, profiles, schedules, snapshots
from bridge.api.common import (
    accepted,
    current_client,
    idempotency_key,
    resolve_profile,
    services,
)
from bridge.api.schemas import (
    PatchSchedulesSchema,
    ProfileListArgs,
    ReplaceSchedulesSchema,
    RestoreSchema,
    SnapshotListArgs,
)
from bridge.errors import BufferAPIError
from bridge.models import Job, Profile

blp = Blueprint(
    "profiles", __name__, url_prefix="/v1/profiles", description="Profiles and schedules"
)


def _visible(refresh: bool) -> tuple[list[Profile], bool]:
    """Cached profiles the caller may see; refreshed from Buffer first when asked."""
    client = current_client()
    svc = services()
    stale = False
    if refresh:
        for account in svc.settings.account_names():
            outcome = snapshots.take_account(svc, account)
            stale = stale or outcome.retry_in is not None or outcome.error is not None
    with svc.db.session() as session:
        found = profiles.list_cached(session)
    if not found and not refresh:
        return _visible(refresh=True)  # a new install: fill the cache on first use
    return [p for p in found if auth.can_see(client, p)], stale


@blp.route("")
class ProfileList(MethodView):
    """Every profile the caller may use."""

    @blp.arguments(ProfileListArgs, location="query", as_kwargs=True)
    @blp.doc(security=[{"bearer": []}])
    def get(self, refresh: bool, format: str) -> Response:
        """List profiles (`?refresh=1` asks Buffer first; `?format=choices` for dropdowns)."""
        found, stale = _visible(refresh)
        if format == "choices":
            return jsonify([{"id": p.id, "label": _choice_label(p)} for p in found])
        return jsonify({"profiles": [profiles.to_json(p) for p in found], "stale": stale})


def _choice_label(profile: Profile) -> str:
    """`Twitter @brand (Europe/London)` for a dropdown."""
    name = profile.formatted_username or f"@{profile.service_username}"
    return f"{profile.service.title()} {name} ({profile.timezone})".replace(" ()", "")


def _readable(ref: str) -> Profile:
    """The profile `ref` names, if the caller may read it."""
    client = current_client()
    profile = resolve_profile(ref)
    auth.check_read(client, profile)
    return profile


def _writable(ref: str) -> Profile:
    """The profile `ref` names, if the caller may change it."""
    client = current_client()
    auth.check_write(client)
    profile = resolve_profile(ref)
    auth.check_write(client, profile)
    return profile


@blp.route("/<ref>")
class ProfileItem(MethodView):
    """One profile."""

    @blp.doc(security=[{"bearer": []}])
    def get(self, ref: str) -> Response:
        """A profile from the cache."""
        return jsonify(profiles.to_json(_readable(ref)))


@blp.route("/<ref>/schedules")
class ProfileSchedules(MethodView):
    """A profile's posting schedules."""

    @blp.doc(security=[{"bearer": []}])
    def get(self, ref: str) -> Response:
        """Buffer's current schedules (from the cache, marked stale, if Buffer cannot answer)."""
        profile = _readable(ref)
        body, stale_reason = _live_schedules(profile)
        entries = body if body is not None else profile.schedules
        week = schedules.from_buffer(entries)
        view: dict[str, Any] = {
            "profile_id": profile.id,
            "schedules": entries,
            "summary": schedules.summary(week),
            "week": schedules.week_to_json(week),
            "stale": body is None,
        }
        if stale_reason:
            view["stale_reason"] = stale_reason
            view["seen_at"] = profile.seen_at.isoformat()
        return jsonify(view)

    @blp.arguments(ReplaceSchedulesSchema)
    @blp.doc(security=[{"bearer": []}], responses={"202": {"description": "Accepted: a job"}})
    def put(self, body: dict[str, Any], ref: str) -> Response:
        """Replace every posting schedule of the profile."""
        week = schedules.make_week(
            {day: entry["times"] for entry in body["schedules"] for day in entry["days"]}
        )
        return _submit(ref, schedules.Operation.replace(week))

    @blp.arguments(PatchSchedulesSchema)
    @blp.doc(security=[{"bearer": []}], responses={"202": {"description": "Accepted: a job"}})
    def patch(self, body: dict[str, Any], ref: str) -> Response:
        """Change some days (set, add, remove or clear their times) and keep the others."""
        days, times, mode = body["days"], body["times"], body["mode"]
        operation = schedules.Operation(mode, days=days, times=() if mode == "clear" else times)
        return _submit(ref, operation)


def _live_schedules(profile: Profile) -> tuple[list[dict[str, Any]] | None, str | None]:
    """Buffer's schedules now, or (None, why) when Buffer cannot be asked or answer."""
    svc = services()
    if svc.limiter.acquire(svc.buffer_token(profile.account), 1) > 0:
        return None, "rate limit reached; showing the cached schedules"
    try:
        return [s.to_json() for s in svc.buffer(profile.account).schedules(profile.id)], None
    except BufferAPIError as error:
        if not error.retryable:
            raise
        return None, f"Buffer could not be reached: {error.message}"


def _submit(ref: str, operation: schedules.Operation, snapshot_id: int | None = None) -> Response:
    """Store a change as a job and answer 202."""
    profile = _writable(ref)
    job, _created = jobs.submit(
        services(),
        jobs.ChangeRequest(
            profile=profile,
            operation=operation,
            source="rest",
            client=current_client().name,
            idempotency_key=idempotency_key(),
            snapshot_id=snapshot_id,
        ),
    )
    return accepted(job, profile_id=profile.id, change=operation.to_json())


@blp.route("/<ref>/schedules/restore")
class ProfileRestore(MethodView):
    """Put back an earlier posting schedule."""

    @blp.arguments(RestoreSchema)
    @blp.doc(security=[{"bearer": []}], responses={"202": {"description": "Accepted: a job"}})
    def post(self, body: dict[str, Any], ref: str) -> Response:
        """Restore a snapshot (or, without `snapshot_id`, the state before the latest change)."""
        profile = _writable(ref)
        with services().db.session() as session:
            snapshot = snapshots.restore_target(session, profile.id, body["snapshot_id"])
            week = snapshots.week_of(snapshot)
        return _submit(ref, schedules.Operation.replace(week), snapshot_id=snapshot.id)


@blp.route("/<ref>/history")
class ProfileHistory(MethodView):
    """The profile's snapshots with what changed in each."""

    @blp.arguments(SnapshotListArgs, location="query", as_kwargs=True)
    @blp.doc(security=[{"bearer": []}])
    def get(self, ref: str, profile: str | None, limit: int, before: int | None) -> Response:
        """Snapshots newest first, each with its diff from the one before."""
        found = _readable(ref)
        with services().db.session() as session:
            items = snapshots.listing(session, found.id, limit + 1, before)
            views = [
                snapshots.to_json(
                    s, items[i + 1] if i + 1 < len(items) else snapshots.previous_of(session, s)
                )
                for i, s in enumerate(items[:limit])
            ]
            recent = _recent_jobs(session, found.id)
        return jsonify({"profile_id": found.id, "snapshots": views, "jobs": recent})


def _recent_jobs(session: Any, profile_id: str) -> list[dict[str, Any]]:
    """The profile's latest jobs, for context beside its snapshots."""
    from sqlalchemy import select

    query = select(Job).where(Job.profile_id == profile_id).order_by(Job.id.desc()).limit(20)
    return [jobs.to_json(job) for job in session.scalars(query)]
