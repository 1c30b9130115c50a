"""The REST API's schemas: what it reads (RAISE on unknown fields: our own input) and
what it answers (every 2xx body, so /openapi.json documents it)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from bridge import changes, models, profiles, schedules
from bridge.web.fields import DaysField, StrictSchema, TimesField
from bridge.web.schemas import JobSchema, ScheduleEntrySchema, WeekDays

LIST_LIMIT = 500
ID_RANGE = validate.Range(min=1, max=models.MAX_ID)

# --- what the API reads -----------------------------------------------------------------


class NoPauses(StrictSchema):
    """A body that may not ask to pause days: `paused` is refused saying why."""

    paused = fields.Raw(
        load_default=None,
        metadata={"description": "refused: pauses cannot be written (Buffer has no field)"},
    )

    @validates_schema
    def _no_pauses(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("paused"):
            raise ValidationError(schedules.PAUSE_NOT_WRITABLE, "paused")


class ScheduleEntryInput(StrictSchema):
    """One posting schedule: days and their times."""

    days = DaysField(required=True, metadata={"example": ["mon", "tue", "wed", "thu", "fri"]})
    times = TimesField(
        allow_empty=True, required=True, metadata={"example": ["09:00", "12:30", "17:00"]}
    )


class ReplaceSchedulesSchema(NoPauses):
    """PUT: the profile's whole posting schedule (action `replace`)."""

    schedules = fields.List(fields.Nested(ScheduleEntryInput), required=True)

    @validates_schema
    def _no_day_twice(self, data: dict[str, Any], **kwargs: Any) -> None:
        """A day in two entries is ambiguous: refuse it rather than guess."""
        seen: set[str] = set()
        for index, entry in enumerate(data.get("schedules", [])):
            twice = seen & set(entry["days"])
            if twice:
                day = sorted(twice)[0]
                raise ValidationError(
                    {str(index): {"days": [f"{day} already appears in an earlier entry"]}},
                    "schedules",
                )
            seen |= set(entry["days"])

    @post_load
    def _request(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        week = {day: entry["times"] for entry in data["schedules"] for day in entry["days"]}
        return {"action": "replace", "week": week}


class PatchSchedulesSchema(NoPauses):
    """PATCH: change some days, keep the rest. `mode` is the action: set (default), add,
    remove or clear."""

    days = DaysField(required=True, metadata={"example": "weekdays"})
    times = TimesField(allow_empty=True, load_default=(), metadata={"example": ["09:00", "17:00"]})
    mode = fields.String(
        load_default="set", validate=validate.OneOf(("set", "add", "remove", "clear"))
    )

    @validates_schema
    def _times_for_mode(self, data: dict[str, Any], **kwargs: Any) -> None:
        """add/remove need times; clear takes none."""
        mode, times = data.get("mode", "set"), data.get("times", ())
        if mode in ("add", "remove") and not times:
            raise ValidationError(f"{mode} needs at least one time", "times")
        if mode == "clear" and times:
            raise ValidationError("clear takes no times", "times")

    @post_load
    def _request(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {"action": data["mode"], "days": data["days"], "times": data["times"]}


class RestoreSchema(StrictSchema):
    """POST restore: a snapshot of this profile, or the one before the latest."""

    snapshot_id = fields.Integer(load_default=None, allow_none=True, validate=ID_RANGE, strict=True)


class SnapshotRequestSchema(StrictSchema):
    """POST /v1/snapshots: which account to snapshot (all when omitted)."""

    account = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))


class ProfileListArgs(StrictSchema):
    """GET /v1/profiles query."""

    refresh = fields.Boolean(load_default=False)
    format = fields.String(load_default="full", validate=validate.OneOf(("full", "choices")))


class JobListArgs(StrictSchema):
    """GET /v1/jobs query: newest first, `before` a job id for the next page."""

    profile = fields.String(load_default=None, validate=validate.Length(max=255))
    status = fields.String(
        load_default=None,
        validate=validate.OneOf(("queued", "running", "retrying", "succeeded", "failed")),
    )
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=LIST_LIMIT))
    before = fields.Integer(load_default=None, validate=ID_RANGE)
    group = fields.String(load_default=None, validate=validate.Length(max=36))


class SnapshotListArgs(StrictSchema):
    """GET /v1/snapshots and history query: newest first, `before` a snapshot id."""

    profile = fields.String(load_default=None, validate=validate.Length(max=255))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=LIST_LIMIT))
    before = fields.Integer(load_default=None, validate=ID_RANGE)


# --- what the API answers ---------------------------------------------------------------


class ProfileSchema(Schema):
    """A profile as last seen in Buffer (the profile cache)."""

    id = fields.String(required=True, metadata={"example": "4eb854340acb04e870000010"})
    account = fields.String(metadata={"example": "default"})
    service = fields.String(metadata={"example": "twitter"})
    service_username = fields.String(metadata={"example": "brand"})
    formatted_username = fields.String(metadata={"example": "@brand"})
    timezone = fields.String(metadata={"example": "Europe/London"})
    label = fields.Function(profiles.label, metadata={"example": "twitter:brand"})
    schedules = fields.List(fields.Nested(ScheduleEntrySchema))
    paused_days = fields.List(
        fields.String(), metadata={"description": "days paused in Buffer (they keep their times)"}
    )
    seen_at = fields.DateTime()


class PostingSettingsInput(StrictSchema):
    """A profile's posting settings (PATCH /v1/profiles/<ref>): any subset."""

    schedule_mode = fields.String(
        validate=validate.OneOf(["buffer", "bridge"]),
        metadata={"description": "who keeps the posting schedule: Buffer (v1) or the bridge"},
    )
    adopt_queue = fields.Boolean(
        metadata={"description": "move posts added in Buffer's app onto the kept week"}
    )
    min_gap_minutes = fields.Integer(validate=validate.Range(min=0, max=1440))
    excluded_dates = fields.List(
        fields.Date(), validate=validate.Length(max=366), metadata={"example": ["2026-12-25"]}
    )


class PostingSettingsSchema(Schema):
    """A profile's posting settings as they are now."""

    schedule_mode = fields.String(metadata={"example": "bridge"})
    schedule_mode_chosen = fields.String(allow_none=True)
    adopt_queue = fields.Boolean()
    min_gap_minutes = fields.Integer()
    excluded_dates = fields.List(fields.String())
    can_post = fields.Boolean()
    write_back_job_id = fields.Integer(
        metadata={"description": "leaving bridge mode: the job writing the kept week to Buffer"}
    )


class ProfileWithSettingsSchema(ProfileSchema, PostingSettingsSchema):
    """A profile as last seen in Buffer, with its posting settings."""


class ProfileListSchema(Schema):
    """Every profile the caller may use; `stale` when a refresh could not reach Buffer."""

    profiles = fields.List(fields.Nested(ProfileSchema), required=True)
    stale = fields.Boolean(required=True)
    refreshed_at = fields.DateTime(
        required=True,
        allow_none=True,
        metadata={
            "description": "when Buffer was last read for these profiles (the oldest of "
            "them): a `?refresh=1` within 30 s of the last one answers from that read"
        },
    )


class ProfileChoiceSchema(Schema):
    """`?format=choices`: one dropdown entry (Zapier dynamic fields)."""

    id = fields.String(required=True)
    label = fields.String(required=True, metadata={"example": "Twitter @brand (Europe/London)"})


class SchedulesViewSchema(Schema):
    """A profile's posting schedules: Buffer's entries, a day-by-day week, a summary."""

    profile_id = fields.String(required=True)
    schedules = fields.List(fields.Nested(ScheduleEntrySchema), required=True)
    summary = fields.String(metadata={"example": "mon-fri 09:00 17:00"})
    week = WeekDays
    stale = fields.Boolean(
        required=True, metadata={"description": "true: from the cache, Buffer did not answer"}
    )
    stale_reason = fields.String()
    seen_at = fields.String(metadata={"description": "when the cached schedules were read"})
    schedule_mode = fields.String(
        metadata={"description": "bridge: the week the bridge keeps (Buffer's own is frozen)"}
    )


class DayChangeSchema(Schema):
    """One day's times before and after, and whether it was paused or resumed."""

    before = fields.List(fields.String())
    after = fields.List(fields.String())
    pause = fields.String(metadata={"enum": ["paused", "resumed"]})


class SnapshotSchema(Schema):
    """A profile's schedules at one moment, why they were recorded, and what changed."""

    id = fields.Integer(required=True)
    profile_id = fields.String(required=True)
    taken_at = fields.String(required=True)
    reason = fields.String(
        metadata={"enum": ["periodic", "before_change", "after_change", "external_change"]}
    )
    job_id = fields.Integer(allow_none=True)
    schedules = fields.List(fields.Nested(ScheduleEntrySchema))
    paused_days = fields.List(fields.String())
    summary = fields.String()
    content_hash = fields.String()
    diff = fields.Dict(keys=fields.String(), values=fields.Nested(DayChangeSchema))


class SnapshotListSchema(Schema):
    """Snapshots, newest first; `next_before` pages on (null on the last page)."""

    snapshots = fields.List(fields.Nested(SnapshotSchema), required=True)
    next_before = fields.Integer(allow_none=True)


class HistorySchema(SnapshotListSchema):
    """A profile's snapshots with their diffs, and its latest jobs for context."""

    profile_id = fields.String(required=True)
    jobs = fields.List(fields.Nested(JobSchema))


class JobListSchema(Schema):
    """Jobs, newest first; `next_before` pages on (null on the last page)."""

    jobs = fields.List(fields.Nested(JobSchema), required=True)
    next_before = fields.Integer(allow_none=True)


class OrganizationSchema(Schema):
    """A Buffer organization (GraphQL): profiles belong to one."""

    id = fields.String(required=True)
    name = fields.String(required=True)


class AccountSchema(Schema):
    """A Buffer account behind the bridge and what it can do."""

    name = fields.String(required=True, metadata={"example": "default"})
    api = fields.String(required=True, metadata={"enum": ["v1", "graphql", "both"]})
    reads_through = fields.String(metadata={"enum": ["v1", "graphql"]})
    can_read = fields.Boolean(required=True)
    can_write = fields.Boolean(required=True)
    write_refusal = fields.String(allow_none=True)
    organizations = fields.List(
        fields.Nested(OrganizationSchema),
        allow_none=True,
        metadata={"description": "as last read from Buffer's GraphQL API; null for v1"},
    )
    profiles = fields.Integer(metadata={"description": "profiles in the bridge's cache"})
    v1_sunset = fields.String(allow_none=True, metadata={"example": "2027-02-01"})
    v1_days_left = fields.Integer(allow_none=True)
    notice = fields.String(allow_none=True)
    schedule_mode = fields.String(
        metadata={
            "enum": ["buffer", "bridge"],
            "description": "who keeps its profiles' weeks by default: Buffer (written through "
            "v1) or the bridge (after v1: posts placed on the kept week's slots)",
        }
    )
    can_post = fields.Boolean(metadata={"description": "posts can be placed (a GraphQL key)"})
    bridge_mode = fields.String(
        allow_none=True, metadata={"description": "what bridge mode does and does not do"}
    )


class AccountListSchema(Schema):
    """Every Buffer account the caller may see."""

    accounts = fields.List(fields.Nested(AccountSchema), required=True)


class MeSchema(Schema):
    """The caller: its name, scopes and the Buffer accounts behind the bridge."""

    client = fields.String(required=True)
    scopes = fields.Dict()
    accounts = fields.List(fields.String())
    signed_webhooks = fields.Boolean()


def change_request(ref: str, loaded: dict[str, Any]) -> changes.ChangeRequest:
    """The one request model of a loaded PUT/PATCH/restore body for profile `ref`."""
    return changes.ChangeRequest(profile=ref, **loaded)
