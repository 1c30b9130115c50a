"""Buffer v1's data: day names, time format, profile ids, and the Schedule and Profile shapes.

The lowest module of the project's Buffer code: it imports only `bridge.errors`,
so the pure domain (`bridge.schedules`), the v1 client and the sandbox can all
take Buffer's day names and formats from here without an import cycle.

Parsing is lenient the way behaviour.md asks: unknown fields are kept or
ignored, never an error; only a shape that is not a profile or schedule at all
raises `BufferAPIError` ("unexpected response from Buffer: ...").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bridge.errors import BufferAPIError

__all__ = [
    "DAYS",
    "PROFILE_ID_RE",
    "TIME_RE",
    "Profile",
    "Schedule",
    "int_or_none",
    "is_profile_id",
    "kind_of",
]

# Buffer's day names, in week order; the domain's `Week` keeps this order too.
DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PROFILE_ID_RE = re.compile(r"[0-9a-fA-F]{24}")
# A posting time as Buffer stores it: 24-hour, zero-padded "HH:MM".
TIME_RE = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]")


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
