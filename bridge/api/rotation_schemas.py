"""Schemas of the preset and rotation-plan endpoints: what they read (RAISE on unknown
fields) and answer. Kept apart from bridge/api/schemas.py, as the event schemas are."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from bridge.api.schemas import ID_RANGE, ScheduleEntryInput
from bridge.web.fields import StrictSchema
from bridge.web.schemas import JobSchema, ScheduleEntrySchema, WeekDays

MAX_REFS = 100
NAME_LENGTH = validate.Length(min=1, max=64)
REF = fields.String(validate=validate.Length(min=1, max=255))


def week_of_entries(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """day -> times of validated schedule entries (a day in two entries: its last)."""
    return {day: entry["times"] for entry in entries for day in entry["days"]}


class PresetCreateSchema(StrictSchema):
    """POST /v1/presets: a name and exactly one of schedules, from_profile, from_snapshot."""

    name = fields.String(required=True, validate=NAME_LENGTH, metadata={"example": "weekend"})
    schedules = fields.List(
        fields.Nested(ScheduleEntryInput), load_default=None, validate=validate.Length(max=7)
    )
    from_profile = fields.String(load_default=None, validate=validate.Length(min=1, max=255))
    from_snapshot = fields.Integer(load_default=None, validate=ID_RANGE, strict=True)


class PresetUpdateSchema(StrictSchema):
    """PUT /v1/presets/<name>: its new week."""

    schedules = fields.List(
        fields.Nested(ScheduleEntryInput), required=True, validate=validate.Length(max=7)
    )


class PresetApplySchema(StrictSchema):
    """POST /v1/presets/<name>/apply: profiles, or every profile of a service."""

    profiles = fields.List(
        fields.String(validate=validate.Length(min=1, max=255)),
        load_default=None,
        validate=validate.Length(min=1, max=MAX_REFS),
    )
    service = fields.String(load_default=None, validate=validate.Length(min=1, max=64))


class PresetSchema(Schema):
    """A preset: a named week."""

    name = fields.String(required=True)
    account = fields.String()
    week = WeekDays
    schedules = fields.List(fields.Nested(ScheduleEntrySchema))
    summary = fields.String(metadata={"example": "sat-sun 10:00 16:00"})
    client = fields.String(allow_none=True)
    shared = fields.Boolean(
        metadata={"description": "account-wide (true) or its scoped creator's own (false)"}
    )
    created_at = fields.String()
    updated_at = fields.String()


class PresetListSchema(Schema):
    """Every preset, by name."""

    presets = fields.List(fields.Nested(PresetSchema), required=True)


class GroupSchema(Schema):
    """202: one job per profile, one group to follow them (`GET /v1/jobs?group=`)."""

    group_id = fields.String(required=True)
    preset = fields.String()
    status = fields.String(metadata={"example": "queued"})
    jobs = fields.List(fields.Nested(JobSchema), required=True)
    links = fields.Dict(keys=fields.String(), values=fields.String())


class StepsField(fields.List):
    """A plan's steps as given; `bridge.timetable.parse_steps` reads them (naming
    `steps.<i>.<key>` in its errors)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(fields.Dict(), validate=validate.Length(min=1, max=50), **kwargs)


class RotationCreateSchema(StrictSchema):
    """POST /v1/rotations: a name, profiles or a service, steps."""

    name = fields.String(required=True, validate=NAME_LENGTH, metadata={"example": "weekends"})
    profiles = fields.List(
        fields.String(validate=validate.Length(min=1, max=255)),
        validate=validate.Length(min=1, max=MAX_REFS),
    )
    service = fields.String(validate=validate.Length(min=1, max=64))
    steps = StepsField(
        required=True,
        metadata={"example": [{"preset": "weekend", "at": "sat 00:00"}]},
    )
    start = fields.String(
        load_default="now",
        validate=validate.OneOf(["now", "next"]),
        metadata={
            "description": "now: apply the step in effect now at once (one run, as run "
            "now); next: only the steps to come fire"
        },
    )


class RotationPatchSchema(StrictSchema):
    """PATCH /v1/rotations/<name>: what changes."""

    profiles = fields.List(
        fields.String(validate=validate.Length(min=1, max=255)),
        validate=validate.Length(min=1, max=MAX_REFS),
    )
    service = fields.String(validate=validate.Length(min=1, max=64))
    steps = StepsField()


class ResumeSchema(StrictSchema):
    """POST /v1/rotations/<name>/resume (the body is optional)."""

    start = fields.String(
        load_default="now",
        validate=validate.OneOf(["now", "next"]),
        metadata={"description": "now: apply the step in effect now; next: wait for it"},
    )


class PreviewArgs(StrictSchema):
    """GET .../preview: how many runs per profile."""

    count = fields.Integer(load_default=5, validate=validate.Range(min=1, max=50))


class RotationTargetSchema(Schema):
    """One profile of a plan and its runs."""

    profile_id = fields.String(required=True)
    profile = fields.String(allow_none=True)
    next_run_at = fields.String(allow_none=True)
    last_run_at = fields.String(allow_none=True)
    last_job_id = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)


class RotationSchema(Schema):
    """A rotation plan."""

    name = fields.String(required=True)
    client = fields.String(allow_none=True)
    profiles = fields.List(fields.String())
    service = fields.String(allow_none=True)
    steps = fields.List(fields.Dict())
    paused = fields.Boolean()
    created_at = fields.String()
    updated_at = fields.String()
    targets = fields.List(fields.Nested(RotationTargetSchema))


class RotationListSchema(Schema):
    """Every plan the caller may see."""

    rotations = fields.List(fields.Nested(RotationSchema), required=True)


class PreviewRunSchema(Schema):
    """One coming run: when (UTC and the profile's local time), which step, which preset."""

    at = fields.String(required=True)
    local = fields.String()
    local_text = fields.String(metadata={"example": "Sat 2027-01-09 00:00 GMT"})
    step = fields.Integer()
    action = fields.String(metadata={"enum": ["apply", "override", "revert"]})
    preset = fields.String(allow_none=True)


class PreviewTargetSchema(Schema):
    """The coming runs of one profile of a plan."""

    profile_id = fields.String(required=True)
    profile = fields.String(allow_none=True)
    timezone = fields.String()
    next_run_at = fields.DateTime(allow_none=True)
    last_run_at = fields.DateTime(allow_none=True)
    last_job_id = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    error = fields.String(
        allow_none=True,
        metadata={"description": "why this profile's runs cannot happen (none are shown)"},
    )
    runs = fields.List(fields.Nested(PreviewRunSchema))


class PreviewSchema(Schema):
    """A plan's next runs per profile."""

    name = fields.String(required=True)
    paused = fields.Boolean()
    targets = fields.List(fields.Nested(PreviewTargetSchema), required=True)


class RunNoteSchema(Schema):
    """One profile's skipped or failed runs, and why."""

    profile_id = fields.String(required=True)
    profile = fields.String(allow_none=True)
    count = fields.Integer(metadata={"description": "runs skipped (skips only)"})
    reason = fields.String(
        required=True, metadata={"example": "the override's job 12 failed: nothing to revert"}
    )
    job_id = fields.Integer(allow_none=True, metadata={"description": "the job recording it"})


class RunReportSchema(Schema):
    """202 after "run now" (and 201 on creating or resuming a plan): the jobs made, how
    many runs failed or were skipped, and per profile why (`failures`, `skips`)."""

    jobs = fields.List(fields.Nested(JobSchema), required=True)
    failed = fields.Integer()
    skipped = fields.Integer()
    failures = fields.List(fields.Nested(RunNoteSchema))
    skips = fields.List(fields.Nested(RunNoteSchema))


class RotationStartedSchema(RotationSchema):
    """A plan just created or resumed, and the run that put its step in effect (`run`:
    null with `start` next, or when a resumed plan was not paused)."""

    run = fields.Nested(RunReportSchema, allow_none=True)
