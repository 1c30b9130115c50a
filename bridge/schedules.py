"""Posting schedules as pure data: parse days and times, normalise, fold operations, diff.

A `Week` maps each of the seven days (always all seven, in week order) to a sorted
tuple of unique "HH:MM" strings. Buffer's own shape (a list of `{"days", "times"}`
entries) is converted with `from_buffer` / `to_buffer`. Changes are `Operation`s,
each idempotent, folded onto a week in order. No I/O here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bridge.buffer.models import DAYS
from bridge.errors import InvalidSchedule

__all__ = [
    "DAYS",
    "KINDS",
    "Operation",
    "Week",
    "apply",
    "describe_diff",
    "diff",
    "empty_week",
    "fold",
    "from_buffer",
    "make_week",
    "parse_days",
    "parse_time",
    "parse_times",
    "summary",
    "to_buffer",
    "week_from_json",
    "week_to_json",
]

Times = tuple[str, ...]

_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_EXTRA_ALIASES = {
    "mo": "mon",
    "tu": "tue",
    "tues": "tue",
    "we": "wed",
    "weds": "wed",
    "th": "thu",
    "thur": "thu",
    "thurs": "thu",
    "fr": "fri",
    "sa": "sat",
    "su": "sun",
}
_DAY_ALIASES: dict[str, str] = {
    **{d: d for d in DAYS},
    **dict(zip(_FULL_NAMES, DAYS, strict=True)),
    **{f"{name}s": d for name, d in zip(_FULL_NAMES, DAYS, strict=True)},  # "mondays"
    **_EXTRA_ALIASES,
}
_DAY_GROUPS: dict[str, tuple[str, ...]] = {
    "weekdays": DAYS[:5],
    "weekday": DAYS[:5],
    "weekends": DAYS[5:],
    "weekend": DAYS[5:],
    "daily": DAYS,
    "everyday": DAYS,
    "all": DAYS,
}
_DAY_HINT = "use mon..sun, ranges like mon-fri, weekdays, weekends or daily"

# "mon - fri", "mon to fri" and en/em-dash ranges all become "mon-fri" before splitting.
_RANGE_JOIN = re.compile(r"\s*(?:-|\u2013|\u2014|\bto\b|\bthrough\b|\bthru\b)\s*", re.IGNORECASE)
_SPLIT = re.compile(r"[\s,;&+]+")
_CONJUNCTIONS = frozenset({"and"})

_TIME = re.compile(r"(\d+)(?:[:.h](\d*))?\s*([ap])\.?m\.?", re.IGNORECASE)
_TIME_24 = re.compile(r"(\d+)(?:[:.h](\d*))", re.IGNORECASE)
_AMPM = re.compile(r"[ap]\.?m\.?", re.IGNORECASE)
_NAMED_TIMES = {"noon": "12:00", "midday": "12:00", "midnight": "00:00"}

KINDS: tuple[str, ...] = ("replace", "set", "add", "remove", "clear")


# --- Week ---------------------------------------------------------------------------


class Week(Mapping[str, Times]):
    """Immutable canonical week: all seven days in order, each a sorted tuple of unique HH:MM."""

    __slots__ = ("_times",)
    _times: tuple[Times, ...]

    def __init__(self, mapping: Mapping[str, Any] | None = None) -> None:
        """Normalise `mapping` (day spec -> times) into a week; missing days post nothing."""
        times = make_week(mapping or {})._times
        object.__setattr__(self, "_times", times)

    @classmethod
    def _canonical(cls, times: Iterable[Times]) -> Week:
        """Build from seven already-canonical tuples without re-validating."""
        week = cls.__new__(cls)
        object.__setattr__(week, "_times", tuple(times))
        return week

    def __getitem__(self, day: str) -> Times:
        """The sorted times of `day` (one of DAYS)."""
        try:
            return self._times[DAYS.index(day)]
        except ValueError:
            raise KeyError(day) from None

    def __iter__(self) -> Iterator[str]:
        """Days in week order."""
        return iter(DAYS)

    def __len__(self) -> int:
        """Always seven."""
        return len(DAYS)

    def __eq__(self, other: object) -> bool:
        """Equal to another Week or to any mapping with the same seven items."""
        if isinstance(other, Week):
            return self._times == other._times
        return super().__eq__(other)

    def __hash__(self) -> int:
        """Hash of the canonical tuples (weeks are immutable)."""
        return hash(self._times)

    def __setattr__(self, name: str, value: object) -> None:
        """Weeks are immutable."""
        raise AttributeError("Week is immutable")

    def __repr__(self) -> str:
        """Readable form that shows every day."""
        return f"Week({dict(self.items())!r})"

    def is_empty(self) -> bool:
        """True when no day has a posting time."""
        return not any(self._times)


def empty_week() -> Week:
    """A week with no posting times on any day."""
    return Week._canonical(() for _ in DAYS)


def make_week(mapping: Mapping[str, Any], field: str = "week") -> Week:
    """Normalise a mapping of day specs to times (days may repeat via ranges: times unite)."""
    if isinstance(mapping, Week):
        return mapping
    if not isinstance(mapping, Mapping):
        raise InvalidSchedule(f"{field} must be a mapping of days to times", field=field)
    collected: dict[str, set[str]] = {d: set() for d in DAYS}
    for key, value in mapping.items():
        for day in parse_days(key, field=field):
            collected[day].update(parse_times(value, field=f"{field}.{day}", allow_empty=True))
    return Week._canonical(tuple(sorted(collected[d])) for d in DAYS)


def week_to_json(week: Week) -> dict[str, list[str]]:
    """Plain JSON dict: every day in week order to its list of times."""
    return {day: list(week[day]) for day in DAYS}


def week_from_json(d: Mapping[str, Any], field: str = "week") -> Week:
    """Read a week written by `week_to_json` (validating; raises InvalidSchedule)."""
    return make_week(d, field=field)


def _with(week: Week, changes: Mapping[str, Iterable[str]]) -> Week:
    """Copy of `week` with the given days' times replaced by canonical tuples."""
    return Week._canonical(
        tuple(sorted(set(changes[d]))) if d in changes else week[d] for d in DAYS
    )


# --- Parsing ----------------------------------------------------------------------------


def _tokens(value: str | Iterable[str], field: str, what: str) -> list[str]:
    """Split a string or the strings of an iterable on commas, spaces, ';', '&' and 'and'."""
    if isinstance(value, str):
        parts: Iterable[Any] = [value]
    elif isinstance(value, Iterable) and not isinstance(value, Mapping | bytes):
        parts = value
    else:
        raise InvalidSchedule(f"{what} must be a string or a list of strings", field=field)
    tokens: list[str] = []
    for part in parts:
        if not isinstance(part, str):
            raise InvalidSchedule(f"invalid {what[:-1]} {part!r}: not a string", field=field)
        joined = _RANGE_JOIN.sub("-", part.strip()) if what == "days" else part
        tokens.extend(t for t in _SPLIT.split(joined) if t and t.lower() not in _CONJUNCTIONS)
    return tokens


def _one_day(token: str, field: str, whole: str | None = None) -> str:
    """Resolve a single day name or abbreviation to mon..sun."""
    day = _DAY_ALIASES.get(token.lower().rstrip("."))
    if day is None:
        msg = f"unknown day {token!r} ({_DAY_HINT})"
        if whole is not None:
            msg = f"invalid day range {whole!r}: {msg}"
        raise InvalidSchedule(msg, token=whole or token, field=field)
    return day


def _day_range(token: str, field: str) -> tuple[str, ...]:
    """Expand 'mon-fri' (or wrapping 'fri-mon') to its days in walking order."""
    start, _, end = token.partition("-")
    if not start or not end or "-" in end:
        msg = f"invalid day range {token!r}: write it as two days, like mon-fri"
        raise InvalidSchedule(msg, token=token, field=field)
    first, last = _one_day(start, field, token), _one_day(end, field, token)
    i, j = DAYS.index(first), DAYS.index(last)
    span = (j - i) % len(DAYS)
    return tuple(DAYS[(i + k) % len(DAYS)] for k in range(span + 1))


def _day_token(token: str, field: str) -> tuple[str, ...]:
    """Days named by one token: a day, a group (weekdays, daily...) or a range."""
    group = _DAY_GROUPS.get(token.lower())
    if group is not None:
        return group
    if "-" in token:
        return _day_range(token, field)
    return (_one_day(token, field),)


def parse_days(value: str | Iterable[str], field: str = "days") -> tuple[str, ...]:
    """Day names in week order, unique, from a string or list of day specs."""
    chosen: set[str] = set()
    for token in _tokens(value, field, "days"):
        chosen.update(_day_token(token, field))
    if not chosen:
        raise InvalidSchedule(f"no days given ({_DAY_HINT})", field=field)
    return tuple(d for d in DAYS if d in chosen)


def _bad_time(token: str, why: str, field: str) -> InvalidSchedule:
    """The error for an unparseable time, naming the token."""
    return InvalidSchedule(f"invalid time {token!r}: {why}", token=token, field=field)


def _minutes(token: str, raw: str | None, field: str) -> int:
    """Validate the minutes of a time: None (no separator) is :00, else exactly two digits."""
    if raw is None:
        return 0
    if len(raw) != 2 or not raw.isdigit():
        raise _bad_time(token, "minutes must be two digits, like 09:05", field)
    minutes = int(raw)
    if minutes > 59:
        raise _bad_time(token, "minutes must be 00-59", field)
    return minutes


def _twelve_hour(token: str, hours: int, meridiem: str, field: str) -> int:
    """Convert a 1-12 am/pm hour to 0-23."""
    if not 1 <= hours <= 12:
        raise _bad_time(token, "hours must be 1-12 with am/pm", field)
    return hours % 12 + (12 if meridiem.lower() == "p" else 0)


def parse_time(token: str, field: str = "times") -> str:
    """One time ('9:00', '17:45', '9am', '5.30pm', 'noon', 'midnight') as 'HH:MM'."""
    if not isinstance(token, str):
        raise InvalidSchedule(f"invalid time {token!r}: not a string", field=field)
    text = token.strip()
    named = _NAMED_TIMES.get(text.lower())
    if named is not None:
        return named
    if match := _TIME.fullmatch(text):
        raw_hours, raw_minutes, meridiem = match.groups()
        if len(raw_hours) > 2:
            raise _bad_time(token, "hours must be 1-12 with am/pm", field)
        hours = _twelve_hour(token, int(raw_hours), meridiem, field)
    elif match := _TIME_24.fullmatch(text):
        raw_hours, raw_minutes = match.groups()
        hours = int(raw_hours)
        if len(raw_hours) > 2 or hours > 23:
            raise _bad_time(token, "hours must be 00-23", field)
    else:
        raise _bad_time(token, "use HH:MM (24-hour) or 9am / 5:30pm", field)
    return f"{hours:02d}:{_minutes(token, raw_minutes, field):02d}"


def _join_meridiems(tokens: list[str]) -> list[str]:
    """Glue a standalone 'am'/'pm' onto the number before it ('9', 'am' -> '9 am')."""
    joined: list[str] = []
    for token in tokens:
        if _AMPM.fullmatch(token) and joined and joined[-1][-1:].isdigit():
            joined[-1] = f"{joined[-1]} {token}"
        else:
            joined.append(token)
    return joined


def parse_times(
    value: str | Iterable[str], field: str = "times", allow_empty: bool = False
) -> tuple[str, ...]:
    """Sorted unique 'HH:MM' times from '9am, 12:30 5pm' or a list; empty only if allowed."""
    tokens = _join_meridiems(_tokens(value, field, "times"))
    times = tuple(sorted({parse_time(t, field) for t in tokens}))
    if not times and not allow_empty:
        raise InvalidSchedule("no times given", field=field)
    return times


# --- Buffer's shape -------------------------------------------------------------------


def _entry_part(entry: Any, key: str, index: int) -> Any:
    """`entry[key]` of Buffer's schedule entry `index`, or an InvalidSchedule."""
    field = f"schedules[{index}]"
    if not isinstance(entry, Mapping):
        raise InvalidSchedule(f"{field} must be an object with days and times", field=field)
    if key not in entry:
        raise InvalidSchedule(f"{field} has no {key!r}", field=f"{field}.{key}")
    return entry[key]


def from_buffer(entries: Iterable[Mapping[str, Any]]) -> Week:
    """Buffer's list of {"days", "times"} entries as a Week (times of a repeated day unite)."""
    if isinstance(entries, str | bytes | Mapping) or not isinstance(entries, Iterable):
        raise InvalidSchedule("schedules must be a list of {days, times}", field="schedules")
    collected: dict[str, set[str]] = {d: set() for d in DAYS}
    for i, entry in enumerate(entries):
        raw_times = _entry_part(entry, "times", i)
        times = parse_times(raw_times, field=f"schedules[{i}].times", allow_empty=True)
        for day in parse_days(_entry_part(entry, "days", i), field=f"schedules[{i}].days"):
            collected[day].update(times)
    return Week._canonical(tuple(sorted(collected[d])) for d in DAYS)


def _groups(week: Week) -> list[tuple[list[str], Times]]:
    """Days sharing identical non-empty times, ordered by their first day."""
    by_times: dict[Times, list[str]] = {}
    for day in DAYS:
        if week[day]:
            by_times.setdefault(week[day], []).append(day)
    return [(days, times) for times, days in by_times.items()]


def to_buffer(week: Week) -> list[dict[str, list[str]]]:
    """Minimal deterministic Buffer `schedules`; an all-empty week is one entry with no times."""
    entries = [{"days": days, "times": list(times)} for days, times in _groups(week)]
    return entries or [{"days": list(DAYS), "times": []}]


# --- Human text -------------------------------------------------------------------------


def _compress_days(days: Iterable[str]) -> str:
    """'mon,tue,wed,fri' -> 'mon-wed,fri' (runs of two or more become ranges)."""
    indexes = sorted(DAYS.index(d) for d in days)
    runs: list[list[int]] = []
    for i in indexes:
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return ",".join(DAYS[r[0]] if len(r) == 1 else f"{DAYS[r[0]]}-{DAYS[r[-1]]}" for r in runs)


def summary(week: Week) -> str:
    """Short text like 'mon-fri 09:00 17:00; sat-sun 10:00', or 'no posting times'."""
    parts = [f"{_compress_days(days)} {' '.join(times)}" for days, times in _groups(week)]
    return "; ".join(parts) or "no posting times"


# --- Operations -------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """One requested change to a week; applying it twice equals applying it once.

    replace: the whole week becomes `week`; set: `days` get exactly `times`;
    add / remove: `times` are added to / removed from `days`; clear: `days` get no times.
    """

    kind: str
    days: tuple[str, ...] = ()
    times: tuple[str, ...] = ()
    week: Week | None = None

    def __post_init__(self) -> None:
        """Validate and normalise (days in week order, times sorted, week canonical)."""
        if self.kind not in KINDS:
            msg = f"unknown operation {self.kind!r} (use {', '.join(KINDS)})"
            raise InvalidSchedule(msg, token=str(self.kind), field="kind")
        if self.kind == "replace":
            self._normalise_replace()
        else:
            self._normalise_days_times()

    def _normalise_replace(self) -> None:
        """A replace carries a week and nothing else."""
        if self.week is None:
            raise InvalidSchedule("replace needs a week", field="week")
        if self.days or self.times:
            raise InvalidSchedule("replace takes a week, not days or times", field="days")
        object.__setattr__(self, "week", make_week(self.week))

    def _normalise_days_times(self) -> None:
        """set/add/remove/clear carry days and (except clear) times, never a week."""
        if self.week is not None:
            raise InvalidSchedule(f"{self.kind} takes days and times, not a week", field="week")
        object.__setattr__(self, "days", parse_days(self.days))
        if self.kind == "clear" and self.times:
            raise InvalidSchedule("clear takes no times", field="times")
        times = parse_times(self.times, allow_empty=self.kind in ("set", "clear"))
        object.__setattr__(self, "times", times)

    @classmethod
    def replace(cls, week: Mapping[str, Any]) -> Operation:
        """The whole week becomes `week`."""
        return cls("replace", week=make_week(week))

    @classmethod
    def set(cls, days: str | Iterable[str], times: str | Iterable[str]) -> Operation:
        """`days` get exactly `times` (empty times clears them); other days are kept."""
        return cls("set", parse_days(days), parse_times(times, allow_empty=True))

    @classmethod
    def add(cls, days: str | Iterable[str], times: str | Iterable[str]) -> Operation:
        """Add `times` to each of `days`."""
        return cls("add", parse_days(days), parse_times(times))

    @classmethod
    def remove(cls, days: str | Iterable[str], times: str | Iterable[str]) -> Operation:
        """Remove `times` from each of `days` (times not there are ignored)."""
        return cls("remove", parse_days(days), parse_times(times))

    @classmethod
    def clear(cls, days: str | Iterable[str]) -> Operation:
        """`days` get no posting times."""
        return cls("clear", parse_days(days))

    def to_json(self) -> dict[str, Any]:
        """Plain JSON dict for storage; `from_json` reads it back."""
        if self.week is not None:
            return {"kind": self.kind, "week": week_to_json(self.week)}
        return {"kind": self.kind, "days": list(self.days), "times": list(self.times)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Operation:
        """Validate and read a dict written by `to_json`; raises InvalidSchedule."""
        if not isinstance(d, Mapping):
            raise InvalidSchedule("operation must be an object", field="_schema")
        unknown = sorted(set(d) - {"kind", "days", "times", "week"})
        if unknown:
            raise InvalidSchedule(f"unknown operation field {unknown[0]!r}", field=unknown[0])
        kind = d.get("kind")
        if not isinstance(kind, str):
            raise InvalidSchedule("operation needs a kind", field="kind")
        if kind == "replace":
            week = d.get("week")
            if not isinstance(week, Mapping):
                raise InvalidSchedule("replace needs a week", field="week")
            return cls(kind, week=week_from_json(week))
        return cls(kind, d.get("days", ()), d.get("times", ()), d.get("week"))

    def describe(self) -> str:
        """Short text for logs and job results, e.g. 'set mon-fri 09:00 17:00'."""
        if self.week is not None:
            return f"replace with {summary(self.week)}"
        days = _compress_days(self.days)
        return f"{self.kind} {days} {' '.join(self.times)}".rstrip()


def apply(week: Week, op: Operation) -> Week:
    """The week after `op`."""
    if op.kind == "replace":
        assert op.week is not None  # guaranteed by Operation.__post_init__
        return op.week
    if op.kind == "add":
        return _with(week, {d: (*week[d], *op.times) for d in op.days})
    if op.kind == "remove":
        return _with(week, {d: set(week[d]) - set(op.times) for d in op.days})
    # set and clear: clear always carries no times
    return _with(week, {d: op.times for d in op.days})


def fold(week: Week, ops: Iterable[Operation]) -> Week:
    """Apply `ops` in order."""
    for op in ops:
        week = apply(week, op)
    return week


# --- Diff -------------------------------------------------------------------------------


def diff(before: Week, after: Week) -> dict[str, dict[str, list[str]]]:
    """Changed days in week order: before, after, added and removed times."""
    changes: dict[str, dict[str, list[str]]] = {}
    for day in DAYS:
        old, new = before[day], after[day]
        if old != new:
            changes[day] = {
                "before": list(old),
                "after": list(new),
                "added": sorted(set(new) - set(old)),
                "removed": sorted(set(old) - set(new)),
            }
    return changes


def _times_text(times: Iterable[str]) -> str:
    """'09:00 12:00', or 'none'."""
    return " ".join(times) or "none"


def describe_diff(d: Mapping[str, Mapping[str, Iterable[str]]]) -> str:
    """One line such as 'mon-fri: 09:00 → 09:00 17:00; sat: none → 10:00', or 'no change'."""
    by_change: dict[tuple[str, str], list[str]] = {}
    for day in DAYS:
        if day in d:
            key = (_times_text(d[day]["before"]), _times_text(d[day]["after"]))
            by_change.setdefault(key, []).append(day)
    parts = [f"{_compress_days(days)}: {old} → {new}" for (old, new), days in by_change.items()]
    return "; ".join(parts) or "no change"
