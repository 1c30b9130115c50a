"""The Buffer GraphQL API client: the only module that speaks HTTP to Buffer's GraphQL API.

Written to /work/shared/buffer-api/graphql.md and graphql-subset.graphql. Three
named queries with variables, each selecting only the fields the bridge reads:

    Organizations              GraphQLClient.organizations()
    Channels($org)             GraphQLClient.channels(organization_id)
    Channel($id)               GraphQLClient.channel(channel_id)

Buffer's GraphQL API reads schedules but (as of its published reference) has no
mutation that changes one, so there is no write here: writes stay on v1.

It keeps the v1 client's rules (`bridge.buffer.client`): one `requests.Session`
that never retries, an explicit `(connect, read)` timeout, the API key only in the
`Authorization: Bearer` header (never in a URL, body, log line or error message),
no redirects followed, a descriptive User-Agent, an `on_call` observer, and every
failure one of the `BufferAPIError` classes of `bridge.errors`:

    HTTP 401, UNAUTHENTICATED              GraphQLUnauthorized  (BufferUnauthorized)
    HTTP 403, FORBIDDEN                    GraphQLForbidden     (BufferForbidden)
    NOT_FOUND                              GraphQLNotFound      (BufferNotFound: profile not found)
    HTTP 429, RATE_LIMIT_EXCEEDED          GraphQLRateLimited   (BufferRateLimited) + retry_after
    GRAPHQL_VALIDATION_FAILED, BAD_USER_INPUT
                                           GraphQLQueryError    (BufferBadRequest): a bug of
                                           ours, never retried, logged at ERROR
    5xx, timeouts, connection errors,
    a 2xx that is not JSON                 BufferUnavailable    (retryable)
    anything else                          GraphQLAPIError      (BufferAPIError)

Each GraphQL error class also carries `graphql_code` (Buffer's `extensions.code`)
and `path` (where in the answer it happened); `code` stays None, as it holds v1's
numeric codes. A 200 with `errors` and null `data` is an error; a 200 whose data
is missing a part (the field we asked for is null, or an error names a path inside
it) is the error of that part: nothing partial is returned as if it were whole.

Rate limits: the answer to obey is the 429 and its `extensions.retryAfter`. The
`RateLimit` / `RateLimit-Policy` headers (and the older `RateLimit-Limit`,
`-Remaining`, `-Reset`) are read into `last_rate_limit`, a `RateLimitHint` whose
`wait()` is how long to hold off until every window has room; callers may only
wait longer because of it, never shorter than their own limiter says.

Why no GraphQL client library: the calls are three fixed documents sent as one
JSON POST each. gql (the well-kept choice) would add a transport layer with its
own exceptions, retry options and session handling between us and the HTTP
status, headers and `extensions` that the error mapping and rate-limit hints
need, and its schema features (introspection, DSL) buy nothing for fixed queries.
graphql-core is used where it pays: the sandbox executes queries against the
schema, and the tests validate these documents against that schema.

Past 400 lines on purpose: every GraphQL query, its parsing and its error unions in one
client, as bridge/buffer/client.py is for v1; the post mutations are bridge/buffer/posts.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import requests

from bridge.buffer.client import DEFAULT_TIMEOUT, USER_AGENT
from bridge.buffer.errors import clean_message, error_from_exception, json_body
from bridge.buffer.hints import RateLimitHint, number, parse_rate_limit_headers
from bridge.buffer.http import BearerAuth, OnCall, SessionClient, check_timeout, new_session
from bridge.buffer.models import Organization, Profile, kind_of
from bridge.errors import (
    BufferAPIError,
    BufferBadRequest,
    BufferForbidden,
    BufferNotFound,
    BufferRateLimited,
    BufferUnauthorized,
    BufferUnavailable,
    ConfigError,
    InvalidInput,
)

__all__ = [
    "CHANNELS_QUERY",
    "CHANNEL_QUERY",
    "DEFAULT_URL",
    "ORGANIZATIONS_QUERY",
    "GraphQLAPIError",
    "GraphQLClient",
    "GraphQLError",
    "GraphQLForbidden",
    "GraphQLNotFound",
    "GraphQLQueryError",
    "GraphQLRateLimited",
    "GraphQLUnauthorized",
    "RateLimitHint",
]

log = logging.getLogger(__name__)

DEFAULT_URL = "https://api.buffer.com"
GRAPHQL_USER_AGENT = f"{USER_AGENT} (GraphQL; +https://github.com/buffer-bridge)"

ORGANIZATIONS_QUERY = "query Organizations { account { organizations { id name } } }"
CHANNELS_QUERY = """query Channels($org: OrganizationId!) {
  channels(input: {organizationId: $org}) {
    id name displayName service type timezone
    isQueuePaused isDisconnected isLocked
    postingSchedule { day paused times }
  }
}"""
CHANNEL_QUERY = """query Channel($id: ChannelId!) {
  channel(input: {id: $id}) { id name service timezone postingSchedule { day paused times } }
}"""

_MAX_MESSAGE = 300
_MAX_ID = 128


# --- errors ------------------------------------------------------------------------------


class GraphQLError:
    """What every GraphQL error class adds to its BufferAPIError: Buffer's code and the path."""

    graphql_code: str | None = None
    path: tuple[str | int, ...] = ()


class GraphQLAPIError(GraphQLError, BufferAPIError):
    """An error answer that fits no narrower class (not retried)."""


class GraphQLUnauthorized(GraphQLError, BufferUnauthorized):
    """HTTP 401 or UNAUTHENTICATED: the API key is missing, wrong or revoked."""


class GraphQLForbidden(GraphQLError, BufferForbidden):
    """FORBIDDEN (or HTTP 403): the key may not read this."""


class GraphQLNotFound(GraphQLError, BufferNotFound):
    """NOT_FOUND: no such channel (profile) or organization for this key."""


class GraphQLRateLimited(GraphQLError, BufferRateLimited):
    """HTTP 429 or RATE_LIMIT_EXCEEDED; `retry_after` seconds (Buffer's) when it said."""

    retry_after: float | None = None


class GraphQLQueryError(GraphQLError, BufferBadRequest):
    """GRAPHQL_VALIDATION_FAILED or BAD_USER_INPUT: our query or variables are wrong.

    A bug of ours (or Buffer changed its schema): retrying cannot help."""


class _GraphQLUnavailable(GraphQLError, BufferUnavailable):
    """5xx with a GraphQL body (retryable)."""


_CLASS_BY_CODE: dict[str, type[BufferAPIError]] = {
    "UNAUTHENTICATED": GraphQLUnauthorized,
    "FORBIDDEN": GraphQLForbidden,
    "NOT_FOUND": GraphQLNotFound,
    "RATE_LIMIT_EXCEEDED": GraphQLRateLimited,
    "GRAPHQL_VALIDATION_FAILED": GraphQLQueryError,
    "GRAPHQL_PARSE_FAILED": GraphQLQueryError,
    "BAD_USER_INPUT": GraphQLQueryError,
    "INTERNAL_SERVER_ERROR": _GraphQLUnavailable,
}
_CLASS_BY_STATUS: dict[int, type[BufferAPIError]] = {
    401: GraphQLUnauthorized,
    403: GraphQLForbidden,
    429: GraphQLRateLimited,
}
_DEFAULT_MESSAGES: dict[type[BufferAPIError], str] = {
    GraphQLUnauthorized: "API key missing or rejected by Buffer",
    GraphQLForbidden: "Buffer denied permission",
    GraphQLNotFound: "not found at Buffer",
    GraphQLRateLimited: "too many requests: over Buffer's GraphQL rate limit",
    GraphQLQueryError: "Buffer rejected the bridge's GraphQL query",
    _GraphQLUnavailable: "Buffer is unavailable",
    GraphQLAPIError: "Buffer refused the request",
}


# --- the client --------------------------------------------------------------------------


class GraphQLClient(SessionClient):
    """A client for one Buffer API key (one Buffer account, every organization it reaches)."""

    METRIC_PREFIX = "graphql_"

    def __init__(
        self,
        api_key: str,
        url: str = DEFAULT_URL,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
        on_call: OnCall | None = None,
    ) -> None:
        """Check the settings and prepare the session; no request is made here.

        `url` is POSTed to exactly as given (BUFFER_GRAPHQL_URL). Raises ConfigError
        for an empty key or one holding whitespace or control characters, a URL that
        is not http(s), or a bad timeout. A given `session` stays the caller's to close.
        """
        if not isinstance(api_key, str) or not api_key.strip():
            raise ConfigError("Buffer API key is empty")
        if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in api_key):
            raise ConfigError("Buffer API key contains whitespace or control characters")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise ConfigError(f"Buffer GraphQL URL must start with https:// or http://: {url!r}")
        self.url = url
        self.timeout = check_timeout(timeout)
        self._auth = BearerAuth(api_key)
        self._owns_session = session is None
        self.session = session if session is not None else new_session()
        self.on_call = on_call
        self.calls = 0
        self.last_rate_limit: RateLimitHint | None = None

    def __repr__(self) -> str:
        return f"GraphQLClient(url={self.url!r}, calls={self.calls})"

    # -- queries

    def organizations(self) -> list[Organization]:
        """Every organization the key reaches (query Organizations): cache it, it rarely changes."""
        data = self._query("organizations", "Organizations", ORGANIZATIONS_QUERY, {}, "account")
        account = data["account"]
        organizations = account.get("organizations") if isinstance(account, Mapping) else None
        items = _expect_list(organizations, "organization list")
        return [Organization.from_graphql(item) for item in items]

    def channels(self, organization_id: str) -> list[Profile]:
        """Every channel (profile) of one organization with its schedule (query Channels).

        One request whatever the number of channels: a snapshot of an account is one
        call per organization. Raises GraphQLNotFound / GraphQLForbidden for an
        organization the key cannot read.
        """
        org = _checked_id(organization_id, "organization")
        data = self._query("channels", "Channels", CHANNELS_QUERY, {"org": org}, "channels")
        items = _expect_list(data["channels"], "channel list")
        return [Profile.from_graphql(item, org) for item in items]

    def channel(self, channel_id: str) -> Profile:
        """One channel (profile) with its schedule (query Channel).

        Raises InvalidInput before any request for an empty or oversized id, and
        GraphQLNotFound (a BufferNotFound: profile not found) for an unknown one.
        """
        cid = _checked_id(channel_id, "profile")
        data = self._query("channel", "Channel", CHANNEL_QUERY, {"id": cid}, "channel")
        return Profile.from_graphql(data["channel"])

    # -- plumbing

    def query(
        self, label: str, operation: str, query: str, variables: dict[str, Any], root: str
    ) -> dict[str, Any]:
        """Send one named document (a query or a mutation) and return its `data`, whose
        `root` field is present: the door `bridge.buffer.posts` sends its documents by."""
        return self._query(label, operation, query, variables, root)

    def _query(
        self, label: str, operation: str, query: str, variables: dict[str, Any], root: str
    ) -> dict[str, Any]:
        """Send one named query; return `data`, whose `root` field is present and not null.

        Raises the mapped error for an error status, a body with errors that leave
        `root` null or name a path inside it, or a body that is not a GraphQL answer.
        """
        payload = {"query": query, "variables": variables, "operationName": operation}
        response = self._send(label, payload)
        body = json_body(response)
        errors = _errors_of(body)
        status = response.status_code
        if not 200 <= status < 300:
            raise _error(status, errors, response, operation)
        if not isinstance(body, Mapping):
            # A 2xx that is not JSON is a proxy or maintenance page: transient.
            raise BufferUnavailable(
                "unexpected response from Buffer: answer is not JSON "
                f"(Content-Type {response.headers.get('Content-Type', 'missing')!r})",
                status=status,
                response=response,
            )
        data = body.get("data")
        if errors:
            broken = [e for e in errors if _path(e)[:1] in ((), (root,))]
            if not isinstance(data, Mapping) or data.get(root) is None or broken:
                raise _error(status, broken or errors, response, operation)
            # errors elsewhere (a field we did not ask for) cannot touch our part
        if not isinstance(data, Mapping) or data.get(root) is None:
            raise GraphQLAPIError(
                f"unexpected response from Buffer: no {root} in the answer to {operation}",
                status=status,
                response=response,
            )
        return dict(data)

    def _send(self, label: str, payload: dict[str, Any]) -> requests.Response:
        """POST one request, counting it, reading its rate-limit headers and telling on_call.

        Returns any response; raises BufferUnavailable (timeouts, connection errors)
        or BufferAPIError when no answer came.
        """
        status: int | None = None
        self.calls += 1
        started = time.perf_counter()
        try:
            response = self.session.post(
                self.url,
                json=payload,
                headers={"User-Agent": GRAPHQL_USER_AGENT, "Accept": "application/json"},
                auth=self._auth,
                timeout=self.timeout,
                # a redirect means a wrong URL; following it could carry the key elsewhere
                allow_redirects=False,
            )
            status = response.status_code
            self._note_rate_limit(response)
            return response
        except requests.RequestException as exc:
            raise error_from_exception(exc) from None
        finally:
            elapsed = time.perf_counter() - started
            log.debug("buffer graphql %s -> %s in %.3fs", label, status, elapsed)
            self._report(label, status, elapsed)

    def _note_rate_limit(self, response: requests.Response) -> None:
        """Keep the answer's rate-limit hint (with a 429's retryAfter) in last_rate_limit."""
        retry_after = None
        if response.status_code == 429 or _has_code(response, "RATE_LIMIT_EXCEEDED"):
            retry_after = _retry_after(_errors_of(json_body(response)), response)
        hint = parse_rate_limit_headers(response.headers, retry_after)
        if hint is not None:
            self.last_rate_limit = hint


# --- helpers -----------------------------------------------------------------------------


def _errors_of(body: Any) -> list[Mapping[str, Any]]:
    """The `errors` list of a GraphQL body (only its objects); [] when there is none."""
    if not isinstance(body, Mapping) or not isinstance(body.get("errors"), list):
        return []
    return [e for e in body["errors"] if isinstance(e, Mapping)]


def _code(error: Mapping[str, Any]) -> str | None:
    extensions = error.get("extensions")
    code = extensions.get("code") if isinstance(extensions, Mapping) else None
    return code if isinstance(code, str) else None


def _path(error: Mapping[str, Any]) -> tuple[str | int, ...]:
    path = error.get("path")
    if not isinstance(path, list):
        return ()
    return tuple(p for p in path if isinstance(p, str | int))


def _has_code(response: requests.Response, code: str) -> bool:
    return any(_code(e) == code for e in _errors_of(json_body(response)))


def _retry_after(errors: Sequence[Mapping[str, Any]], response: requests.Response) -> float | None:
    """`extensions.retryAfter` seconds, else a `Retry-After` header in seconds; None if neither."""
    for error in errors:
        extensions = error.get("extensions")
        if isinstance(extensions, Mapping):
            value = number(str(extensions.get("retryAfter", "")))
            if value is not None:
                return value
    return number(response.headers.get("Retry-After"))


def _error(
    status: int,
    errors: Sequence[Mapping[str, Any]],
    response: requests.Response,
    operation: str,
) -> BufferAPIError:
    """The error of an answer: the HTTP status decides when it says more than the body,
    else the first error's `extensions.code`; the message is Buffer's, cleaned."""
    first = next((e for e in errors if _code(e) in _CLASS_BY_CODE), errors[0] if errors else {})
    code = _code(first)
    cls: type[BufferAPIError]
    if status in _CLASS_BY_STATUS:
        cls = _CLASS_BY_STATUS[status]
    elif status >= 500:
        cls = _GraphQLUnavailable
    elif code in _CLASS_BY_CODE and not 300 <= status < 400:
        cls = _CLASS_BY_CODE[code]
    else:  # a redirect, a 404 from a wrong URL, an unknown code: not worth a retry
        cls = GraphQLAPIError
    raw = first.get("message")
    message = str(raw).strip() if isinstance(raw, str) and raw.strip() else _DEFAULT_MESSAGES[cls]
    if 300 <= status < 400:
        message = "Buffer answered with a redirect (check BUFFER_GRAPHQL_URL)"
    elif status == 404 and not errors:
        message = "no GraphQL endpoint at this URL (check BUFFER_GRAPHQL_URL)"
    path = _path(first)
    if code:
        message = f"{message} [{code}{' at ' + '.'.join(map(str, path)) if path else ''}]"
    error = cls(clean_message(message, response.request), status=status, response=response)
    assert isinstance(error, GraphQLError)
    error.graphql_code = code
    error.path = path
    if isinstance(error, GraphQLRateLimited):
        error.retry_after = _retry_after(errors, response)
    if isinstance(error, GraphQLQueryError):
        # Our query does not fit Buffer's schema: every call of this kind will fail
        # until the code is fixed. Loud, once per call, never retried.
        log.error(
            "Buffer rejected the bridge's GraphQL query %s: %s (a bug in buffer-bridge, "
            "or Buffer changed its schema)",
            operation,
            error.message,
        )
    return error


def _checked_id(value: str, what: str) -> str:
    """A channel or organization id: a non-empty string of printable characters, kept short."""
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_ID:
        raise InvalidInput(f"invalid Buffer {what} id {str(value)[:64]!r}", field=what)
    if any(c.isspace() or ord(c) < 32 for c in value):
        raise InvalidInput(f"invalid Buffer {what} id {value[:64]!r}", field=what)
    return value


def _expect_list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise GraphQLAPIError(
            f"unexpected response from Buffer: expected a {what}, got {kind_of(value)}"
        )
    return value
