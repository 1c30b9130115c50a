"""The one error shape, `{"code", "status", "message", "errors"}`, and the one place that
renders it: flask-smorest's `handle_http_exception`, overridden, for HTTP errors (404,
405, 413, webargs' 422s), and the same renderer for the bridge's own error tree.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

import flask_smorest
from flask import Flask, current_app, request
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

from bridge.errors import BridgeError, InvalidInput, ServiceUnavailable, TooManyRequests

log = logging.getLogger(__name__)
RETRY_AFTER_UNAVAILABLE = "30"  # seconds, on every 503


class ErrorSchema(Schema):
    """Every error answer of the bridge."""

    code = fields.Integer(required=True, metadata={"description": "the HTTP status"})
    status = fields.String(required=True, metadata={"description": "the HTTP status phrase"})
    message = fields.String(required=True, metadata={"description": "what went wrong, in words"})
    errors = fields.Dict(
        keys=fields.String(),
        metadata={"description": "for invalid input: each wrong field and its messages"},
    )


def error_body(status: int, message: str, errors: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one JSON error shape."""
    body: dict[str, Any] = {"code": status, "status": HTTPStatus(status).phrase, "message": message}
    if errors:
        body["errors"] = errors
    return body


def render(error: BridgeError) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, body, headers) of a BridgeError: its own status, the field for bad input."""
    status = error.http_status
    errors = error.errors() if isinstance(error, InvalidInput) else None
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="buffer-bridge"'
    if status == 503:
        headers["Retry-After"] = RETRY_AFTER_UNAVAILABLE
    if isinstance(error, TooManyRequests):
        headers["Retry-After"] = str(error.retry_after)
    return status, error_body(status, error.message, errors), headers


def _bridge_error(error: BridgeError) -> tuple[dict[str, Any], int, dict[str, str]]:
    if isinstance(error, ServiceUnavailable):
        log.error("service unavailable: %s", error.message)
    status, body, headers = render(error)
    return body, status, headers


def _unexpected(error: Exception) -> tuple[dict[str, Any], int]:
    """A bug: logged with its traceback, answered 500 without details."""
    log.exception("unhandled error", exc_info=error)
    return error_body(500, "internal error; it has been logged"), 500


class Api(flask_smorest.Api):
    """flask-smorest's Api answering every error, its own and the bridge's, in one shape."""

    ERROR_SCHEMA = ErrorSchema

    def init_app(self, app: Flask, *args: Any, **kwargs: Any) -> None:
        """Register the API, then the handlers for the bridge's errors and for bugs."""
        super().init_app(app, *args, **kwargs)
        app.register_error_handler(BridgeError, _bridge_error)
        app.register_error_handler(Exception, _unexpected)

    def handle_http_exception(self, error: HTTPException) -> Any:
        """Werkzeug's and webargs' errors: 400 for a body that is not JSON (saying where it
        broke), 422 with the fields for invalid input (flat, not by location), 413 with
        the limit, the phrase otherwise."""
        status = error.code or 500
        data = getattr(error, "data", None) or {}
        messages = data.get("messages") if isinstance(data, dict) else None
        if messages is not None and status == 400:
            return error_body(400, _malformed_body_message()), 400
        if messages is not None:
            # webargs puts errors under their location ("json", "query"): keep field names flat
            flat = {k: v for location in messages.values() for k, v in location.items()}
            return error_body(422, "invalid input", flat), 422
        message = data.get("message") if isinstance(data, dict) else None
        if status == 413:
            limit = current_app.config["MAX_CONTENT_LENGTH"]
            message = f"body too large: the limit is {limit} bytes"
        # werkzeug's own headers (405's `Allow` naming the declared methods), not its type
        headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
        return error_body(status, message or error.description or ""), status, headers


def _malformed_body_message() -> str:
    """Where a JSON body broke, so the sender can find the mistake."""
    try:
        json.loads(request.get_data(cache=True) or b"")
    except json.JSONDecodeError as error:
        return f"malformed JSON: {error.msg} at line {error.lineno} column {error.colno}"
    except ValueError as error:
        return f"malformed JSON: {error}"
    return "malformed JSON body"
