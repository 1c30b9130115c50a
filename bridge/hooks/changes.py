"""What every inbound adapter shares: a parsed body or command becomes a `ScheduleChange`,
and a ScheduleChange becomes a job through `bridge.jobs`, exactly as a REST call would.

Actions (webhook `action` field; chat verbs map onto the same ones):

    set        the whole week becomes `days` at `times`; days not named get no times
    set_days   `days` get exactly `times`; other days are kept (the default)
    add        `times` are added to `days`
    remove     `times` are removed from `days`
    clear      `days` get no times
    restore    the profile goes back to snapshot `snapshot_id` (default: before the last change)
    snapshot   record the current schedules of the profile's account (one Buffer call)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate
from marshmallow import validates_schema as schema_validator

from bridge import auth, commands, jobs, models, profiles, schedules, snapshots
from bridge.api.common import resolve_profile, services
from bridge.api.schemas import DaysField, TimesField
from bridge.errors import InvalidInput

ACTIONS = ("set", "set_days", "add", "remove", "clear", "restore", "snapshot")
NEEDS_TIMES = ("set", "set_days", "add", "remove")
NEEDS_DAYS = (*NEEDS_TIMES, "clear")
MAX_WAIT = 25  # seconds: under Zapier's 30 s request limit
POLL_INTERVAL = 0.2


class InvalidBody(InvalidInput):
    """A body that failed its schema: every field's messages, in the one error shape."""

    def __init__(self, messages: dict[str, Any]) -> None:
        super().__init__("invalid input", next(iter(messages), None))
        self.messages = messages

    def errors(self) -> dict[str, Any]:
        """Marshmallow's `{field: [message]}` mapping."""
        return self.messages


class SnapshotRefField(fields.Field):
    """A snapshot id, or `previous` / empty for the state before the latest change."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        """`12`, `"12"`, `"#12"` -> 12; `"previous"`, `""`, null -> None."""
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "previous")):
            return None
        text = str(value).strip().lstrip("#") if not isinstance(value, bool) else ""
        if not text.isascii() or not text.isdigit() or not 0 < len(text) <= 18 or int(text) < 1:
            raise ValidationError("must be a snapshot id (a number) or 'previous'")
        return int(text)


class WebhookSchema(Schema):
    """The fields of a Zapier / IFTTT / signed webhook; anything else is ignored."""

    class Meta:
        unknown = EXCLUDE

    action = fields.String(load_default="set_days", validate=validate.OneOf(ACTIONS))
    profile = fields.String(load_default=None, validate=validate.Length(max=255))
    days = DaysField(load_default=None)
    times = TimesField(allow_empty=True, load_default=None)
    snapshot_id = SnapshotRefField(load_default=None)
    idempotency_key = fields.String(load_default=None)

    @pre_load
    def _tidy(self, data: Any, **kwargs: Any) -> Any:
        """Trim strings and drop empty ones: hand-typed and mapped fields are often blank."""
        if not isinstance(data, dict):
            return data
        tidy = {k: v.strip() if isinstance(v, str) else v for k, v in data.items()}
        tidy = {k: v for k, v in tidy.items() if v != "" and v is not None}
        if isinstance(tidy.get("action"), str):
            tidy["action"] = tidy["action"].lower().replace("-", "_").replace(" ", "_")
        return tidy

    @schema_validator
    def _fields_for_action(self, data: dict[str, Any], **kwargs: Any) -> None:
        """Each action needs its own fields: name the first one missing."""
        action = data.get("action", "set_days")
        if action != "snapshot" and not data.get("profile"):
            raise ValidationError(f"{action} needs a profile", "profile")
        if action in NEEDS_DAYS and not data.get("days"):
            raise ValidationError(f"{action} needs days, e.g. mon-fri", "days")
        if action in NEEDS_TIMES and not data.get("times"):
            hint = "; to empty days use action clear" if action.startswith("set") else ""
            raise ValidationError(f"{action} needs times, e.g. 9am, 12:30{hint}", "times")
        if action == "clear" and data.get("times"):
            raise ValidationError("clear takes no times", "times")


@dataclass(frozen=True)
class ScheduleChange:
    """One change asked for by any inbound adapter, validated but not yet resolved."""

    action: str
    profile: str | None = None
    days: tuple[str, ...] = ()
    times: tuple[str, ...] = ()
    snapshot_id: int | None = None
    idempotency_key: str | None = None

    def operation(self) -> schedules.Operation:
        """The schedule operation of set/set_days/add/remove/clear."""
        if self.action == "set":
            return schedules.Operation.replace({day: self.times for day in self.days})
        kind = "set" if self.action == "set_days" else self.action
        return schedules.Operation(kind, days=self.days, times=self.times)

    def normalised(self) -> dict[str, Any]:
        """The change as a Zap can use it in later steps."""
        view: dict[str, Any] = {"action": self.action, "days": list(self.days)}
        view["times"] = list(self.times)
        if self.action == "restore":
            view["snapshot_id"] = self.snapshot_id
        return view


@dataclass
class Submitted:
    """A stored change: its job, its profile (None for account snapshots) and the change."""

    job: models.Job
    change: ScheduleChange
    profile: models.Profile | None = None
    created: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def from_fields(data: dict[str, Any]) -> ScheduleChange:
    """Validate webhook fields (unknown ones ignored) into a ScheduleChange."""
    if "text" in data and not ({"profile", "days", "times"} & set(data)):
        return from_command(str(data["text"]), data.get("idempotency_key"))
    try:
        loaded = WebhookSchema().load(data)
    except ValidationError as error:
        messages = (
            error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
        )
        raise InvalidBody(messages) from None
    return ScheduleChange(
        action=loaded["action"],
        profile=loaded["profile"],
        days=tuple(loaded["days"] or ()),
        times=tuple(loaded["times"] or ()),
        snapshot_id=loaded["snapshot_id"],
        idempotency_key=loaded["idempotency_key"],
    )


def from_command(text: str, idempotency_key: Any = None) -> ScheduleChange:
    """A plain-text body in the chat grammar (`set @brand weekdays 9am 5pm`)."""
    try:
        command = commands.parse(text)
    except commands.UsageError as error:
        raise InvalidInput(str(error), "text") from None
    if not command.is_change:
        raise InvalidInput("a webhook can only change schedules: set, add, remove, clear, restore")
    action = "set_days" if command.name == "set" else command.name
    key = idempotency_key if isinstance(idempotency_key, str) else None
    return ScheduleChange(
        action, command.profile, command.days, command.times, command.snapshot_id, key
    )


def submit(
    change: ScheduleChange,
    client: models.ApiClient,
    source: str,
    idempotency_key: str | None = None,
    notify: dict[str, Any] | None = None,
) -> Submitted:
    """Store `change` as a job for `client` (403 outside its scopes) and wake a worker."""
    auth.check_write(client)
    if change.action == "snapshot":
        return _snapshot(change, client, source)
    assert change.profile is not None  # every other action was validated to name one
    profile = resolve_profile(change.profile)
    auth.check_write(client, profile)
    operation, snapshot_id = _operation(change, profile)
    job, created = jobs.submit(
        services(),
        jobs.ChangeRequest(
            profile=profile,
            operation=operation,
            source=source,
            client=client.name,
            idempotency_key=idempotency_key,
            snapshot_id=snapshot_id,
            notify=notify,
        ),
    )
    return Submitted(job, change, profile, created)


def _operation(
    change: ScheduleChange, profile: models.Profile
) -> tuple[schedules.Operation, int | None]:
    """The operation of a change; a restore reads the snapshot it puts back."""
    if change.action != "restore":
        return change.operation(), None
    with services().db.session() as session:
        snapshot = snapshots.restore_target(session, profile.id, change.snapshot_id)
        return schedules.Operation.replace(snapshots.week_of(snapshot)), snapshot.id


def _snapshot(change: ScheduleChange, client: models.ApiClient, source: str) -> Submitted:
    """Snapshot the account of the named profile, or every account for an unscoped client."""
    svc = services()
    if change.profile is not None:
        profile = resolve_profile(change.profile)
        auth.check_read(client, profile)
        job = jobs.submit_snapshot(svc, profile.account, client.name, source)
        return Submitted(job, change, profile, extra={"accounts": [profile.account]})
    if client.profiles is not None:
        raise InvalidInput("a client scoped to some profiles must name one to snapshot", "profile")
    accounts = svc.settings.account_names()
    if not accounts:
        raise InvalidInput("no Buffer account is configured (set BUFFER_ACCESS_TOKEN)")
    created = [jobs.submit_snapshot(svc, a, client.name, source) for a in accounts]
    return Submitted(
        created[0], change, extra={"accounts": accounts, "jobs": [j.id for j in created]}
    )


def answer_body(submitted: Submitted) -> dict[str, Any]:
    """The 202 body: the job and the normalised change (profile, days, times)."""
    body: dict[str, Any] = {**submitted.change.normalised(), **submitted.extra}
    profile = submitted.profile
    if profile is not None:
        body.update(profile=profiles.label(profile), profile_id=profile.id)
    if submitted.job.kind != "snapshot":
        body["change"] = submitted.job.params
    if not submitted.created:
        body["replayed"] = True  # an Idempotency-Key seen before: this is the first job
    return body


def wait_for(job_id: int, seconds: float) -> models.Job | None:
    """The job once it has finished, polling the database (never Buffer); None on timeout."""
    deadline = time.monotonic() + min(max(seconds, 0.0), MAX_WAIT)
    while True:
        with services().db.session() as session:
            job = jobs.get(session, job_id)
        if job.status in (models.SUCCEEDED, models.FAILED):
            return job
        if time.monotonic() >= deadline:
            return None
        time.sleep(min(POLL_INTERVAL, max(deadline - time.monotonic(), 0.01)))
