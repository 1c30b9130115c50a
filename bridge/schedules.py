"""Posting schedules as pure data: normalise, fold operations, diff, describe.

A `Week` maps each of the seven days (always all seven, in week order) to a sorted
tuple of unique "HH:MM" strings, and marks each day paused or not. A paused day keeps
its times but posts nothing (Buffer's GraphQL API reports it; v1 has no such notion).
Buffer v1's shape (a list of `{"days", "times"}` entries) is converted with
`from_buffer` / `to_buffer`, GraphQL's (one `{"day", "paused", "times"}` per day) with
`from_graphql` / `to_graphql`. Changes are `Operation`s, each idempotent, folded onto a
week in order. Days and times as people write them are read by `bridge.schedule_grammar`
(re-exported here: they are the domain's words). No I/O.

Pauses can be read but not written: v1, the only API that writes schedules, has no
field for them, so `to_buffer` and a `replace` operation refuse a week with paused days
(InvalidSchedule naming why) rather than drop the pause silently. `Week.unpaused()` is
the explicit way to drop it. Operations that change some days keep every pause.

Past 400 lines on purpose: the Week, the two wire shapes and the
operations are one vocabulary whose properties (round trips, idempotence, pauses kept)
are tested together in tests/test_schedules.py; the grammar is its own module.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bridge.errors import InvalidSchedule
from bridge.schedule_grammar import parse_days, parse_time, parse_times
from bridge.week import DAYS

__all__ = [
    "DAYS",
    "KINDS",
    "PAUSE_NOT_WRITABLE",
    "Operation",
    "Week",
    "apply",
    "describe_diff",
    "diff",
    "empty_week",
    "fold",
    "from_buffer",
    "from_graphql",
    "make_week",
    "parse_days",
    "parse_time",
    "parse_times",
    "summary",
    "to_buffer",
    "to_graphql",
    "week_from_json",
    "week_to_json",
]

Times = tuple[str, ...]

KINDS: tuple[str, ...] = ("replace", "set", "add", "remove", "clear")
# Why a pause cannot be written; every refusal of one says it.
PAUSE_NOT_WRITABLE = (
    "pausing a day cannot be written: Buffer's v1 API, the only one that changes "
    "schedules, has no field for it (pause or resume days in Buffer's own app)"
)


# --- Week ---------------------------------------------------------------------------


class Week(Mapping[str, Times]):
    """Immutable canonical week: all seven days in order, each a sorted tuple of unique HH:MM.

    As a mapping it is day -> times, as before pauses existed; `paused_days()` and
    `is_paused(day)` tell the pauses. Two weeks are equal when times and pauses are.
    """

    __slots__ = ("_paused", "_times")
    _times: tuple[Times, ...]
    _paused: tuple[bool, ...]

    def __init__(
        self, mapping: Mapping[str, Any] | None = None, paused: str | Iterable[str] = ()
    ) -> None:
        """Normalise `mapping` (day spec -> times) into a week; missing days post nothing.

        `paused` names the paused days (day specs, like `tue` or `sat-sun`).
        """
        times = make_week(mapping or {})._times
        object.__setattr__(self, "_times", times)
        object.__setattr__(self, "_paused", _pause_flags(paused, field="paused"))

    @classmethod
    def _canonical(cls, times: Iterable[Times], paused: Iterable[bool] | None = None) -> Week:
        """Build from seven already-canonical tuples (and pause flags) without re-validating."""
        week = cls.__new__(cls)
        object.__setattr__(week, "_times", tuple(times))
        flags = tuple(paused) if paused is not None else (False,) * len(DAYS)
        object.__setattr__(week, "_paused", flags)
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
        """Equal to another Week with the same times and pauses, or to any mapping with
        the same seven items (a plain mapping has no pauses to compare)."""
        if isinstance(other, Week):
            return self._times == other._times and self._paused == other._paused
        return super().__eq__(other)

    def __hash__(self) -> int:
        """Hash of the canonical tuples (weeks are immutable)."""
        if not any(self._paused):
            return hash(self._times)  # as before pauses existed
        return hash((self._times, self._paused))

    def __setattr__(self, name: str, value: object) -> None:
        """Weeks are immutable."""
        raise AttributeError("Week is immutable")

    def __repr__(self) -> str:
        paused = self.paused_days()
        return f"Week({dict(self.items())!r}{f', paused={paused!r}' if paused else ''})"

    def is_empty(self) -> bool:
        """True when no day has a posting time (paused days' times count)."""
        return not any(self._times)

    def is_paused(self, day: str) -> bool:
        """True when `day` (one of DAYS) is paused: it keeps its times but posts nothing."""
        try:
            return self._paused[DAYS.index(day)]
        except ValueError:
            raise KeyError(day) from None

    def paused_days(self) -> tuple[str, ...]:
        """The paused days in week order (empty for every week v1 reports)."""
        if not any(self._paused):  # the usual week: asked thrice per profile in a snapshot
            return ()
        return tuple(day for day, flag in zip(DAYS, self._paused, strict=True) if flag)

    def with_pauses(self, paused: str | Iterable[str]) -> Week:
        """This week's times with exactly the days `paused` paused."""
        return Week._canonical(self._times, _pause_flags(paused, field="paused"))

    def unpaused(self) -> Week:
        """This week's times with no day paused: the explicit way to drop pauses (for v1)."""
        return Week._canonical(self._times)


def _pause_flags(paused: str | Iterable[str], field: str) -> tuple[bool, ...]:
    """Seven flags from day specs (`tue`, `sat-sun`, a list of them); InvalidSchedule otherwise."""
    specs: str | list[str] = paused if isinstance(paused, str) else list(paused)
    if not (specs.strip() if isinstance(specs, str) else specs):
        return (False,) * len(DAYS)
    days = set(parse_days(specs, field=field))
    return tuple(day in days for day in DAYS)


def empty_week() -> Week:
    """A week with no posting times on any day."""
    return Week._canonical(() for _ in DAYS)


def make_week(mapping: Mapping[str, Any], field: str = "week") -> Week:
    """Normalise a mapping of day specs to times (days may repeat via ranges: times unite).

    A `paused` key is refused with PAUSE_NOT_WRITABLE: this reads weeks people ask for,
    and a pause cannot be asked for (stored weeks are read by `week_from_json`).
    """
    if isinstance(mapping, Week):
        return mapping
    if not isinstance(mapping, Mapping):
        raise InvalidSchedule(f"{field} must be a mapping of days to times", field=field)
    if "paused" in mapping:
        raise InvalidSchedule(PAUSE_NOT_WRITABLE, token="paused", field=f"{field}.paused")
    collected: dict[str, set[str]] = {d: set() for d in DAYS}
    for key, value in mapping.items():
        for day in parse_days(key, field=field):
            collected[day].update(parse_times(value, field=f"{field}.{day}", allow_empty=True))
    return Week._canonical(tuple(sorted(collected[d])) for d in DAYS)


def week_to_json(week: Week) -> dict[str, list[str]]:
    """Plain JSON dict: every day in week order to its list of times, then, only when a
    day is paused, `"paused": [days]` (so a week without pauses looks as it always did)."""
    # the tuples in week order, not week[day]: a hash per profile of a snapshot comes here
    out = {day: list(times) for day, times in zip(DAYS, week._times, strict=True)}
    paused = week.paused_days()
    if paused:
        out["paused"] = list(paused)
    return out


def week_from_json(d: Mapping[str, Any], field: str = "week") -> Week:
    """Read a week written by `week_to_json`, pauses included (validating; InvalidSchedule)."""
    if not isinstance(d, Mapping) or "paused" not in d:
        return make_week(d, field=field)
    paused = d["paused"]
    if isinstance(paused, str) or not isinstance(paused, list | tuple):
        raise InvalidSchedule(f"{field}.paused must be a list of days", field=f"{field}.paused")
    times = make_week({k: v for k, v in d.items() if k != "paused"}, field=field)
    return times.with_pauses(paused) if paused else times


def _with(week: Week, changes: Mapping[str, Iterable[str]]) -> Week:
    """Copy of `week` with the given days' times replaced by canonical tuples (pauses kept)."""
    return Week._canonical(
        (tuple(sorted(set(changes[d]))) if d in changes else week[d] for d in DAYS),
        week._paused,
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
    by_day: dict[str, Times] = {}
    for i, entry in enumerate(entries):
        raw_times = _entry_part(entry, "times", i)
        raw_days = _entry_part(entry, "days", i)
        parsed = _parsed_entry_cached(raw_days, raw_times)
        if parsed is None:  # not cacheable, or invalid: parse again, naming the entry
            times = parse_times(raw_times, field=f"schedules[{i}].times", allow_empty=True)
            days = parse_days(raw_days, field=f"schedules[{i}].days")
        else:
            days, times = parsed
        for day in days:
            # an entry's times come sorted and unique: a day named once (the usual case, in
            # a snapshot of thousands of profiles) keeps them as they are, a day named again
            # unites them
            known = by_day.get(day)
            by_day[day] = times if known is None else tuple(sorted({*known, *times}))
    return Week._canonical(by_day.get(d, ()) for d in DAYS)


def _parsed_entry_cached(raw_days: Any, raw_times: Any) -> tuple[tuple[str, ...], Times] | None:
    """(days, times) of one valid entry of lists of strings, remembered: a snapshot of
    thousands of profiles meets the same few entries again and again. None when the entry
    is of another shape or invalid (the caller parses it again to name the field)."""
    if not (isinstance(raw_days, list) and isinstance(raw_times, list)):
        return None
    if _buffers_own_form(raw_days, raw_times):
        # (`["mon", "tue"]`, `["09:00"]`): nothing for the grammar to do
        named = set(raw_days)
        return tuple(d for d in DAYS if d in named), tuple(sorted(set(raw_times)))
    if not all(isinstance(x, str) for x in raw_days) or not all(
        isinstance(x, str) for x in raw_times
    ):
        return None
    try:
        return _parse_entry(tuple(raw_days), tuple(raw_times))
    except InvalidSchedule:
        return None


_DAY_NAMES = frozenset(DAYS)
# Every "HH:MM" Buffer writes (00:00-23:59), the strings TIME_RE accepts: one set lookup
# per time instead of a regular expression match
_HHMM_TIMES = frozenset(f"{hour:02d}:{minute:02d}" for hour in range(24) for minute in range(60))


def _buffers_own_form(raw_days: list[Any], raw_times: list[Any]) -> bool:
    """True when an entry names days as Buffer does and gives only "HH:MM" times: two set
    checks, and no other check is needed (only strings equal those names)."""
    try:
        return (
            bool(raw_days) and _DAY_NAMES.issuperset(raw_days) and _HHMM_TIMES.issuperset(raw_times)
        )
    except TypeError:  # an unhashable element (a list, a dict): not Buffer's form
        return False


@functools.lru_cache(maxsize=4096)
def _parse_entry(
    raw_days: tuple[str, ...], raw_times: tuple[str, ...]
) -> tuple[tuple[str, ...], Times]:
    times = parse_times(list(raw_times), field="times", allow_empty=True)
    return parse_days(list(raw_days), field="days"), tuple(times)


def _groups(week: Week) -> list[tuple[list[str], Times]]:
    """Days sharing identical non-empty times, ordered by their first day."""
    by_times: dict[Times, list[str]] = {}
    for day, times in zip(DAYS, week._times, strict=True):
        if times:
            by_times.setdefault(times, []).append(day)
    return [(days, times) for times, days in by_times.items()]


def _refuse_pauses(week: Week, field: str) -> None:
    """InvalidSchedule (PAUSE_NOT_WRITABLE, naming the days, on `field`) when `week` has
    paused days: no write can carry a pause."""
    paused = week.paused_days()
    if paused:
        raise InvalidSchedule(
            f"{_compress_days(paused)} paused: {PAUSE_NOT_WRITABLE}",
            token=",".join(paused),
            field=field,
        )


def to_buffer(week: Week) -> list[dict[str, list[str]]]:
    """Minimal deterministic Buffer v1 `schedules`; an all-empty week is one entry with no times.

    Raises InvalidSchedule (PAUSE_NOT_WRITABLE, naming the days) for a week with paused
    days: v1 cannot carry a pause, and dropping it silently would un-pause those days as
    far as the caller knows. Pass `week.unpaused()` to write the times alone on purpose.
    """
    _refuse_pauses(week, "paused")
    entries = [{"days": days, "times": list(times)} for days, times in _groups(week)]
    return entries or [{"days": list(DAYS), "times": []}]


def from_graphql(entries: Iterable[Mapping[str, Any]]) -> Week:
    """GraphQL's `Channel.postingSchedule` (one `{day, paused, times}` per day) as a Week.

    A day left out posts nothing and is not paused; a day given twice unites its times and
    is paused if either entry is. Raises InvalidSchedule for anything else than that shape.
    """
    if isinstance(entries, str | bytes | Mapping) or not isinstance(entries, Iterable):
        raise InvalidSchedule(
            "postingSchedule must be a list of {day, paused, times}", field="postingSchedule"
        )
    collected: dict[str, set[str]] = {d: set() for d in DAYS}
    paused: set[str] = set()
    for i, entry in enumerate(entries):
        field = f"postingSchedule[{i}]"
        if not isinstance(entry, Mapping):
            raise InvalidSchedule(f"{field} must be an object with day, paused, times", field=field)
        day = entry.get("day")
        if day not in DAYS:
            raise InvalidSchedule(
                f"{field}.day must be one of {', '.join(DAYS)}",
                token=str(day),
                field=f"{field}.day",
            )
        flag = entry.get("paused", False)
        if not isinstance(flag, bool):
            raise InvalidSchedule(f"{field}.paused must be true or false", field=f"{field}.paused")
        raw_times = entry.get("times")
        if raw_times is None:
            raw_times = []
        collected[day].update(parse_times(raw_times, field=f"{field}.times", allow_empty=True))
        if flag:
            paused.add(day)
    return Week._canonical((tuple(sorted(collected[d])) for d in DAYS), (d in paused for d in DAYS))


def to_graphql(week: Week) -> list[dict[str, Any]]:
    """GraphQL's `postingSchedule` shape: seven `{"day", "paused", "times"}`, in week order.

    Lossless (pauses included), so it also suits storing a week read from GraphQL.
    """
    return [{"day": d, "paused": week.is_paused(d), "times": list(week[d])} for d in DAYS]


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
    """Short text like 'mon-fri 09:00 17:00; sat-sun 10:00; tue paused', or 'no posting times'."""
    parts = [f"{_compress_days(days)} {' '.join(times)}" for days, times in _groups(week)]
    text = "; ".join(parts) or "no posting times"
    paused = week.paused_days()
    return f"{text}; {_compress_days(paused)} paused" if paused else text


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
        """A replace carries a week and nothing else, and no pause (it cannot be written)."""
        if self.week is None:
            raise InvalidSchedule("replace needs a week", field="week")
        if self.days or self.times:
            raise InvalidSchedule("replace takes a week, not days or times", field="days")
        week = make_week(self.week)
        _refuse_pauses(week, "week.paused")
        object.__setattr__(self, "week", week)

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


def diff(before: Week, after: Week) -> dict[str, dict[str, Any]]:
    """Changed days in week order: before, after, added and removed times, and, only for a
    day whose pause changed, `"pause": "paused"` or `"pause": "resumed"`."""
    changes: dict[str, dict[str, Any]] = {}
    for day in DAYS:
        old, new = before[day], after[day]
        was_paused, is_paused = before.is_paused(day), after.is_paused(day)
        if old != new or was_paused != is_paused:
            changes[day] = {
                "before": list(old),
                "after": list(new),
                "added": sorted(set(new) - set(old)),
                "removed": sorted(set(old) - set(new)),
            }
            if was_paused != is_paused:
                changes[day]["pause"] = "paused" if is_paused else "resumed"
    return changes


def _times_text(times: Iterable[str]) -> str:
    """'09:00 12:00', or 'none'."""
    return " ".join(times) or "none"


def describe_diff(d: Mapping[str, Mapping[str, Any]]) -> str:
    """One line such as 'mon-fri: 09:00 → 09:00 17:00; sat: none → 10:00; tue paused',
    or 'no change'."""
    by_change: dict[tuple[str, str], list[str]] = {}
    by_pause: dict[str, list[str]] = {}
    for day in DAYS:
        if day not in d:
            continue
        old, new = _times_text(d[day]["before"]), _times_text(d[day]["after"])
        if old != new:
            by_change.setdefault((old, new), []).append(day)
        pause = d[day].get("pause")
        if pause in ("paused", "resumed"):
            by_pause.setdefault(pause, []).append(day)
    parts = [f"{_compress_days(days)}: {old} → {new}" for (old, new), days in by_change.items()]
    parts += [f"{_compress_days(days)} {word}" for word, days in by_pause.items()]
    return "; ".join(parts) or "no change"
