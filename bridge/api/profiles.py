"""/v1/profiles: the profile cache, Buffer's current schedules, and schedule changes."""

from __future__ import annotations

import contextlib
import json
import logging
from types import SimpleNamespace
from typing import Any

import redis
from flask import Response, jsonify
from flask.views import MethodView
from flask_smorest import Blueprint

from bridge import catalog, changes, jobs, profiles, schedules, snapshots
from bridge.api.schemas import (
    HistorySchema,
    PatchSchedulesSchema,
    PostingSettingsInput,
    PostingSettingsSchema,
    ProfileChoiceSchema,
    ProfileListArgs,
    ProfileListSchema,
    ProfileWithSettingsSchema,
    ReplaceSchedulesSchema,
    RestoreSchema,
    SchedulesViewSchema,
    SnapshotListArgs,
    change_request,
)
from bridge.buffer.backend import BudgetExhausted
from bridge.errors import BufferAPIError
from bridge.models import Profile
from bridge.posting import settings as posting_settings
from bridge.web import limits
from bridge.web.answers import accepted
from bridge.web.caller import authenticate_first, current_client, idempotency_key, services
from bridge.web.schemas import AcceptedSchema

blp = Blueprint(
    "profiles", __name__, url_prefix="/v1/profiles", description="Profiles and schedules"
)
authenticate_first(blp)

log = logging.getLogger(__name__)
RECENT_JOBS = 20
# one route, two shapes: the full listing, or dropdown choices (`?format=choices`)
_LIST_OR_CHOICES = {
    "description": "The profiles, or with `?format=choices` a list of `{id, label}`",
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [ProfileListSchema, {"type": "array", "items": ProfileChoiceSchema}]
            }
        }
    },
}


@blp.route("")
class ProfileList(MethodView):
    @blp.arguments(ProfileListArgs, location="query", as_kwargs=True)
    @blp.doc(responses={"200": _LIST_OR_CHOICES})
    def get(self, refresh: bool, format: str) -> Response:
        """Every profile the caller may use (`?refresh=1` asks Buffer first; `?format=choices`
        gives `[{id, label}]` for dropdowns)."""
        found, stale = catalog.visible(services(), current_client(), refresh)
        if format == "choices":
            choices = [{"id": p.id, "label": _choice_label(p)} for p in found]
            return jsonify(ProfileChoiceSchema(many=True).dump(choices))
        listing = {"profiles": found, "stale": stale, "refreshed_at": catalog.read_at(found)}
        return jsonify(ProfileListSchema().dump(listing))


def _choice_label(profile: Profile) -> str:
    """`Twitter @brand (Europe/London)` for a dropdown."""
    name = profile.formatted_username or f"@{profile.service_username}"
    return f"{profile.service.title()} {name} ({profile.timezone})".replace(" ()", "")


@blp.route("/<ref>")
class ProfileItem(MethodView):
    @blp.response(200, ProfileWithSettingsSchema)
    def get(self, ref: str) -> SimpleNamespace:
        """A profile from the cache (404 for an unknown reference) and its posting settings."""
        profile = catalog.readable(services(), current_client(), ref)
        return SimpleNamespace(
            **{c.key: getattr(profile, c.key) for c in Profile.__table__.columns},
            **posting_settings.of_profile(services(), profile),
        )

    @blp.arguments(PostingSettingsInput)
    @blp.response(200, PostingSettingsSchema)
    def patch(self, body: dict[str, Any], ref: str) -> dict[str, Any]:
        """Change the profile's posting settings: `schedule_mode` (buffer or bridge),
        `adopt_queue`, `min_gap_minutes` (0-1440), `excluded_dates` (at most 366)."""
        change = posting_settings.SettingsChange(
            schedule_mode=body.get("schedule_mode"),
            adopt_queue=body.get("adopt_queue"),
            min_gap_minutes=body.get("min_gap_minutes"),
            excluded_dates=tuple(body["excluded_dates"]) if "excluded_dates" in body else None,
        )
        answer, written = posting_settings.update(services(), current_client(), ref, change)
        if written is not None:
            answer["write_back_job_id"] = written.job.id
        return answer


@blp.route("/<ref>/schedules")
class ProfileSchedules(MethodView):
    @blp.response(200, SchedulesViewSchema)
    def get(self, ref: str) -> dict[str, Any]:
        """Buffer's current schedules (from the cache, marked stale, if Buffer cannot answer)."""
        profile = catalog.readable(services(), current_client(), ref)
        kept = posting_settings.kept_week(services(), profile)
        if kept is not None:  # bridge mode: the week is the bridge's, Buffer's is frozen
            return {
                "profile_id": profile.id,
                "schedules": schedules.to_buffer(kept.unpaused()),
                "summary": schedules.summary(kept),
                "week": schedules.week_to_json(kept),
                "stale": False,
                "schedule_mode": "bridge",
            }
        live, stale_reason = _live_profile(profile)
        if live is not None:
            entries = live["schedules"]
            week = schedules.from_buffer(entries).with_pauses(live["paused_days"])
        else:
            entries, week = profile.schedules, profiles.week_of(profile)
        view: dict[str, Any] = {
            "profile_id": profile.id,
            "schedules": entries,
            "summary": schedules.summary(week),
            "week": schedules.week_to_json(week),
            "stale": live is None,
        }
        if stale_reason:
            view["stale_reason"] = stale_reason
            view["seen_at"] = profile.seen_at.isoformat()
        return view

    @blp.arguments(ReplaceSchedulesSchema)
    @blp.response(202, AcceptedSchema)
    def put(self, body: dict[str, Any], ref: str) -> Any:
        """Replace every posting schedule of the profile (action `replace`)."""
        return _submit(change_request(ref, body))

    @blp.arguments(PatchSchedulesSchema)
    @blp.response(202, AcceptedSchema)
    def patch(self, body: dict[str, Any], ref: str) -> Any:
        """Change some days and keep the others: `mode` set (default), add, remove or clear."""
        return _submit(change_request(ref, body))


def _live_profile(profile: Profile) -> tuple[dict[str, Any] | None, str | None]:
    """The profile's schedules and paused days as Buffer has them now (or as read in the
    last SCHEDULES_CACHE_TTL), through the account's read API, or (None, why) when the
    rate limit or Buffer's availability says to show the cache instead.

    A read takes a Buffer slot only while BUFFER_WRITE_RESERVE stay free for syncs, a
    wait slot of this process (WAIT_MAX_CONCURRENT), and BUFFER_REQUEST_TIMEOUT at most.
    Raises BufferAPIError for a refusal a retry cannot mend (e.g. the profile is gone)."""
    svc = services()
    key = _cache_key(profile)
    try:
        cached = svc.redis.get(key) if svc.settings.schedules_cache_ttl else None
    except redis.RedisError as error:
        log.warning("schedules of %s from the cache: Redis is unavailable (%s)", profile.id, error)
        return None, "the rate limiter is unavailable; showing the cached schedules"
    if cached is not None:
        return json.loads(cached), None
    if not limits.try_wait_slot():
        return None, "too many reads of Buffer in progress; showing the cached schedules"
    try:
        found = svc.backend(profile.account, for_request=True).profile(profile.id)
    except BudgetExhausted:
        return None, "rate limit reached; showing the cached schedules"
    except redis.RedisError as error:
        log.warning("schedules of %s from the cache: Redis is unavailable (%s)", profile.id, error)
        return None, "the rate limiter is unavailable; showing the cached schedules"
    except BufferAPIError as error:
        if not error.retryable:
            raise
        return None, f"Buffer could not be reached: {error.message}"
    live = {
        "schedules": [s.to_json() for s in found.schedules],
        "paused_days": list(found.paused_days),
    }
    if svc.settings.schedules_cache_ttl:
        with contextlib.suppress(redis.RedisError):
            svc.redis.set(key, json.dumps(live), px=int(svc.settings.schedules_cache_ttl * 1000))
    return live, None


def _cache_key(profile: Profile) -> str:
    """The Redis key of a profile's cached live read. It names when the bridge last wrote
    or refreshed the profile (`seen_at`, set by every sync and snapshot), so a write by
    the bridge makes the entry read before it unreachable at once."""
    return f"bridge:live-schedules:{profile.id}:{profile.seen_at.timestamp():.6f}"


def _submit(request: changes.ChangeRequest) -> Any:
    """Store the change as a job: (body, 202, Location)."""
    submitted = changes.submit(
        services(), current_client(), request, jobs.Provenance("rest", idempotency_key())
    )
    return accepted(submitted.job, **changes.answer_body(submitted))


@blp.route("/<ref>/schedules/restore")
class ProfileRestore(MethodView):
    @blp.arguments(RestoreSchema)
    @blp.response(202, AcceptedSchema)
    def post(self, body: dict[str, Any], ref: str) -> Any:
        """Put back an earlier schedule: snapshot `snapshot_id` of this profile, or without
        it the state before the latest change (404 when there is none)."""
        return _submit(change_request(ref, {"action": "restore", **body}))


@blp.route("/<ref>/history")
class ProfileHistory(MethodView):
    @blp.arguments(SnapshotListArgs, location="query", as_kwargs=True)
    @blp.response(200, HistorySchema)
    def get(self, ref: str, profile: str | None, limit: int, before: int | None) -> Any:
        """The profile's snapshots newest first, each with its diff from the one before, and
        its latest jobs."""
        client = current_client()
        found = catalog.readable(services(), client, ref)
        page = snapshots.history(services(), found.id, limit, before)
        recent = jobs.page(services(), client, jobs.JobFilter(profile_id=found.id), RECENT_JOBS)
        return {
            "profile_id": found.id,
            "snapshots": [entry.view for entry in page.entries],
            "next_before": page.next_before,
            "jobs": recent.jobs,
        }
