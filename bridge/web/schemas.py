"""Answer schemas more than one adapter gives: a job, and the 202 for an accepted change.

Views return objects (a `models.Job`) or plain dicts; `@blp.response` serialises them
through these, so /openapi.json documents every answer the bridge gives."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from bridge import models

WeekDays = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class ScheduleEntrySchema(Schema):
    """One Buffer posting schedule: days and the times to post on them."""

    days = fields.List(fields.String(), required=True, metadata={"example": ["mon", "tue"]})
    times = fields.List(fields.String(), required=True, metadata={"example": ["09:00", "17:00"]})


class JobErrorSchema(Schema):
    """Why a job's last attempt failed: Buffer's HTTP status and code when it answered."""

    status = fields.Integer(allow_none=True)
    code = fields.Integer(allow_none=True)
    message = fields.String()


class JobSchema(Schema):
    """A job: an accepted change or snapshot request, and what became of it."""

    job_id = fields.Integer(attribute="id", required=True)
    status = fields.String(
        required=True, metadata={"enum": list(models.STATUSES), "example": "succeeded"}
    )
    kind = fields.String(metadata={"example": "set"})
    profile_id = fields.String(allow_none=True)
    account = fields.String()
    source = fields.String(metadata={"example": "zapier"})
    client = fields.String(allow_none=True)
    params = fields.Dict(metadata={"description": "the schedule operation the job carries"})
    attempts = fields.Integer()
    group_id = fields.String(allow_none=True, metadata={"description": "jobs made together"})
    late_seconds = fields.Integer(
        allow_none=True, metadata={"description": "a rotation run fired this late"}
    )
    created_at = fields.DateTime(allow_none=True)
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    next_attempt_at = fields.DateTime(allow_none=True)
    result = fields.Dict(
        allow_none=True,
        metadata={"description": "before, after, diff, summary and what Buffer was sent"},
    )
    error = fields.Method("_error", allow_none=True, metadata={"type": "object"})

    def _error(self, job: models.Job) -> dict[str, Any] | None:
        if job.error_message is None:
            return None
        return JobErrorSchema().dump(
            {"status": job.error_status, "code": job.error_code, "message": job.error_message}
        )


class AcceptedSchema(Schema):
    """202: the change is stored as a job and will be made in Buffer; follow `Location`."""

    job_id = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"example": "queued"})
    action = fields.String(metadata={"example": "set"})
    profile = fields.String(
        metadata={"description": "service:username", "example": "twitter:brand"}
    )
    profile_id = fields.String()
    days = fields.List(fields.String(), metadata={"example": ["mon", "tue", "wed", "thu", "fri"]})
    times = fields.List(fields.String(), metadata={"example": ["09:00", "17:00"]})
    snapshot_id = fields.Integer(allow_none=True)
    change = fields.Dict(metadata={"description": "the schedule operation stored"})
    accounts = fields.List(fields.String(), metadata={"description": "snapshot: accounts"})
    jobs = fields.List(fields.Integer(), metadata={"description": "snapshot: one job each"})
    replayed = fields.Boolean(metadata={"description": "an Idempotency-Key seen before"})
    notice = fields.String(
        metadata={"description": "something to act on soon, e.g. Buffer retiring its v1 API"}
    )
    post = fields.Dict(metadata={"description": "a post (action post): text, when, link, excerpt"})
    links = fields.Dict(keys=fields.String(), values=fields.String())


class OutcomeSchema(AcceptedSchema, JobSchema):
    """200 after `?wait=N`: the job finished in time; `outcome` says what happened, in words."""

    job_id = fields.Integer(required=True)
    outcome = fields.String(
        metadata={"example": "Done, job 12 (twitter:brand): mon: 12:00 → 09:00"}
    )
