"""The Buffer API v1 client: the only module that speaks HTTP to Buffer v1.

Written to /work/shared/buffer-api/profiles.md and behaviour.md. It covers the
four Profiles endpoints, and nothing more on purpose, so that the v1 API (due to
be retired) sits behind a narrow interface:

    GET  profiles.json                        BufferClient.profiles()
    GET  profiles/{id}.json                   BufferClient.profile(id)
    GET  profiles/{id}/schedules.json         BufferClient.schedules(id)
    POST profiles/{id}/schedules/update.json  BufferClient.update_schedules(id, schedules)

Rules it keeps:

* one `requests.Session` with connection pooling and no automatic retries:
  a request that reached Buffer is never repeated here (retries, with backoff
  and the rate limit, belong to the Celery tasks);
* an explicit `(connect, read)` timeout on every request, never None, and a
  total deadline per call (by default connect + read): requests' read timeout
  bounds each socket read, not the call, so a Buffer answer dribbled a byte at a
  time could otherwise outlive the sync's profile lock. The body is streamed and
  reading stops at the deadline; a call past it is a retryable BufferUnavailable
  (the headers are read under the per-read timeout, shortened to what is left);
* the access token travels only in the `Authorization: Bearer` header, never
  in a URL, a body, a log line or an error message;
* every failure is one of the `BufferAPIError` classes of `bridge.errors`
  (chosen by `bridge.buffer.errors`), carrying the HTTP status, Buffer's code,
  Buffer's message, the response and whether a retry is worth it (429, 5xx,
  timeouts, connection errors).

The data shapes live in `bridge.buffer.models`, the form body in
`bridge.buffer.encoding`.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import requests
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from bridge import __version__
from bridge.buffer.encoding import encode_schedules
from bridge.buffer.errors import (
    error_from_exception,
    error_from_response,
    is_failure_body,
    json_body,
)
from bridge.buffer.http import BearerAuth, OnCall, SessionClient, check_timeout, new_session
from bridge.buffer.models import V1_BASE_URL, Profile, Schedule, is_profile_id, kind_of
from bridge.errors import BufferAPIError, BufferUnavailable, ConfigError, InvalidInput

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_TIMEOUT", "USER_AGENT", "BufferClient", "OnCall"]

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_BASE_URL = V1_BASE_URL
DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 30.0)  # (connect, read) seconds
_CHUNK = 64 * 1024


USER_AGENT = f"buffer-bridge/{__version__}"


class BufferClient(SessionClient):
    """A client for one Buffer access token (one Buffer account)."""

    def __init__(
        self,
        access_token: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
        on_call: OnCall | None = None,
        deadline: float | None = None,
    ) -> None:
        """Check the settings and prepare the session; no request is made here.

        `deadline` bounds each whole call, answer body included (default: connect +
        read seconds). Raises ConfigError for an empty token or one holding whitespace
        or control characters, a base URL that is not http(s), a timeout that is not a
        pair of positive seconds, or a deadline that is not positive. A given `session`
        stays the caller's to close.
        """
        if not isinstance(access_token, str) or not access_token.strip():
            raise ConfigError("Buffer access token is empty")
        # requests would put the whole header value, token included, in its error message.
        if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in access_token):
            raise ConfigError("Buffer access token contains whitespace or control characters")
        if not isinstance(base_url, str) or not base_url.startswith(("https://", "http://")):
            raise ConfigError(f"Buffer API URL must start with https:// or http://: {base_url!r}")
        self.base_url = base_url.rstrip("/") + "/"
        self.timeout = check_timeout(timeout)
        self.deadline = sum(self.timeout) if deadline is None else float(deadline)
        if not 0 < self.deadline < float("inf"):
            raise ConfigError(f"Buffer call deadline must be positive seconds: {deadline!r}")
        self._auth = BearerAuth(access_token)
        self._owns_session = session is None
        self.session = session if session is not None else new_session()
        self.on_call = on_call
        self.calls = 0

    def __repr__(self) -> str:
        return f"BufferClient(base_url={self.base_url!r}, calls={self.calls})"

    # -- endpoints

    def profiles(self) -> list[Profile]:
        """Every social profile of the account (GET profiles.json).

        Raises a BufferAPIError subclass for an error answer, and a plain
        BufferAPIError ("unexpected response") when the body is not a list of profiles.
        """
        response, body = self._call("profiles", "GET", "profiles.json")
        items = _expect_list(body, "profile list", response)
        return [_parse(Profile.from_json, item, response) for item in items]

    def profile(self, profile_id: str) -> Profile:
        """One profile (GET profiles/{id}.json).

        Raises InvalidInput before any request when `profile_id` is not 24 hex
        characters; BufferNotFound (code 1010) for an unknown profile.
        """
        path = f"profiles/{_checked_id(profile_id)}.json"
        response, body = self._call("profile", "GET", path)
        return _parse(Profile.from_json, body, response)

    def schedules(self, profile_id: str) -> list[Schedule]:
        """A profile's posting schedules as Buffer holds them (GET profiles/{id}/schedules.json).

        Raises as `profile()` does, or BufferAPIError when the body is not a list of schedules.
        """
        path = f"profiles/{_checked_id(profile_id)}/schedules.json"
        response, body = self._call("schedules", "GET", path)
        items = _expect_list(body, "schedule list", response)
        return [_parse(Schedule.from_json, item, response) for item in items]

    def update_schedules(self, profile_id: str, schedules: Sequence[Schedule | Mapping]) -> None:
        """Replace all of a profile's schedules (POST profiles/{id}/schedules/update.json).

        Returns only once Buffer answered success. Raises InvalidSchedule before
        any request for schedules Buffer would refuse (see `encode_schedules`),
        BufferForbidden for 1011 or 1013 (schedule limit), and other
        BufferAPIError subclasses as the answer says.
        """
        path = f"profiles/{_checked_id(profile_id)}/schedules/update.json"
        form = encode_schedules(schedules)
        response, body = self._call("update_schedules", "POST", path, data=form)
        if not isinstance(body, Mapping):
            raise BufferAPIError(
                f"unexpected response from Buffer: update answered {kind_of(body)}",
                status=response.status_code,
                response=response,
            )

    # -- plumbing

    def _url(self, path: str) -> str:
        return self.base_url + path.lstrip("/")

    def _call(
        self,
        label: str,
        method: str,
        path: str,
        data: list[tuple[str, str]] | None = None,
    ) -> tuple[requests.Response, Any]:
        """Make one request; return the response and its JSON body.

        Raises the BufferAPIError of an error status or a 2xx failure body, and
        BufferUnavailable for a 2xx that is not JSON.
        """
        response = self._send(label, method, path, data)
        if not 200 <= response.status_code < 300:
            raise error_from_response(response)
        body = json_body(response)
        if body is None:
            # Buffer's API always answers JSON; a 2xx that is not JSON is a proxy,
            # captive portal or maintenance page in front of it, so it is transient
            # and worth a retry (every call here is idempotent, updates included).
            raise BufferUnavailable(
                "unexpected response from Buffer: answer is not JSON "
                f"(Content-Type {response.headers.get('Content-Type', 'missing')!r})",
                status=response.status_code,
                response=response,
            )
        if is_failure_body(body):
            raise error_from_response(response)
        return response, body

    def _send(
        self, label: str, method: str, path: str, data: list[tuple[str, str]] | None
    ) -> requests.Response:
        """Send one HTTP request, counting it and reporting it to on_call, answered or not.

        Returns any response, error statuses included; raises BufferUnavailable or
        BufferAPIError (from `error_from_exception`) when no answer came.
        """
        url = self._url(path)
        status: int | None = None
        self.calls += 1
        started = time.perf_counter()
        due = time.monotonic() + self.deadline
        connect, read = self.timeout
        try:
            response = self.session.request(
                method,
                url,
                data=data,
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
                auth=self._auth,
                timeout=(connect, max(min(read, self.deadline), 0.001)),
                # A redirect means a wrong base URL; following it could turn the POST
                # into a GET or carry the token elsewhere. Report it instead.
                allow_redirects=False,
                stream=True,
            )
            status = response.status_code
            self._read_body(response, due)
            return response
        except requests.RequestException as exc:
            raise error_from_exception(exc) from None
        finally:
            elapsed = time.perf_counter() - started
            log.debug("buffer %s %s -> %s in %.3fs", method, label, status, elapsed)
            self._report(label, status, elapsed)

    def _read_body(self, response: requests.Response, due: float) -> None:
        """Read the streamed body into `response.content`, giving up at `due` (monotonic).

        Raises BufferUnavailable past the deadline or when the connection breaks
        mid-body; the half-read connection is then closed, never pooled again."""
        raw = response.raw
        if raw is None or getattr(response, "_content_consumed", False):
            return  # already read (a test double's response)
        sock = _socket_of(response)
        chunks: list[bytes] = []
        try:
            while True:
                left = due - time.monotonic()
                if left <= 0:
                    raise TimeoutError("deadline")
                if sock is not None:
                    sock.settimeout(min(left, self.timeout[1]))
                chunk = raw.read1(_CHUNK)
                if not chunk:
                    break
                chunks.append(chunk)
        except (OSError, Urllib3Error) as exc:
            response.close()
            if time.monotonic() >= due:
                raise BufferUnavailable(
                    f"Buffer did not answer within the {self.deadline:g}s deadline"
                ) from None
            if isinstance(exc, TimeoutError | Urllib3Timeout):
                raise BufferUnavailable(
                    "Buffer did not answer in time (read timeout mid-answer)"
                ) from None
            raise BufferUnavailable(
                f"could not reach Buffer (connection broken mid-answer: {type(exc).__name__})"
            ) from None
        # what requests' own `content` does once it has read a body
        response._content = b"".join(chunks)
        response._content_consumed = True  # type: ignore[attr-defined]
        response.close()  # returns the connection to the pool (the body is read in full)


def _socket_of(response: requests.Response) -> socket.socket | None:
    """The socket under a streamed response (urllib3 2), to bound each read by the deadline;
    None when it cannot be reached, and reads are then bounded by the read timeout."""
    connection = getattr(response.raw, "connection", None)
    sock = getattr(connection, "sock", None)
    return sock if isinstance(sock, socket.socket) else None


def _checked_id(profile_id: str) -> str:
    """The profile id unchanged if it is 24 hex characters, else InvalidInput (before any URL)."""
    if not is_profile_id(profile_id):
        shown = str(profile_id)
        if len(shown) > 64:
            shown = shown[:64] + "..."
        raise InvalidInput(
            f"invalid Buffer profile id '{shown}': expected 24 hexadecimal characters",
            field="profile",
        )
    return profile_id


def _parse(parser: Callable[[Any], T], obj: Any, response: requests.Response) -> T:
    """Run a from_json parser; give its 'unexpected response' error the status and response."""
    try:
        return parser(obj)
    except BufferAPIError as exc:
        raise BufferAPIError(exc.message, status=response.status_code, response=response) from None


def _expect_list(body: Any, what: str, response: requests.Response) -> list[Any]:
    """`body` when it is a list; else BufferAPIError ("unexpected response") with the response."""
    if not isinstance(body, list):
        raise BufferAPIError(
            f"unexpected response from Buffer: expected a {what}, got {kind_of(body)}",
            status=response.status_code,
            response=response,
        )
    return body
