"""The flow every webhook adapter shares (Zapier, IFTTT, signed): authenticate, read the
fields into the one `ChangeRequest`, submit, and answer 202, or the outcome when the
caller asked to wait (`?wait=N`, up to 25 s).

Webhook fields (anything else is ignored): `action` (one of `changes.ACTIONS`, default
`set`; `set_days` is the old name of `set`), `profile`, `days`, `times`, `snapshot_id`,
`idempotency_key`; action `apply_preset` takes `preset` and `profile` instead; action
`post` takes `profile`, `text`, `when` (queue, now or an ISO 8601 time), `link` and
`image_url` (bridge.posting). A body of plain text is read as a chat command
(`set @brand weekdays 9am 5pm`, `post @brand Hello`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response, jsonify, request
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, pre_load, validate

from bridge import catalog, changes, commands, jobs, models, outcome, presets
from bridge.errors import InvalidFields, InvalidInput
from bridge.hooks import redact
from bridge.posting import posts
from bridge.profiles import label as profile_label
from bridge.web import limits
from bridge.web.answers import accepted
from bridge.web.caller import bearer_token, current_client, idempotency_key, services
from bridge.web.errors import error_body
from bridge.web.fields import DaysField, ProfileRefField, SnapshotRefField, TimesField
from bridge.web.schemas import AcceptedSchema, JobSchema, OutcomeSchema

APPLY_PRESET = "apply_preset"
POST = "post"
# what an `action` error offers: never an action that is always refused (pause, resume:
# Buffer cannot write a pause) nor an old name (set_days)
OFFERED_ACTIONS = (*changes.ACTIONS, APPLY_PRESET, POST)
# accepted: pauses get their reason from changes.py, set_days works as `set`
ACTION_NAMES = (*OFFERED_ACTIONS, *changes.ALIASES, *changes.PAUSES)
# the bodies a webhook takes, for /openapi.json: the fields as JSON or a form, or a command
_BODIES = {
    "requestBody": {
        "content": {
            "application/json": {"schema": "WebhookChange"},
            "application/x-www-form-urlencoded": {"schema": "WebhookChange"},
            "text/plain": {"schema": {"type": "string", "example": "set @brand weekdays 9am"}},
        }
    }
}
View = TypeVar("View", bound=Callable[..., Any])


def documented(blp: Blueprint) -> Callable[[View], View]:
    """Declare what every webhook route takes and answers: the webhook fields, 202 with
    the job, 200 with the outcome after `?wait=N`."""

    def decorate(view: View) -> View:
        view = blp.doc(**_BODIES)(view)
        view = blp.alt_response(200, schema=OutcomeSchema, description="`?wait`: it finished")(view)
        return blp.response(202, AcceptedSchema)(view)

    return decorate


class WebhookChangeSchema(Schema):
    """A change from a third-party tool; unknown fields (Zapier's metadata) are ignored."""

    class Meta:
        unknown = EXCLUDE

    action = fields.String(
        load_default="set",
        validate=validate.OneOf(
            ACTION_NAMES, error=f"unknown action; one of: {', '.join(OFFERED_ACTIONS)}"
        ),
    )
    profile = ProfileRefField(load_default=None)
    days = DaysField(load_default=None, metadata={"example": "weekdays"})
    times = TimesField(allow_empty=True, load_default=None, metadata={"example": "9am, 5pm"})
    snapshot_id = SnapshotRefField(load_default=None)
    idempotency_key = fields.String(load_default=None, validate=validate.Length(max=255))
    preset = fields.String(load_default=None, validate=validate.Length(min=1, max=64))

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

    @post_load
    def _request(self, data: dict[str, Any], **kwargs: Any) -> tuple[Any, Any]:
        """(the change, its idempotency key); InvalidInput names a field the action lacks.
        An `apply_preset` gives (the preset's name, the profile) instead of a change."""
        if data["action"] == APPLY_PRESET:
            if not data["preset"]:
                raise InvalidInput("apply_preset needs a preset", "preset")
            if not data["profile"]:
                raise InvalidInput("apply_preset needs a profile", "profile")
            return (data["preset"], data["profile"]), data["idempotency_key"]
        request = changes.ChangeRequest(
            action=data["action"],
            profile=data["profile"],
            days=tuple(data["days"] or ()),
            times=tuple(data["times"]) if data["times"] is not None else None,
            snapshot_id=data["snapshot_id"],
        )
        return request, data["idempotency_key"]


class WebhookPostSchema(Schema):
    """A post from a third-party tool (`action: post`); unknown fields are ignored."""

    class Meta:
        unknown = EXCLUDE

    action = fields.String(load_default=POST)
    profile = ProfileRefField(required=True)
    text = fields.String(required=True, validate=validate.Length(min=1, max=posts.MAX_TEXT))
    when = fields.String(load_default=None, validate=validate.Length(max=40))
    link = fields.String(load_default=None, validate=validate.Length(max=posts.MAX_URL))
    image_url = fields.String(load_default=None, validate=validate.Length(max=posts.MAX_URL))
    idempotency_key = fields.String(load_default=None, validate=validate.Length(max=255))

    _tidy = pre_load(WebhookChangeSchema._tidy)


def is_post(data: dict[str, Any]) -> bool:
    """True for webhook fields asking to place a post."""
    action = data.get("action")
    return isinstance(action, str) and action.strip().lower() == POST


def read_post(data: dict[str, Any]) -> tuple[str, posts.PostRequest, str | None]:
    """(the profile, the post, an idempotency key from the body) of `action: post` fields.

    Raises InvalidFields / InvalidInput (422) naming the fields that are wrong."""
    try:
        loaded = WebhookPostSchema().load(data)
    except ValidationError as error:
        messages = (
            error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
        )
        raise InvalidFields(messages) from None
    post = posts.parse(loaded["text"], loaded["when"], loaded["link"], loaded["image_url"])
    return loaded["profile"], post, loaded["idempotency_key"]


def read_change(data: dict[str, Any]) -> tuple[Any, Any]:
    """(the change, an idempotency key from the body) of webhook fields.

    Raises InvalidFields / InvalidInput (422) naming the fields that are wrong."""
    if "text" in data and not ({"profile", "days", "times"} & set(data)):
        return _from_command(str(data["text"])), data.get("idempotency_key")
    try:
        return WebhookChangeSchema().load(data)
    except ValidationError as error:
        messages = (
            error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
        )
        raise InvalidFields(messages) from None


def _from_command(text: str) -> changes.ChangeRequest | commands.PostCommand:
    """A plain-text body in the chat grammar (`set @brand weekdays 9am 5pm`, `post @brand
    Hello`)."""
    try:
        command = commands.parse(text)
    except commands.UsageError as error:
        raise InvalidInput(str(error), "text") from None
    if command.post is not None:
        return command.post
    if not command.is_change:
        raise InvalidInput(
            "a webhook can only change schedules or post: set, add, remove, clear, restore, post",
            "text",
        )
    return command.change()


class WaitArgs(Schema):
    """`?wait=N`: seconds to wait for the job (0-25); other query fields are ignored."""

    class Meta:
        unknown = EXCLUDE

    wait = fields.Integer(load_default=0, validate=validate.Range(min=0, max=changes.MAX_WAIT))


def wait_seconds() -> int:
    """The validated `?wait=` of this request (422 otherwise)."""
    try:
        return int(WaitArgs().load(request.args.to_dict())["wait"])
    except ValidationError as error:
        raise InvalidFields(dict(error.messages)) from None  # type: ignore[arg-type]


def authenticated() -> models.ApiClient:
    """The caller: the header token, else the one the middleware took out of the path.

    Raises Unauthorized (401) without a valid, unrevoked token."""
    return current_client(bearer_token() or redact.path_token(request.environ))


def handle(source: str, data: dict[str, Any], client: models.ApiClient) -> Any:
    """Turn webhook fields into a job: (body, 202, Location), or the outcome as a Response
    (200, or 502 when Buffer refused) when the caller asked to wait and it came in time."""
    wait = wait_seconds()  # checked first: a bad ?wait must not leave a job behind
    if wait:
        limits.take_wait_slot()  # 429 beyond WAIT_MAX_CONCURRENT, before anything is stored
    if is_post(data):
        ref, post, body_key = read_post(data)
        return _post(client, source, ref, post, idempotency_key(body_key), wait)
    change, body_key = read_change(data)
    if isinstance(change, commands.PostCommand):  # a plain-text `post @brand ...`
        return _post(client, source, change.profile, change.post, idempotency_key(body_key), wait)
    if isinstance(change, tuple):  # apply_preset: (preset, profile)
        name, profile = change
        submitted = _apply_preset(client, source, name, profile, idempotency_key(body_key))
    else:
        origin = jobs.Provenance(source, idempotency_key=idempotency_key(body_key))
        submitted = changes.submit(services(), client, change, origin)
    body = changes.answer_body(submitted)
    finished = changes.wait_for(services(), submitted.job.id, wait) if wait else None
    if finished is None:
        return accepted(submitted.job, **body)
    return finished_answer(finished, body, client)


def _post(
    client: models.ApiClient,
    source: str,
    ref: str,
    post: posts.PostRequest,
    key: str | None,
    wait: int,
) -> Any:
    """Store a post as a job: 202, or its outcome when the caller waits and it came."""
    job, profile, created = posts.submit(
        services(), client, ref, post, jobs.Provenance(source, key)
    )
    body: dict[str, Any] = {
        "action": POST,
        "profile": profile_label(profile),
        "profile_id": profile.id,
        "post": {**post.to_params(), "excerpt": post.excerpt},
    }
    if not created:
        body["replayed"] = True
    finished = changes.wait_for(services(), job.id, wait) if wait else None
    if finished is None:
        return accepted(job, **body)
    return finished_answer(finished, body, client)


def _apply_preset(
    client: models.ApiClient, source: str, name: str, profile: str, key: str | None
) -> changes.Submitted:
    """Put preset `name` on `profile`: one `replace` job, like any change."""
    return presets.submit_named(services(), client, name, profile, jobs.Provenance(source, key))


def finished_answer(job: models.Job, body: dict[str, Any], client: models.ApiClient) -> Response:
    """200 with the outcome of a job that succeeded; 502 in the error shape if Buffer refused.
    What it lists is cut to `client`'s scopes, as `GET /v1/jobs/<id>` is."""
    job_view = JobSchema().dump(job)
    job_view["result"] = catalog.scoped_job_result(services(), client, job)
    said = outcome.describe(job, body.get("profile"), job_view["result"])
    view = {**body, **job_view, "outcome": said}
    if job.status == models.SUCCEEDED:
        return jsonify(view)
    # the error shape's "status" is the HTTP phrase; the job's own status stays readable
    failed = {**error_body(502, outcome.explain_error(job)), "job_status": job.status}
    response = jsonify({**view, **failed})
    response.status_code = 502
    return response
