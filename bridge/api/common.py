"""What every HTTP adapter shares: the services, the caller, 202 answers, the error shape."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, current_app, g, jsonify, request, url_for
from werkzeug.exceptions import HTTPException

from bridge import auth, jobs, models, profiles
from bridge.errors import BridgeError, InvalidInput, ServiceUnavailable
from bridge.services import Services

log = logging.getLogger(__name__)
REFRESH_ON_MISS_EVERY = 30


def services() -> Services:
    """The process's Services, built by create_app()."""
    return current_app.extensions["bridge"]


def bearer_token() -> str | None:
    """The client token from `Authorization: Bearer` or `X-Bridge-Token`."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("X-Bridge-Token") or None


def current_client(token: str | None = None) -> models.ApiClient:
    """The authenticated API client of this request (401 otherwise)."""
    if "api_client" not in g:
        with services().db.session() as session:
            g.api_client = auth.authenticate(session, token or bearer_token())
        g.client_name = g.api_client.name
    return g.api_client


def resolve_profile(ref: str, field: str = "profile") -> models.Profile:
    """The cached profile `ref` names, refreshing the cache once if it is unknown."""
    from bridge import snapshots

    profiles.check_ref(ref, field)
    with services().db.session() as session:
        try:
            return profiles.resolve(session, ref)
        except BridgeError:
            pass
    # an unknown profile may be new in Buffer: look (1 call per account), then decide; at most
    # once per REFRESH_ON_MISS_EVERY seconds, so unknown references cannot burn the rate limit
    svc = services()
    for account in svc.settings.account_names():
        if _may_refresh(svc, account):
            snapshots.take_account(svc, account)
    with svc.db.session() as session:
        return profiles.resolve(session, ref)


def _may_refresh(svc: Services, account: str) -> bool:
    """True at most once per REFRESH_ON_MISS_EVERY seconds per account (True if Redis is down)."""
    try:
        key = f"bridge:refresh-on-miss:{account}"
        return bool(svc.redis.set(key, "1", nx=True, ex=REFRESH_ON_MISS_EVERY))
    except Exception:
        return True


def idempotency_key(body_key: Any = None) -> str | None:
    """The Idempotency-Key header (or a key from the body), validated."""
    key = request.headers.get("Idempotency-Key") or body_key
    if key is not None and not isinstance(key, str):
        raise InvalidInput("must be a string", "idempotency_key")
    return jobs.check_idempotency_key(key)


def accepted(job: models.Job, **extra: Any) -> Response:
    """202 with the job and a Location header to follow it."""
    body = {"job_id": job.id, "status": job.status, **extra}
    body.setdefault("links", {"job": url_for("jobs.Job", job_id=job.id)})
    response = jsonify(body)
    response.status_code = 202
    response.headers["Location"] = url_for("jobs.Job", job_id=job.id)
    return response


def error_body(status: int, message: str, errors: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one JSON error shape."""
    body: dict[str, Any] = {
        "code": status,
        "status": HTTPStatus(status).phrase,
        "message": message,
    }
    if errors:
        body["errors"] = errors
    return body


def _bridge_error(error: BridgeError) -> tuple[Response, int]:
    """A BridgeError as its HTTP status (422 names the field)."""
    status = error.http_status if error.http_status != 500 else 502
    errors = error.errors() if isinstance(error, InvalidInput) else None
    if isinstance(error, ServiceUnavailable):
        log.error("service unavailable: %s", error.message)
    response = jsonify(error_body(status, error.message, errors))
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="buffer-bridge"'
    if status == 503:
        response.headers["Retry-After"] = "30"
    return response, status


def _http_error(error: HTTPException) -> tuple[Response, int]:
    """Werkzeug's and flask-smorest's errors in the same shape."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    messages = data.get("messages") if isinstance(data, dict) else None
    message = data.get("message") if isinstance(data, dict) and data.get("message") else None
    if messages is not None and status == 400:
        return jsonify(error_body(400, _malformed_body_message())), 400
    if messages is not None:
        # webargs puts errors under their location ("json", "query"): keep the field names flat
        errors = {k: v for location in messages.values() for k, v in location.items()}
        return jsonify(error_body(422, "invalid input", errors)), 422
    if status == 413:
        message = f"body too large: the limit is {current_app.config['MAX_CONTENT_LENGTH']} bytes"
    return jsonify(error_body(status, message or error.description or "")), status


def _malformed_body_message() -> str:
    """Say where a JSON body broke, so the sender can find the mistake."""
    try:
        json.loads(request.get_data(cache=True) or b"")
    except ValueError as error:
        if isinstance(error, json.JSONDecodeError):
            return f"malformed JSON: {error.msg} at line {error.lineno} column {error.colno}"
        return f"malformed JSON: {error}"
    return "malformed JSON body"


def _unexpected(error: Exception) -> tuple[Response, int]:
    """A bug: log it with its traceback, answer 500 without details."""
    log.exception("unhandled error", exc_info=error)
    return jsonify(error_body(500, "internal error; it has been logged")), 500


def register_error_handlers(app: Flask) -> None:
    """One JSON error shape for every route."""
    app.register_error_handler(BridgeError, _bridge_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
