"""Schedules as Buffer v1's PHP-style form body, validated before anything is sent.

Buffer's server is PHP and reads only `application/x-www-form-urlencoded` (or
multipart) bodies with nested keys (behaviour.md): a JSON body reads as
"schedules missing". Public SDKs got this wrong (index 0 only, no URL encoding,
double encoding), so every entry is indexed here and requests does the
URL-encoding. The sandbox's `bridge.sandbox.forms` is the reading side.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bridge.buffer.models import DAYS, TIME_RE, Schedule, kind_of
from bridge.errors import InvalidSchedule

__all__ = ["encode_schedules"]


def encode_schedules(schedules: Sequence[Schedule | Mapping]) -> list[tuple[str, str]]:
    """Validate schedules and encode them as Buffer's form fields, every entry indexed.

    Returns `[("schedules[0][days][]", "mon"), ("schedules[0][times][]", "12:45"), ...]`.
    Raises InvalidSchedule (with `field` naming the entry) for an empty list, an
    entry without days, a day outside mon..sun, or a time that is not HH:MM.

    An entry with no times ("no posting on these days") is sent as
    `schedules[i][times]=` so that Buffer still sees the entry. That encoding is
    an inference: PHP reads it as an empty `times` value, while leaving the key
    out would drop the entry's times entirely.
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
    """Entry `index` as a Schedule; InvalidSchedule unless it has days mon..sun and times HH:MM."""
    where = f"schedules[{index}]"
    if isinstance(item, Schedule):
        days, times = item.days, item.times
    elif isinstance(item, Mapping):
        days, times = item.get("days", ()), item.get("times", ())
    else:
        raise InvalidSchedule(f"{where} is {kind_of(item)}, not a schedule", field=where)
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
    """Caller input as a tuple of strings; InvalidSchedule for a non-list or non-string items.

    A bare string is refused rather than iterated, since it would split into letters.
    """
    if value is None:
        return ()
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidSchedule(f"{where} must be a list", field=where)
    items = tuple(value)
    for v in items:
        if not isinstance(v, str):
            raise InvalidSchedule(f"{where} must hold strings, got {kind_of(v)}", field=where)
    return items
