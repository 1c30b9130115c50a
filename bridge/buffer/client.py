"""The Buffer API v1 client: the only module that speaks HTTP to Buffer.

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
* an explicit `(connect, read)` timeout on every request, never None;
* the access token travels only in the `Authorization: Bearer` header, never
  in a URL, a body, a log line or an error message;
* every failure is one of the `BufferAPIError` classes of `bridge.errors`,
  carrying the HTTP status, Buffer's code, Buffer's message, the response and
  whether a retry is worth it (429, 5xx, timeouts, connection errors).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from types import TracebackType
from typing import Any, TypeVar

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase

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
    InvalidSchedule,
)

__all__ = [
    "DAYS",
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "PROFILE_ID_RE",
    "USER_AGENT",
    "BufferClient",
    "OnCall",
    "Profile",
    "Schedule",
    "encode_schedules",
    "error_from_exception",
    "error_from_response",
    "is_profile_id",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_BASE_URL = "https://api.bufferapp.com/1/"
DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 30.0)  # (connect, read) seconds

DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PROFILE_ID_RE = re.compile(r"[0-9a-fA-F]{24}")
TIME_RE = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]")

OnCall = Callable[[str, int | None, float], None]


def _version() -> str:
    """The installed buffer-bridge version, for the User-Agent."""
    try:
        return metadata.version("buffer-bridge")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


USER_AGENT = f"buffer-bridge/{_version()}"

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


# --------------------------------------------------------------------------- models


@dataclass(frozen=True)
class Schedule:
    """One posting schedule: the days it applies to and the times to post on them."""

    days: tuple[str, ...]
    times: tuple[str, ...]

    def __post_init__(self) -> None:
        """Store days and times as tuples even when given lists, so schedules stay hashable."""
        object.__setattr__(self, "days", tuple(self.days))
        object.__setattr__(self, "times", tuple(self.times))

    def to_json(self) -> dict[str, list[str]]:
        """The Buffer JSON shape: `{"days": [...], "times": [...]}`."""
        return {"days": list(self.days), "times": list(self.times)}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Schedule:
        """Parse Buffer's JSON shape leniently: unknown keys are ignored, missing lists are empty.

        Raises BufferAPIError ("unexpected response") when the shape is not a schedule at all.
        """
        if not isinstance(obj, Mapping):
            raise BufferAPIError(f"unexpected response from Buffer: schedule is {_kind(obj)}")
        return cls(
            days=_str_tuple(obj.get("days"), "schedule days"),
            times=_str_tuple(obj.get("times"), "schedule times"),
        )


@dataclass(frozen=True)
class Profile:
    """A Buffer profile (one connected social account), as the reference page documents it.

    Every other field of Buffer's answer (`_id`, `avatar_https`, `counts`, ...) is
    kept untouched in `extra`, so `to_json()` gives back what Buffer sent.
    """

    id: str
    service: str = ""
    service_id: str = ""
    service_username: str = ""
    formatted_username: str = ""
    timezone: str = ""
    schedules: tuple[Schedule, ...] = ()
    avatar: str = ""
    created_at: int | None = None
    default: bool = False
    user_id: str = ""
    team_members: tuple[str, ...] = ()
    statistics: dict[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    _FIELDS = (
        "id",
        "service",
        "service_id",
        "service_username",
        "formatted_username",
        "timezone",
        "schedules",
        "avatar",
        "created_at",
        "default",
        "user_id",
        "team_members",
        "statistics",
    )

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Profile:
        """Parse a profile object leniently; only a missing or empty `id` is an error."""
        if not isinstance(obj, Mapping):
            raise BufferAPIError(f"unexpected response from Buffer: profile is {_kind(obj)}")
        profile_id = obj.get("id")
        if not isinstance(profile_id, str) or not profile_id:
            raise BufferAPIError("unexpected response from Buffer: profile without an id")
        schedules = obj.get("schedules") or []
        if not isinstance(schedules, list | tuple):
            raise BufferAPIError(
                f"unexpected response from Buffer: profile schedules is {_kind(schedules)}"
            )
        statistics = obj.get("statistics")
        return cls(
            id=profile_id,
            service=_str(obj.get("service")),
            service_id=_str(obj.get("service_id")),
            service_username=_str(obj.get("service_username")),
            formatted_username=_str(obj.get("formatted_username")),
            timezone=_str(obj.get("timezone")),
            schedules=tuple(Schedule.from_json(s) for s in schedules),
            avatar=_str(obj.get("avatar")),
            created_at=_int_or_none(obj.get("created_at")),
            default=bool(obj.get("default", False)),
            user_id=_str(obj.get("user_id")),
            team_members=_str_tuple(obj.get("team_members"), "profile team_members"),
            statistics=dict(statistics) if isinstance(statistics, Mapping) else {},
            extra={k: v for k, v in obj.items() if k not in cls._FIELDS},
        )

    def to_json(self) -> dict[str, Any]:
        """The profile as Buffer's JSON, documented fields first, then every extra field."""
        out: dict[str, Any] = {
            "id": self.id,
            "service": self.service,
            "service_id": self.service_id,
            "service_username": self.service_username,
            "formatted_username": self.formatted_username,
            "timezone": self.timezone,
            "schedules": [s.to_json() for s in self.schedules],
            "avatar": self.avatar,
            "created_at": self.created_at,
            "default": self.default,
            "user_id": self.user_id,
            "team_members": list(self.team_members),
            "statistics": dict(self.statistics),
        }
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out


def is_profile_id(value: object) -> bool:
    """True when `value` looks like a Buffer profile id: 24 hexadecimal characters."""
    return isinstance(value, str) and PROFILE_ID_RE.fullmatch(value) is not None


# --------------------------------------------------------------------------- errors


def error_from_response(response: requests.Response) -> BufferAPIError:
    """The BufferAPIError (subclass) for a Buffer answer that is an error."""
    status = response.status_code
    body = _json_or_none(response)
    message: str | None = None
    code: int | None = None
    if isinstance(body, Mapping):
        raw = body.get("error") or body.get("message")
        message = str(raw).strip() if raw not in (None, "") else None
        code = _int_or_none(body.get("code"))
    cls = _error_class(status, code)
    if not message:
        message = _DEFAULT_MESSAGES[cls]
        if 300 <= status < 400:
            message = "Buffer answered with a redirect (check BUFFER_API_URL)"
        elif 200 <= status < 300:
            message = "Buffer reported a failure"
    return cls(_clean(message, response.request), status=status, code=code, response=response)


def error_from_exception(exc: requests.RequestException) -> BufferAPIError:
    """The BufferAPIError for a request that got no usable answer (timeout, dropped connection)."""
    detail = _clean(f"{type(exc).__name__}: {exc}", exc.request)
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
    # InvalidURL, MissingSchema, TooManyRedirects, ...: our configuration, not Buffer's weather.
    return BufferAPIError(f"request to Buffer failed ({detail})")


def _error_class(status: int, code: int | None) -> type[BufferAPIError]:
    """Pick the error class from the HTTP status, letting code 1010 mean 'profile not found'."""
    if code == 1010:
        return BufferNotFound
    if status in _CLASS_BY_STATUS:
        return _CLASS_BY_STATUS[status]
    if status >= 500:
        return BufferUnavailable
    if 200 <= status < 300 and code is not None:
        return _CLASS_BY_CODE.get(code, BufferAPIError)
    return BufferAPIError


def _is_failure_body(body: Any) -> bool:
    """True for a 2xx body that is really an error: `success: false`, or an `error` without success.

    The second case is an inference: Buffer's error shape `{"error", "code"}` is
    only documented with error statuses, but a 2xx carrying it is no success.
    """
    if not isinstance(body, Mapping):
        return False
    if body.get("success") is False:
        return True
    return "error" in body and body.get("success") is not True


# --------------------------------------------------------------------------- client


class _BearerAuth(AuthBase):
    """Sets `Authorization: Bearer <token>`; as request-level auth it also beats ~/.netrc."""

    def __init__(self, token: str) -> None:
        """Keep the token; it is never part of repr()."""
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add the header to an outgoing request."""
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        """Hide the token."""
        return "_BearerAuth(***)"


class BufferClient:
    """A client for one Buffer access token (one Buffer account)."""

    def __init__(
        self,
        access_token: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
        on_call: OnCall | None = None,
    ) -> None:
        """Check the settings and prepare the session; no request is made here."""
        if not isinstance(access_token, str) or not access_token.strip():
            raise ConfigError("Buffer access token is empty")
        # requests would put the whole header value, token included, in its error message.
        if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in access_token):
            raise ConfigError("Buffer access token contains whitespace or control characters")
        if not isinstance(base_url, str) or not base_url.startswith(("https://", "http://")):
            raise ConfigError(f"Buffer API URL must start with https:// or http://: {base_url!r}")
        self.base_url = base_url.rstrip("/") + "/"
        self.timeout = _check_timeout(timeout)
        self._auth = _BearerAuth(access_token)
        self._owns_session = session is None
        self.session = session if session is not None else _new_session()
        self.on_call = on_call
        self.calls = 0

    def __repr__(self) -> str:
        """Show where the client points, never its token."""
        return f"BufferClient(base_url={self.base_url!r}, calls={self.calls})"

    # -- endpoints

    def profiles(self) -> list[Profile]:
        """Every social profile of the account (GET profiles.json)."""
        response, body = self._call("profiles", "GET", "profiles.json")
        items = _expect_list(body, "profile list", response)
        return [_parse(Profile.from_json, item, response) for item in items]

    def profile(self, profile_id: str) -> Profile:
        """One profile (GET profiles/{id}.json)."""
        path = f"profiles/{_checked_id(profile_id)}.json"
        response, body = self._call("profile", "GET", path)
        return _parse(Profile.from_json, body, response)

    def schedules(self, profile_id: str) -> list[Schedule]:
        """A profile's posting schedules (GET profiles/{id}/schedules.json)."""
        path = f"profiles/{_checked_id(profile_id)}/schedules.json"
        response, body = self._call("schedules", "GET", path)
        items = _expect_list(body, "schedule list", response)
        return [_parse(Schedule.from_json, item, response) for item in items]

    def update_schedules(self, profile_id: str, schedules: Sequence[Schedule | Mapping]) -> None:
        """Replace all of a profile's schedules (POST profiles/{id}/schedules/update.json)."""
        path = f"profiles/{_checked_id(profile_id)}/schedules/update.json"
        form = encode_schedules(schedules)
        response, body = self._call("update_schedules", "POST", path, data=form)
        if not isinstance(body, Mapping):
            raise BufferAPIError(
                f"unexpected response from Buffer: update answered {_kind(body)}",
                status=response.status_code,
                response=response,
            )

    # -- plumbing

    def _url(self, path: str) -> str:
        """The absolute URL of an API path (which always ends in .json)."""
        return self.base_url + path.lstrip("/")

    def _call(
        self,
        label: str,
        method: str,
        path: str,
        data: list[tuple[str, str]] | None = None,
    ) -> tuple[requests.Response, Any]:
        """Make one request; return the response and its JSON body, or raise a BufferAPIError."""
        response = self._send(label, method, path, data)
        if not 200 <= response.status_code < 300:
            raise error_from_response(response)
        body = _json_or_none(response)
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
        if _is_failure_body(body):
            raise error_from_response(response)
        return response, body

    def _send(
        self, label: str, method: str, path: str, data: list[tuple[str, str]] | None
    ) -> requests.Response:
        """Send one HTTP request, counting it and reporting it to on_call."""
        url = self._url(path)
        status: int | None = None
        self.calls += 1
        started = time.perf_counter()
        try:
            response = self.session.request(
                method,
                url,
                data=data,
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
                auth=self._auth,
                timeout=self.timeout,
                # A redirect means a wrong base URL; following it could turn the POST
                # into a GET or carry the token elsewhere. Report it instead.
                allow_redirects=False,
            )
            status = response.status_code
            return response
        except requests.RequestException as exc:
            raise error_from_exception(exc) from None
        finally:
            elapsed = time.perf_counter() - started
            log.debug("buffer %s %s -> %s in %.3fs", method, label, status, elapsed)
            self._report(label, status, elapsed)

    def _report(self, label: str, status: int | None, elapsed: float) -> None:
        """Tell on_call about a request; a broken metrics hook must not fail a Buffer call."""
        if self.on_call is None:
            return
        try:
            self.on_call(label, status, elapsed)
        except Exception:
            log.exception("on_call hook failed for buffer %s", label)

    def close(self) -> None:
        """Close the session if this client created it (a given session belongs to the caller)."""
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> BufferClient:
        """Use the client as a context manager that closes it on exit."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the client."""
        self.close()


# --------------------------------------------------------------------------- encoding


def encode_schedules(schedules: Sequence[Schedule | Mapping]) -> list[tuple[str, str]]:
    """Validate schedules and encode them as Buffer's PHP-style form fields, every entry indexed.

    `[("schedules[0][days][]", "mon"), ("schedules[0][times][]", "12:45"), ...]`;
    requests URL-encodes the pairs. An entry with no times ("no posting on these
    days") is sent as `schedules[i][times]=` so that Buffer still sees the entry.
    That encoding is an inference: PHP reads it as an empty `times` value, while
    leaving the key out would drop the entry's times entirely.
    """
    if isinstance(schedules, str | bytes | Mapping) or not isinstance(schedules, Sequence):
        raise InvalidSchedule("schedules must be a list of schedules", field="schedules")
    if not schedules:
        # An empty body is Buffer's 1004 "required parameter missing"; to stop posting,
        # send entries with empty times instead.
        raise InvalidSchedule("at least one schedule is required", field="schedules")
    form: list[tuple[str, str]] = []
    for i, item in enumerate(schedules):
        schedule = _validated_schedule(item, i)
        form.extend((f"schedules[{i}][days][]", day) for day in schedule.days)
        if schedule.times:
            form.extend((f"schedules[{i}][times][]", t) for t in schedule.times)
        else:
            form.append((f"schedules[{i}][times]", ""))
    return form


def _validated_schedule(item: Schedule | Mapping, index: int) -> Schedule:
    """Check one schedule entry (days mon..sun, times HH:MM) and return it as a Schedule."""
    where = f"schedules[{index}]"
    if isinstance(item, Schedule):
        days, times = item.days, item.times
    elif isinstance(item, Mapping):
        days, times = item.get("days", ()), item.get("times", ())
    else:
        raise InvalidSchedule(f"{where} is {_kind(item)}, not a schedule", field=where)
    days = _input_strings(days, f"{where}.days")
    times = _input_strings(times, f"{where}.times")
    if not days:
        raise InvalidSchedule(f"{where} has no days", field=f"{where}.days")
    for day in days:
        if day not in DAYS:
            raise InvalidSchedule(
                f"invalid day {day!r} in {where}: expected one of {', '.join(DAYS)}",
                token=day,
                field=f"{where}.days",
            )
    for t in times:
        if TIME_RE.fullmatch(t) is None:
            raise InvalidSchedule(
                f"invalid time {t!r} in {where}: expected HH:MM (24-hour)",
                token=t,
                field=f"{where}.times",
            )
    return Schedule(days=days, times=times)


def _input_strings(value: Any, where: str) -> tuple[str, ...]:
    """A list of strings from caller input; a bare string is refused (it splits into letters)."""
    if value is None:
        return ()
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidSchedule(f"{where} must be a list", field=where)
    items = tuple(value)
    for v in items:
        if not isinstance(v, str):
            raise InvalidSchedule(f"{where} must hold strings, got {_kind(v)}", field=where)
    return items


# --------------------------------------------------------------------------- helpers


def _new_session() -> requests.Session:
    """A pooled session that never retries on its own."""
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)  # the local sandbox
    return session


def _check_timeout(timeout: tuple[float, float]) -> tuple[float, float]:
    """Insist on an explicit (connect, read) pair of positive seconds."""
    try:
        connect, read = timeout
        pair = (float(connect), float(read))
    except (TypeError, ValueError):
        raise ConfigError(f"Buffer timeout must be (connect, read) seconds: {timeout!r}") from None
    if not all(0 < s < float("inf") for s in pair):
        raise ConfigError(f"Buffer timeout must be positive seconds: {timeout!r}")
    return pair


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
    """The body as a list, or an 'unexpected response' error."""
    if not isinstance(body, list):
        raise BufferAPIError(
            f"unexpected response from Buffer: expected a {what}, got {_kind(body)}",
            status=response.status_code,
            response=response,
        )
    return body


def _json_or_none(response: requests.Response) -> Any:
    """The decoded JSON body, or None when there is none or it is not JSON."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:  # requests.JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None


def _clean(message: str, request: Any) -> str:
    """Shorten a message and blank out the access token should Buffer or requests echo it."""
    headers = getattr(request, "headers", None) or {}
    auth = str(headers.get("Authorization", ""))
    token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
    if token:
        message = message.replace(token, "***")
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 3] + "..."
    return message


def _str(value: Any) -> str:
    """A string field, empty when missing; numbers (some service ids) become strings."""
    return "" if value is None else str(value)


def _str_tuple(value: Any, what: str) -> tuple[str, ...]:
    """A list of strings from Buffer's JSON; missing is empty, a non-list is unexpected."""
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise BufferAPIError(f"unexpected response from Buffer: {what} is {_kind(value)}")
    return tuple(str(v) for v in value)


def _int_or_none(value: Any) -> int | None:
    """An integer from JSON (int or digit string), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _kind(value: Any) -> str:
    """A short description of a JSON value's type, for error messages."""
    if value is None:
        return "null"
    names: dict[type, str] = {dict: "an object", list: "a list", str: "a string"}
    return names.get(type(value), f"a {type(value).__name__}")
