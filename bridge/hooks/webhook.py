"""The flow every webhook adapter shares: authenticate, read fields, submit, answer (or wait)."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from bridge import jobs, models, outcome
from bridge.api.common import accepted, bearer_token, current_client, error_body, idempotency_key
from bridge.hooks import changes, redact


class WaitArgs(Schema):
    """`?wait=N`: seconds to wait for the job (0-25); other query fields are ignored."""

    class Meta:
        unknown = EXCLUDE

    wait = fields.Integer(load_default=0, validate=validate.Range(min=0, max=changes.MAX_WAIT))


def wait_seconds() -> int:
    """The validated `?wait=` of this request."""
    try:
        return int(WaitArgs().load(request.args.to_dict())["wait"])
    except ValidationError as error:
        raise changes.InvalidBody(dict(error.messages)) from None  # type: ignore[arg-type]


def client_token() -> str | None:
    """The client token: the header, else the one the middleware took out of the path."""
    return bearer_token() or redact.path_token(request.environ)


def authenticated() -> models.ApiClient:
    """The caller (401 without a valid, unrevoked token)."""
    return current_client(client_token())


def handle(source: str, data: dict[str, Any], client: models.ApiClient) -> Response:
    """Turn webhook fields into a job and answer 202, or the outcome when asked to wait."""
    wait = wait_seconds()  # checked first: a bad ?wait must not leave a job behind
    change = changes.from_fields(data)
    key = idempotency_key(change.idempotency_key)
    submitted = changes.submit(change, client, source, idempotency_key=key)
    body = changes.answer_body(submitted)
    finished = changes.wait_for(submitted.job.id, wait) if wait else None
    if finished is None:
        return accepted(submitted.job, **body)
    return finished_answer(finished, body)


def finished_answer(job: models.Job, body: dict[str, Any]) -> Response:
    """200 with the outcome of a job that succeeded; 502 in the error shape if Buffer refused."""
    label = body.get("profile")
    view = {**body, **jobs.to_json(job), "outcome": outcome.describe(job, label)}
    if job.status == models.SUCCEEDED:
        return jsonify(view)
    # the error shape's "status" is the HTTP phrase; the job's own status stays readable
    failed = {**error_body(502, outcome.explain_error(job)), "job_status": job.status}
    response = jsonify({**view, **failed})
    response.status_code = 502
    return response
