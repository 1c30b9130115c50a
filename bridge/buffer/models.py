"""Buffer's data: day names, time format, profile ids, and the Schedule, Profile and
Organization shapes, read from v1's JSON or GraphQL's (a GraphQL channel is a v1 profile).

The lowest module of the project's Buffer code: it imports only `bridge.errors` and the
domain's week vocabulary (`bridge.week`: day names and the HH:MM form, which Buffer
shares), never the other way round.

Parsing is lenient the way behaviour.md asks: unknown fields are kept or
ignored, never an error; only a shape that is not a profile or schedule at all
raises `BufferAPIError` ("unexpected response from Buffer: ...").

A profile read from GraphQL (`Profile.from_graphql`) fills the v1 fields it can
(service_username = the channel's name, formatted_username = its displayName or name,
`schedules` grouped v1-style from the one-entry-per-day postingSchedule, paused days'
times included) and adds what only GraphQL tells: `api="graphql"`, the organization,
the paused days and the channel's queue, connection and lock state.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bridge.errors import BufferAPIError
from bridge.week import DAYS, TIME_RE  # Buffer's day names and times are the domain's

__all__ = [
    "DAYS",
    "PROFILE_ID_RE",
    "TIME_RE",
    "V1_BASE_URL",
    "Organization",
    "Profile",
    "Schedule",
    "int_or_none",
    "is_profile_id",
    "kind_of",
]

# Buffer's v1 API; the client's default and BUFFER_API_URL's (the one place it is written)
V1_BASE_URL = "https://api.bufferapp.com/1/"
PROFILE_ID_RE = re.compile(r"[0-9a-fA-F]{24}")


@dataclass(frozen=True)
class Schedule:
    """One posting schedule: the days it applies to and the times to post on them."""

    days: tuple[str, ...]
    times: tuple[str, ...]

    def __post_init__(self) -> None:
        # Lists are accepted and stored as tuples so that schedules stay hashable.
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
            raise BufferAPIError(f"unexpected response from Buffer: schedule is {kind_of(obj)}")
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
    # what GraphQL adds; a v1 profile keeps these defaults
    api: str = "v1"
    organization_id: str = ""
    paused_days: tuple[str, ...] = ()
    is_queue_paused: bool = False
    is_disconnected: bool = False
    is_locked: bool = False

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
        """Parse a profile object leniently.

        Raises BufferAPIError when `obj` is not an object, has no non-empty string
        `id`, or has `schedules` or `team_members` that are not lists.
        """
        if not isinstance(obj, Mapping):
            raise BufferAPIError(f"unexpected response from Buffer: profile is {kind_of(obj)}")
        profile_id = obj.get("id")
        if not isinstance(profile_id, str) or not profile_id:
            raise BufferAPIError("unexpected response from Buffer: profile without an id")
        schedules = obj.get("schedules") or []
        if not isinstance(schedules, list | tuple):
            raise BufferAPIError(
                f"unexpected response from Buffer: profile schedules is {kind_of(schedules)}"
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
            created_at=int_or_none(obj.get("created_at")),
            default=bool(obj.get("default", False)),
            user_id=_str(obj.get("user_id")),
            team_members=_str_tuple(obj.get("team_members"), "profile team_members"),
            statistics=dict(statistics) if isinstance(statistics, Mapping) else {},
            extra={k: v for k, v in obj.items() if k not in cls._FIELDS},
        )

    @classmethod
    def from_graphql(cls, obj: Mapping[str, Any], organization_id: str = "") -> Profile:
        """Parse a GraphQL `Channel` (the fields the Channels or Channel query selects).

        `organization_id` is the organization the channel was listed under (the
        channel's own `organizationId` wins when selected). Raises BufferAPIError
        ("unexpected response") when `obj` is not a channel with an id, a name and a
        postingSchedule of `{day, paused, times}` entries.
        """
        if not isinstance(obj, Mapping):
            raise BufferAPIError(f"unexpected response from Buffer: channel is {kind_of(obj)}")
        channel_id = obj.get("id")
        if not isinstance(channel_id, str) or not channel_id:
            raise BufferAPIError("unexpected response from Buffer: channel without an id")
        name = _str(obj.get("name"))
        schedules, paused = _posting_schedule(obj.get("postingSchedule"))
        extra = {"service_type": obj["type"]} if obj.get("type") is not None else {}
        return cls(
            id=channel_id,
            service=_str(obj.get("service")),
            service_username=name,
            formatted_username=_str(obj.get("displayName")) or name,
            timezone=_str(obj.get("timezone")),
            schedules=schedules,
            extra=extra,
            api="graphql",
            organization_id=_str(obj.get("organizationId")) or organization_id,
            paused_days=paused,
            is_queue_paused=obj.get("isQueuePaused") is True,
            is_disconnected=obj.get("isDisconnected") is True,
            is_locked=obj.get("isLocked") is True,
        )

    def to_json(self) -> dict[str, Any]:
        """The profile as Buffer's JSON, documented fields first, then every extra field.

        A profile read from GraphQL also carries `api`, `organization_id`, `paused_days`,
        `is_queue_paused`, `is_disconnected` and `is_locked`; a v1 profile's JSON is
        exactly what Buffer sent."""
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
        if self.api != "v1":
            out.update(
                api=self.api,
                organization_id=self.organization_id,
                paused_days=list(self.paused_days),
                is_queue_paused=self.is_queue_paused,
                is_disconnected=self.is_disconnected,
                is_locked=self.is_locked,
            )
        return out


@dataclass(frozen=True)
class Organization:
    """A GraphQL organization: the group a channel belongs to (an API key reaches them all)."""

    id: str
    name: str = ""

    @classmethod
    def from_graphql(cls, obj: Mapping[str, Any]) -> Organization:
        """Parse `{id, name}`; BufferAPIError ("unexpected response") without a string id."""
        if not isinstance(obj, Mapping):
            raise BufferAPIError(f"unexpected response from Buffer: organization is {kind_of(obj)}")
        org_id = obj.get("id")
        if not isinstance(org_id, str) or not org_id:
            raise BufferAPIError("unexpected response from Buffer: organization without an id")
        return cls(id=org_id, name=_str(obj.get("name")))


def _posting_schedule(value: Any) -> tuple[tuple[Schedule, ...], tuple[str, ...]]:
    """GraphQL's postingSchedule -> (v1-style schedules grouping days of equal times, paused days).

    Paused days keep their times in the schedules (a pause keeps them); a day given
    twice unites its times. Raises BufferAPIError for anything but a list of entries.
    """
    if not isinstance(value, list):
        raise BufferAPIError(
            f"unexpected response from Buffer: channel postingSchedule is {kind_of(value)}"
        )
    times: dict[str, set[str]] = {}
    paused: set[str] = set()
    for entry in value:
        day = entry.get("day") if isinstance(entry, Mapping) else None
        if day not in DAYS:
            raise BufferAPIError(
                f"unexpected response from Buffer: postingSchedule entry day is {day!r}"
            )
        assert isinstance(entry, Mapping)
        entry_times = _str_tuple(entry.get("times"), "postingSchedule times")
        if not all(TIME_RE.fullmatch(t) for t in entry_times):
            raise BufferAPIError("unexpected response from Buffer: postingSchedule time not HH:MM")
        times.setdefault(day, set()).update(entry_times)
        if entry.get("paused") is True:
            paused.add(day)
    groups: dict[tuple[str, ...], list[str]] = {}
    for day in DAYS:
        if times.get(day):
            groups.setdefault(tuple(sorted(times[day])), []).append(day)
    schedules = tuple(Schedule(days=tuple(d), times=t) for t, d in groups.items())
    return schedules, tuple(d for d in DAYS if d in paused)


def is_profile_id(value: object) -> bool:
    """True when `value` looks like a Buffer profile id: 24 hexadecimal characters."""
    return isinstance(value, str) and PROFILE_ID_RE.fullmatch(value) is not None


def int_or_none(value: Any) -> int | None:
    """An integer from JSON (int, integral float or digit string); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def kind_of(value: Any) -> str:
    """A short description of a JSON value's type ("an object", "null"), for error messages."""
    if value is None:
        return "null"
    names: dict[type, str] = {dict: "an object", list: "a list", str: "a string"}
    return names.get(type(value), f"a {type(value).__name__}")


def _str(value: Any) -> str:
    # Missing fields read as empty; numbers (some service ids) become strings.
    return "" if value is None else str(value)


def _str_tuple(value: Any, what: str) -> tuple[str, ...]:
    """A list of strings from Buffer's JSON; missing is empty; a non-list raises BufferAPIError."""
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise BufferAPIError(f"unexpected response from Buffer: {what} is {kind_of(value)}")
    return tuple(str(v) for v in value)
