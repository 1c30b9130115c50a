"""Posting schedules as pure data: normalise, fold operations, diff, describe.

A `Week` maps each of the seven days (always all seven, in week order) to a sorted
tuple of unique "HH:MM" strings. Buffer's own shape (a list of `{"days", "times"}`
entries) is converted with `from_buffer` / `to_buffer`. Changes are `Operation`s,
each idempotent, folded onto a week in order. Days and times as people write them are
read by `bridge.schedule_grammar` (re-exported here: they are the domain's words). No I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bridge.buffer.models import DAYS
from bridge.errors import InvalidSchedule
from bridge.schedule_grammar import parse_days, parse_time, parse_times

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
