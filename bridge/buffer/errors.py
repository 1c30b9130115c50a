"""Buffer's answers mapped onto the one error tree of `bridge.errors`.

`bridge.errors` draws the tree (BufferAPIError and its six subclasses); this
module decides which class a Buffer answer or a failed request becomes, from
Buffer's published code table (behaviour.md, "Errors"), and cleans the message:
shortened, and with the access token blanked should Buffer or requests echo it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from bridge.buffer.models import int_or_none
from bridge.errors import (
    BufferAPIError,
    BufferBadRequest,
    BufferForbidden,
    BufferNotFound,
    BufferRateLimited,
    BufferUnauthorized,
    BufferUnavailable,
)

__all__ = ["error_from_exception", "error_from_response", "is_failure_body", "json_body"]

# Buffer's published code table, for answers whose HTTP status does not say it
# (HTTP 200 with {"success": false, "code": N}). 1000 "unknown error" comes with
# HTTP 500, so it is treated as Buffer being unwell, i.e. worth a retry.
_CLASS_BY_CODE: dict[int, type[BufferAPIError]] = {
    1003: BufferBadRequest,
    1004: BufferBadRequest,
    1006: BufferBadRequest,
    1012: BufferBadRequest,
    401: BufferUnauthorized,
    403: BufferForbidden,
    1001: BufferForbidden,
    1002: BufferForbidden,
    1011: BufferForbidden,
    1013: BufferForbidden,
    404: BufferNotFound,
    1010: BufferNotFound,
    429: BufferRateLimited,
    1000: BufferUnavailable,
}

_CLASS_BY_STATUS: dict[int, type[BufferAPIError]] = {
    400: BufferBadRequest,
    401: BufferUnauthorized,
    403: BufferForbidden,
    404: BufferNotFound,
    429: BufferRateLimited,
}

_DEFAULT_MESSAGES: dict[type[BufferAPIError], str] = {
    BufferBadRequest: "Buffer rejected the request",
    BufferUnauthorized: "access token missing or rejected by Buffer",
    BufferForbidden: "Buffer denied permission",
    BufferNotFound: "not found at Buffer",
    BufferRateLimited: "too many requests: over Buffer's rate limit",
    BufferUnavailable: "Buffer is unavailable",
    BufferAPIError: "Buffer refused the request",
}

_MAX_MESSAGE = 300


def error_from_response(response: requests.Response) -> BufferAPIError:
    """The BufferAPIError subclass for a Buffer answer that is an error (returned, not raised).

    The class comes from the HTTP status, or from Buffer's code when a 2xx
    carries a failure body; the message is Buffer's (`error`, else `message`)
    or a plain default, cleaned of the token.
    """
    status = response.status_code
    body = json_body(response)
    message: str | None = None
    code: int | None = None
    if isinstance(body, Mapping):
        raw = body.get("error") or body.get("message")
        message = str(raw).strip() if raw not in (None, "") else None
        code = int_or_none(body.get("code"))
    cls = _error_class(status, code)
    if not message:
        message = _DEFAULT_MESSAGES[cls]
        if 300 <= status < 400:
            message = "Buffer answered with a redirect (check BUFFER_API_URL)"
        elif 200 <= status < 300:
            message = "Buffer reported a failure"
    return cls(
        clean_message(message, response.request), status=status, code=code, response=response
    )


def error_from_exception(exc: requests.RequestException) -> BufferAPIError:
    """The BufferAPIError for a request that got no usable answer (returned, not raised).

    Timeouts and broken connections are BufferUnavailable (worth a retry);
    anything else (bad URL, too many redirects) is our configuration, so a plain
    BufferAPIError that no retry will fix.
    """
    detail = clean_message(f"{type(exc).__name__}: {exc}", exc.request)
    if isinstance(exc, requests.Timeout):
        return BufferUnavailable(f"Buffer did not answer in time ({detail})")
    if isinstance(
        exc,
        requests.ConnectionError
        | requests.exceptions.ChunkedEncodingError
        | requests.exceptions.ContentDecodingError,
    ):
        # ChunkedEncodingError is a connection dropped mid-body; not a ConnectionError
        # subclass in requests, but the same fault as far as a retry is concerned.
        return BufferUnavailable(f"could not reach Buffer ({detail})")
    return BufferAPIError(f"request to Buffer failed ({detail})")


def is_failure_body(body: Any) -> bool:
    """True for a 2xx body that is really an error: `success: false`, or an `error` without success.

    The second case is an inference: Buffer's error shape `{"error", "code"}` is
    only documented with error statuses, but a 2xx carrying it is no success.
    """
    if not isinstance(body, Mapping):
        return False
    if body.get("success") is False:
        return True
    return "error" in body and body.get("success") is not True


def json_body(response: requests.Response) -> Any:
    """The decoded JSON body, or None when there is none or it is not JSON (never raises)."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:  # requests.JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None


def _error_class(status: int, code: int | None) -> type[BufferAPIError]:
    # Code 1010 "profile could not be found" wins over the status: it is the one
    # code that says more than its status does.
    if code == 1010:
        return BufferNotFound
    if status in _CLASS_BY_STATUS:
        return _CLASS_BY_STATUS[status]
    if status >= 500:
        return BufferUnavailable
    if 200 <= status < 300 and code is not None:
        return _CLASS_BY_CODE.get(code, BufferAPIError)
    return BufferAPIError


def clean_message(message: str, request: Any) -> str:
    """`message` shortened to _MAX_MESSAGE characters, with the request's Bearer token as ***."""
    headers = getattr(request, "headers", None) or {}
    auth = str(headers.get("Authorization", ""))
    token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
    if token:
        message = message.replace(token, "***")
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 3] + "..."
    return message
