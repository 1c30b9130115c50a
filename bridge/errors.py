"""One error tree for buffer-bridge.

    BridgeError                     anything the bridge raises on purpose
    ├── ConfigError                 a malformed setting (stops start-up, one line; HTTP 503)
    ├── InvalidInput                bad input from outside: `field` names what is wrong (HTTP 422)
    │   ├── InvalidSchedule         a day, time or schedule that does not parse
    │   ├── MalformedBody           a body that cannot be read at all (HTTP 400)
    │   └── InvalidFields           a body that failed its schema: every field's messages
    ├── NotFound                    an unknown profile, job, snapshot or client (HTTP 404)
    │   └── ProfileNotFound
    ├── Conflict                    e.g. an Idempotency-Key reused with another body (HTTP 409)
    │   └── WritesUnavailable       the account cannot change schedules (GraphQL only, v1 retired)
    ├── Forbidden                   e.g. a read-only client asking for a change (HTTP 403)
    ├── Unauthorized                no or bad credentials (HTTP 401)
    ├── UnsupportedMediaType        a REST body not sent as JSON (HTTP 415)
    ├── TooManyRequests             over a client's rate limit or a wait cap (HTTP 429)
    ├── ServiceUnavailable          a service the request needs is off or down (HTTP 503)
    │   └── DatabaseUnavailable     our own database is down: tasks retry (tasks/outage.py)
    └── BufferAPIError              Buffer refused or was unreachable (HTTP 502)
        ├── BufferBadRequest        400 (1003, 1004, 1006, 1012)
        ├── BufferUnauthorized      401 (missing or invalid token)
        ├── BufferForbidden         403 (1001, 1002, 1011, 1013)
        ├── BufferNotFound          404 (404, 1010)
        ├── BufferRateLimited       429                          retryable
        └── BufferUnavailable       5xx, timeouts, connection errors  retryable

HTTP handlers map the tree to one JSON shape: {"code", "status", "message", "errors"}.
"""

from __future__ import annotations

import math
from typing import Any


class BridgeError(Exception):
    """Base of every error the bridge raises on purpose."""

    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(BridgeError):
    """A setting is malformed or missing; the message names the variable and what it expected.

    At start-up it stops the process; met while serving a request (an account whose token
    variable is gone) it answers 503: the bridge cannot do this until it is configured."""

    http_status = 503


class InvalidInput(BridgeError):
    """Input from outside is invalid; `field` names the part that is wrong."""

    http_status = 422

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    def errors(self) -> dict[str, list[str]]:
        """The marshmallow-style `{field: [message]}` mapping of this error."""
        return {self.field or "_schema": [self.message]}


class InvalidSchedule(InvalidInput):
    """A day, time or schedule that does not parse; `token` is the offending piece."""

    def __init__(self, message: str, token: str | None = None, field: str | None = None) -> None:
        super().__init__(message, field)
        self.token = token


class MalformedBody(InvalidInput):
    """The body cannot be read at all (HTTP 400): JSON that breaks off or nests too deep,
    text that is not UTF-8."""

    http_status = 400


class InvalidFields(InvalidInput):
    """A body that failed its schema: marshmallow's `{field: [message]}` for every field."""

    def __init__(self, messages: dict[str, Any]) -> None:
        super().__init__("invalid input", next(iter(messages), None))
        self.messages = messages

    def errors(self) -> dict[str, Any]:
        """Every wrong field with its messages."""
        return self.messages


class NotFound(BridgeError):
    """Something named in a request does not exist."""

    http_status = 404


class ProfileNotFound(NotFound):
    """A profile reference matches no profile (or, for @username, more than one)."""


class Conflict(BridgeError):
    """The request conflicts with an earlier one."""

    http_status = 409


class WritesUnavailable(Conflict):
    """The account cannot change posting schedules: it has only a GraphQL key, or Buffer's
    v1 API is past its retirement. The message says so and what still works."""


class Forbidden(BridgeError):
    """The caller is authenticated but may not do this (a read-only client asking for a
    change). A profile outside its scopes is ProfileNotFound instead: 404 reveals nothing."""

    http_status = 403


class Unauthorized(BridgeError):
    """No credentials, or credentials that are not valid."""

    http_status = 401


class UnsupportedMediaType(BridgeError):
    """A REST request's body is not declared as JSON (`Content-Type: application/json`):
    read as JSON anyway it would be a guess, and read as nothing it would be answered with
    every required field missing, which says nothing of the real mistake."""

    http_status = 415


class TooManyRequests(BridgeError):
    """The caller is over its rate limit, or too many requests already wait; `retry_after`
    is the whole seconds after which trying again may succeed (the Retry-After header)."""

    http_status = 429

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = max(1, math.ceil(retry_after))


class ServiceUnavailable(BridgeError):
    """A backing service the request needs is down; try again later."""

    http_status = 503


class DatabaseUnavailable(ServiceUnavailable):
    """Our own database refused, dropped or timed out (bridge.db); the message says only
    that, the driver's words (hosts, ports) go to the log."""


class BufferAPIError(BridgeError):
    """Buffer refused a request or could not be reached.

    `status` is the HTTP status (None when no answer came), `code` Buffer's own
    error number when it sent one, `message` Buffer's words (`error`, else `message`).
    Met while serving a request it answers 502: the gateway behind the bridge refused.
    """

    http_status = 502
    retryable = False

    def __init__(
        self,
        message: str,
        status: int | None = None,
        code: int | None = None,
        response: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.response = response

    def __str__(self) -> str:
        parts = [self.message]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code is not None:
            parts.append(f"code {self.code}")
        return " / ".join(parts) if len(parts) == 1 else f"{parts[0]} ({', '.join(parts[1:])})"


class BufferBadRequest(BufferAPIError):
    """Buffer rejected the request's parameters (HTTP 400)."""


class BufferUnauthorized(BufferAPIError):
    """The access token is missing or invalid (HTTP 401)."""


class BufferForbidden(BufferAPIError):
    """The token may not do this: scope, profile access, schedule limit (HTTP 403)."""


class BufferNotFound(BufferAPIError):
    """The endpoint or the profile does not exist (HTTP 404, code 1010)."""


class BufferRateLimited(BufferAPIError):
    """Over Buffer's per-token rate limit (HTTP 429); worth a retry later."""

    retryable = True


class BufferUnavailable(BufferAPIError):
    """Buffer answered 5xx, timed out or could not be connected to; worth a retry."""

    retryable = True
