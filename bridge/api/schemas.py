"""Marshmallow schemas for the REST API: RAISE on unknown fields (our own input)."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from bridge import schedules
from bridge.errors import InvalidSchedule


class DaysField(fields.Field):
    """Days as a list or one string: `mon`, `mon-fri`, `weekdays`, `["mon", "wed"]`."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        """Parse with the domain's day grammar."""
        return _domain(schedules.parse_days, value)


class TimesField(fields.Field):
    """Times as a list or one string: `["09:00", "5:30pm"]` or `"9am, 12:30"`."""

    def __init__(self, allow_empty: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.allow_empty = allow_empty

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        """Parse with the domain's time grammar."""
        return _domain(schedules.parse_times, value, allow_empty=self.allow_empty)


def _domain(parse: Any, value: Any, **kwargs: Any) -> Any:
    """Run a domain parser, turning its error into a marshmallow one."""
    if not isinstance(value, str | list):
        raise ValidationError("must be a string or a list of strings")
    if isinstance(value, list) and not all(isinstance(v, str) for v in value):
        raise ValidationError("must be a list of strings")
    try:
        return parse(value, **kwargs)
    except InvalidSchedule as error:
        raise ValidationError(error.message) from error


class StrictSchema(Schema):
    """Unknown fields are an error in our own API."""

    class Meta:
        unknown = RAISE


class ScheduleEntrySchema(StrictSchema):
    """One Buffer posting schedule: days and their times."""

    days = DaysField(required=True, metadata={"example": ["mon", "tue", "wed", "thu", "fri"]})
    times = TimesField(
        allow_empty=True, required=True, metadata={"example": ["09:00", "12:30", "17:00"]}
    )


class ReplaceSchedulesSchema(StrictSchema):
    """PUT: the profile's whole posting schedule."""

    schedules = fields.List(fields.Nested(ScheduleEntrySchema), required=True)

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


class PatchSchedulesSchema(StrictSchema):
    """PATCH: change some days, keep the rest."""

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


class RestoreSchema(StrictSchema):
    """POST restore: a snapshot of this profile, or the one before the latest."""

    snapshot_id = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(min=1), strict=True
    )


class SnapshotRequestSchema(StrictSchema):
    """POST /v1/snapshots: which account to snapshot (all when omitted)."""

    account = fields.String(load_default=None, allow_none=True)


class ProfileListArgs(StrictSchema):
    """GET /v1/profiles query."""

    refresh = fields.Boolean(load_default=False)
    format = fields.String(load_default="full", validate=validate.OneOf(("full", "choices")))


class JobListArgs(StrictSchema):
    """GET /v1/jobs query."""

    profile = fields.String(load_default=None)
    status = fields.String(
        load_default=None,
        validate=validate.OneOf(("queued", "running", "retrying", "succeeded", "failed")),
    )
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class SnapshotListArgs(StrictSchema):
    """GET /v1/snapshots and history query."""

    profile = fields.String(load_default=None)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    before = fields.Integer(load_default=None, validate=validate.Range(min=1))
