"""When rotation steps fall: pure time arithmetic, no I/O (bridge/rotation/ does the rest).

A plan's steps are read from JSON into `Step`s:

    {"preset": "weekend", "at": "sat 00:00"}            weekly points (days + a time)
    {"preset": "weekday", "cron": "0 6 * * 1-5"}         a five-field cron expression
    {"presets": ["a", "b"], "every": "2w", "start": "2027-01-04T06:00"}   round-robin
    {"preset": "holiday", "from": "2027-12-24T00:00", "to": "2027-12-27T00:00"}  override

Every time is a wall-clock time in the profile's own timezone. Local wall times become
instants by two rules, so each step fires once whatever the clocks do:
- a time that happens twice (01:30 the night clocks go back) is its first occurrence;
- a time that never happens (02:30 the night they go forward) is the first valid local
  time after it (03:00).
A regular step inside an override's window [from, to) does not fire (the override
holds); at `to` the override's revert falls due. Of several steps due at one instant
only one fires: a regular step before an override start before a revert, then the later
step in the list.

croniter reads the cron expressions, on naive local times, so the two rules above are
the only DST logic there is (croniter's own zone handling is not used).

Past 400 lines on purpose: reading steps, walking their wall times across DST and the
bounded catch-up are one piece of arithmetic, property-tested together
(tests/rotation/test_timetable.py); nothing here does I/O.
"""

from __future__ import annotations

import datetime as dt
import functools
import heapq
import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from croniter import croniter

from bridge import schedule_grammar
from bridge.errors import InvalidInput
from bridge.week import DAYS

MAX_STEPS = 50
MAX_CRON = 100
MAX_NAME = 64
MAX_ROTATE = 20
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", re.ASCII)
_EVERY = re.compile(r"([1-9][0-9]{0,2})\s*([dw])", re.ASCII)
HORIZON = dt.timedelta(days=800)  # no step is looked for further than this
MARGIN = dt.timedelta(hours=4)  # more than any DST shift: walls near an instant
PRIORITY = {"revert": 0, "override": 1, "apply": 2}
UTC = dt.UTC


def check_name(name: Any, field: str = "name") -> str:
    """A preset or plan name: 1-64 of letters, digits, `_`, `.`, `-` (InvalidInput)."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise InvalidInput(
            "a name of 1 to 64 letters, digits, '_', '.' or '-' (starting with a letter or "
            "digit) is required",
            field,
        )
    return name


@functools.cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def is_zone(name: object) -> bool:
    """Whether `name` is a zone of the IANA zone database on this machine
    (`Europe/London`, `UTC`); `America`, a path or a 300-character string is not."""
    return isinstance(name, str) and name in _zone_names()


def zone(name: str | None) -> ZoneInfo:
    """The profile's timezone; UTC when Buffer gave none or one that is not a zone
    (`profile_zone` refuses those instead)."""
    return ZoneInfo(name) if name and is_zone(name) else ZoneInfo("UTC")


def profile_zone(name: str | None) -> ZoneInfo:
    """The timezone of a profile whose local times are placed (rotation): UTC when Buffer
    gave none; InvalidInput (field `timezone`, saying why) when it is not an IANA zone."""
    if not name:
        return ZoneInfo("UTC")
    if not is_zone(name):
        shown = name if len(name) <= 40 else f"{name[:40]}... ({len(name)} characters)"
        raise InvalidInput(
            f"Buffer reports the timezone {shown!r} for this profile, which is not an IANA "
            "zone (such as Europe/London): its local times cannot be placed until the "
            "profile's timezone is set in Buffer",
            "timezone",
        )
    return ZoneInfo(name)


def to_instant(wall: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """The UTC instant of local `wall` (naive) by the two DST rules above."""
    first = wall.replace(tzinfo=tz, fold=0)
    instant = first.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) == wall:
        return instant
    # in a gap: the first minute after it that exists
    probe = wall.replace(second=0, microsecond=0)
    for _ in range(24 * 60):
        probe += dt.timedelta(minutes=1)
        candidate = probe.replace(tzinfo=tz, fold=0).astimezone(UTC)
        if candidate.astimezone(tz).replace(tzinfo=None) == probe:
            return candidate
    return instant  # not reached for any real zone


def local(instant: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """The naive local wall time of `instant`."""
    return instant.astimezone(tz).replace(tzinfo=None)


@dataclass(frozen=True)
class Occurrence:
    """One step falling due for one profile: when, which step, what it does."""

    at: dt.datetime  # UTC
    wall: dt.datetime  # naive, the profile's local time
    step: int
    action: str  # apply, override (apply and remember), revert
    preset: str | None

    @property
    def order(self) -> tuple[dt.datetime, int, int]:
        """Sort key: time, then which of simultaneous steps wins (the last)."""
        return (self.at, PRIORITY[self.action], self.step)


@dataclass(frozen=True)
class Step:
    """One step of a plan, as read from its JSON (`to_json` gives it back)."""

    kind: str  # at, cron, rotate, override
    presets: tuple[str, ...]
    days: tuple[str, ...] = ()
    time: str = ""
    cron: str = ""
    every: dt.timedelta = dt.timedelta(0)
    every_text: str = ""
    start: dt.datetime | None = None
    end: dt.datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """The step as the API shows it."""
        if self.kind == "at":
            return {"preset": self.presets[0], "at": f"{','.join(self.days)} {self.time}"}
        if self.kind == "cron":
            return {"preset": self.presets[0], "cron": self.cron}
        assert self.start is not None
        if self.kind == "rotate":
            start = self.start.isoformat(timespec="minutes")
            return {"presets": list(self.presets), "every": self.every_text, "start": start}
        assert self.end is not None
        return {
            "preset": self.presets[0],
            "from": self.start.isoformat(timespec="minutes"),
            "to": self.end.isoformat(timespec="minutes"),
        }

    def walls(self, start: dt.datetime, forward: bool) -> Iterator[tuple[dt.datetime, str, str]]:
        """(local wall time, action, preset) from `start` on (or back), in order."""
        if self.kind == "at":
            yield from self._weekly(start, forward)
        elif self.kind == "cron":
            iterator = croniter(
                self.cron, start - dt.timedelta(microseconds=1) if forward else start
            )
            step = iterator.get_next if forward else iterator.get_prev
            while True:
                try:
                    wall = step(dt.datetime)
                except Exception:  # croniter gives up on dates that never come (feb 30)
                    return
                yield wall, "apply", self.presets[0]
        elif self.kind == "rotate":
            yield from self._rotate(start, forward)
        else:
            assert self.start is not None and self.end is not None
            points = [(self.start, "override"), (self.end, "revert")]
            for wall, action in points if forward else reversed(points):
                if (wall >= start) if forward else (wall <= start):
                    yield wall, action, self.presets[0]

    def _weekly(self, start: dt.datetime, forward: bool) -> Iterator[tuple[dt.datetime, str, str]]:
        hour, minute = (int(part) for part in self.time.split(":"))
        day = start.date()
        delta = dt.timedelta(days=1 if forward else -1)
        while True:
            if DAYS[day.weekday()] in self.days:
                wall = dt.datetime.combine(day, dt.time(hour, minute))
                if (wall >= start) if forward else (wall <= start):
                    yield wall, "apply", self.presets[0]
            day += delta

    def _rotate(self, start: dt.datetime, forward: bool) -> Iterator[tuple[dt.datetime, str, str]]:
        assert self.start is not None
        index = max((start - self.start) // self.every, 0)
        if not forward and self.start + index * self.every > start:
            return
        counter = itertools.count(index) if forward else range(index, -1, -1)
        for k in counter:
            wall = self.start + k * self.every
            if (wall >= start) if forward else (wall <= start):
                yield wall, "apply", self.presets[k % len(self.presets)]


def parse_steps(raw: Any, field: str = "steps") -> list[Step]:
    """The steps of a plan's JSON; InvalidInput naming `steps.<i>.<key>` otherwise."""
    if not isinstance(raw, list) or not raw:
        raise InvalidInput("a list of at least one step is required", field)
    if len(raw) > MAX_STEPS:
        raise InvalidInput(f"at most {MAX_STEPS} steps", field)
    return [_step(item, f"{field}.{i}") for i, item in enumerate(raw)]


def _step(item: Any, field: str) -> Step:
    if not isinstance(item, dict):
        raise InvalidInput("a step is an object", field)
    kinds = [k for k in ("at", "cron", "every", "from") if k in item]
    if len(kinds) != 1:
        raise InvalidInput(
            "a step has exactly one of: at, cron, every (with presets), from/to", field
        )
    allowed = {"at": {"preset", "at"}, "cron": {"preset", "cron"}, "from": {"preset", "from", "to"}}
    allowed["every"] = {"presets", "every", "start"}
    unknown = sorted(set(item) - allowed[kinds[0]])
    if unknown:
        raise InvalidInput("unknown field", f"{field}.{unknown[0]}")
    if kinds[0] == "every":
        presets = item.get("presets")
        if not isinstance(presets, list) or not 1 <= len(presets) <= MAX_ROTATE:
            raise InvalidInput(f"a list of 1 to {MAX_ROTATE} preset names", f"{field}.presets")
        names = tuple(check_name(p, f"{field}.presets") for p in presets)
        every_text = str(item["every"]) if isinstance(item["every"], str | int) else ""
        match = _EVERY.fullmatch(every_text.strip().lower())
        if match is None:
            raise InvalidInput(
                "every N days or weeks, e.g. 1w or 3d (N up to 999)", f"{field}.every"
            )
        days = int(match.group(1)) * (7 if match.group(2) == "w" else 1)
        start = _wall(item.get("start"), f"{field}.start")
        text = f"{match.group(1)}{match.group(2)}"
        return Step("rotate", names, every=dt.timedelta(days=days), every_text=text, start=start)
    preset = check_name(item.get("preset"), f"{field}.preset")
    if kinds[0] == "at":
        return _weekly_step(preset, item["at"], f"{field}.at")
    if kinds[0] == "cron":
        return Step("cron", (preset,), cron=check_cron(item["cron"], f"{field}.cron"))
    start, end = _wall(item["from"], f"{field}.from"), _wall(item.get("to"), f"{field}.to")
    if end <= start:
        raise InvalidInput("must be after from", f"{field}.to")
    return Step("override", (preset,), start=start, end=end)


def _weekly_step(preset: str, text: Any, field: str) -> Step:
    if not isinstance(text, str) or not text.strip() or len(text) > 100:
        raise InvalidInput("days and a time, e.g. sat 00:00 or mon-fri 06:00", field)
    *day_words, time_word = text.split()
    if not day_words:
        raise InvalidInput("days and a time, e.g. sat 00:00 or mon-fri 06:00", field)
    days = schedule_grammar.parse_days(" ".join(day_words), field)
    time = schedule_grammar.parse_time(time_word, field)
    return Step("at", (preset,), days=days, time=time)


# (name, lowest, highest, names) of the five fields, in order
_CRON_FIELDS = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day-of-month", 1, 31, ()),
    (
        "month",
        1,
        12,
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
    ),
    ("day-of-week", 0, 7, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")),
)
_CRON_HINTS = {"day-of-week": " (0 and 7 are Sunday; or sun-sat)", "month": " (or jan-dec)"}
_CRON_VALUE = re.compile(r"[0-9]+|[a-z]{3}", re.ASCII)


def check_cron(text: Any, field: str = "cron") -> str:
    """A five-field cron expression croniter reads; otherwise InvalidInput naming
    `field` and, in the bridge's words, which of the five fields is wrong and why (a
    value out of its range is named with the range)."""
    if not isinstance(text, str) or len(text) > MAX_CRON or not text.isprintable():
        raise InvalidInput(f"a cron expression of at most {MAX_CRON} characters", field)
    text = " ".join(text.split())
    parts = text.split()
    if len(parts) != 5:
        raise InvalidInput(
            f"a cron expression has five fields (minute hour day-of-month month "
            f"day-of-week); {text!r} has {len(parts)}",
            field,
        )
    for index, part in enumerate(parts):
        _check_cron_field(index, part.lower(), field)
    if not croniter.is_valid(text):
        raise InvalidInput(
            f"{text!r} is not a cron expression (minute hour day-of-month month day-of-week)",
            field,
        )
    _check_cron_falls(text, parts, field)
    return text


_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _check_cron_falls(text: str, parts: list[str], field: str) -> None:
    """InvalidInput for days of the month that no month of the month field has (`30 2`:
    30 February) with any weekday: such a step never fires, and looking for it is
    costly."""
    _minute, _hour, days, months, weekdays = croniter(text).expanded
    if weekdays != ["*"] or days == ["*"] or not all(isinstance(d, int) for d in days):
        return
    in_months = range(1, 13) if months == ["*"] else [int(m) for m in months]
    if min(days) > max(_MONTH_DAYS[m - 1] for m in in_months):
        raise InvalidInput(
            f"the day-of-month field ({parts[2]!r}) never falls in the month field's months "
            f"({parts[3]!r}): this step would never fire",
            field,
        )


def _check_cron_field(index: int, part: str, field: str) -> None:
    """InvalidInput naming the cron field `index` when one of its values is out of range
    or the field is not a cron field (tried alone, the other four `*`)."""
    name, lowest, highest, names = _CRON_FIELDS[index]
    for item in part.split(","):
        values = item.split("/", 1)[0]
        for value in _CRON_VALUE.findall(values):
            number = names.index(value) + lowest if value in names else None
            if number is None and value.isdigit():
                number = int(value)
            if number is not None and not lowest <= number <= highest:
                raise InvalidInput(
                    f"the {name} field ({part!r}) has {value}, outside {lowest}-{highest}"
                    f"{_CRON_HINTS.get(name, '')}",
                    field,
                )
    alone = ["*"] * 5
    alone[index] = part
    if not croniter.is_valid(" ".join(alone)):
        raise InvalidInput(
            f"the {name} field ({part!r}) is not a cron field: numbers {lowest}-{highest}"
            f"{_CRON_HINTS.get(name, '')}, '*', ranges a-b, lists a,b and steps */n",
            field,
        )


def _wall(value: Any, field: str) -> dt.datetime:
    """A local date-time `2027-12-24T00:00` (or a date) read as naive wall time."""
    if not isinstance(value, str) or len(value) > 40:
        raise InvalidInput("a local date-time like 2027-12-24T00:00 is required", field)
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput("a local date-time like 2027-12-24T00:00 is required", field) from None
    if parsed.tzinfo is not None:
        raise InvalidInput("give the profile's local time, without an offset", field)
    return parsed.replace(second=0, microsecond=0)


# --- occurrences --------------------------------------------------------------------------


def _windows(steps: Sequence[Step], tz: ZoneInfo) -> list[tuple[dt.datetime, dt.datetime]]:
    """The UTC windows of the overrides, overlapping ones merged: regular steps inside
    them do not fire (merged, a jump over one lands outside all of them)."""
    spans = sorted(
        (to_instant(s.start, tz), to_instant(s.end, tz))
        for s in steps
        if s.kind == "override" and s.start is not None and s.end is not None
    )
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _margin(instant: dt.datetime, tz: ZoneInfo, forward: bool) -> dt.timedelta:
    """How far from `instant`'s wall time to start walking. Instants never go back as
    wall times go forward (a repeated hour is its first pass, a skipped one the end of
    the gap), so walls a minute before `instant`'s fall at or before it, and walls a
    minute after fall after it, except when `instant` is in the second pass of a
    repeated hour: walls up to the repeat's length after its own are then the first
    pass, before it, and the walk back starts that much on. A minute elsewhere (not
    MARGIN always): 50 every-minute steps do not each walk 240 minutes first."""
    minute = dt.timedelta(minutes=1)
    wall = instant.astimezone(tz)
    if forward or wall.fold == 0:
        return minute
    repeat = (wall.replace(fold=0).utcoffset() or minute) - (wall.utcoffset() or minute)
    return min(abs(repeat), MARGIN) + minute


def _window_of(
    occurrence: Occurrence, windows: list[tuple[dt.datetime, dt.datetime]]
) -> tuple[dt.datetime, dt.datetime] | None:
    """The override window that holds `occurrence` (a regular step), if any."""
    if occurrence.action != "apply":
        return None
    return next(((s, e) for s, e in windows if s <= occurrence.at < e), None)


def _stream(
    step: Step,
    index: int,
    tz: ZoneInfo,
    origin: dt.datetime,
    forward: bool,
    windows: list[tuple[dt.datetime, dt.datetime]],
) -> Iterator[Occurrence]:
    """One step's occurrences after (before) `origin` that are not inside an override's
    window, in order, within HORIZON. A window is jumped over, not walked through: a
    `* * * * *` step under a year-long override costs one restart, not 500,000 minutes."""
    limit = origin + HORIZON if forward else origin - HORIZON
    margin = _margin(origin, tz, forward)
    wall_origin = local(origin, tz) + (-margin if forward else margin)
    beyond: dt.datetime | None = None  # after a jump: the window's edge
    while True:
        jumped = None
        for wall, action, preset in step.walls(wall_origin, forward):
            instant = to_instant(wall, tz)
            if (instant > limit) if forward else (instant < limit):
                return
            if (instant <= origin) if forward else (instant > origin):
                continue
            if beyond is not None and ((instant < beyond) if forward else (instant >= beyond)):
                continue
            occurrence = Occurrence(instant, wall, index, action, preset)
            jumped = _window_of(occurrence, windows)
            if jumped is None:
                yield occurrence
                continue
            break
        if jumped is None:
            return
        beyond = jumped[1] if forward else jumped[0]
        margin = _margin(beyond, tz, forward)
        wall_origin = local(beyond, tz) + (-margin if forward else margin)


def _distinct(steps: Sequence[Step]) -> list[tuple[int, Step]]:
    """(index, step) of each different step: of identical steps only the last, which is
    the one that would fire (50 copies of one step cost what one does)."""
    last = {step: index for index, step in enumerate(steps)}
    return sorted(((i, s) for s, i in last.items()), key=lambda pair: pair[0])


def upcoming(steps: Sequence[Step], tz: ZoneInfo, after: dt.datetime) -> Iterator[Occurrence]:
    """Every occurrence strictly after `after`, in order; of several at one instant, only
    the one that would fire."""
    for _instant, group in itertools.groupby(_merged(steps, tz, after), key=lambda o: o.at):
        yield list(group)[-1]


def _merged(steps: Sequence[Step], tz: ZoneInfo, after: dt.datetime) -> Iterator[Occurrence]:
    """Every step's occurrences after `after`, merged in firing order (simultaneous ones
    side by side, the one that fires last)."""
    windows = _windows(steps, tz)
    streams = [_stream(s, i, tz, after, True, windows) for i, s in _distinct(steps)]
    return heapq.merge(*streams, key=lambda o: o.order)


def next_after(steps: Sequence[Step], tz: ZoneInfo, after: dt.datetime) -> Occurrence | None:
    """The first occurrence after `after` (None: no step comes within HORIZON)."""
    return next(upcoming(steps, tz, after), None)


@dataclass(frozen=True)
class Superseded:
    """The earlier runs a late run stands for (they do not fire): how many, and when
    the first and the last fell. Counting stops at MAX_COUNTED (`at_least`)."""

    count: int = 0
    at_least: bool = False
    first: dt.datetime | None = None
    last: dt.datetime | None = None


MAX_COUNTED = 1000  # occurrences looked at to count superseded runs; more: "at least"


def latest_due(
    steps: Sequence[Step],
    tz: ZoneInfo,
    after: dt.datetime,
    now: dt.datetime,
    count: bool = True,
) -> tuple[Occurrence | None, Superseded]:
    """(the latest occurrence in (after, now], the earlier ones it supersedes): after
    downtime only the latest fires. `count` False skips the counting ("run now" fires
    what is in effect and supersedes nothing). The work is bounded whatever the plan:
    one step back per distinct step, at most MAX_COUNTED forward."""
    windows = _windows(steps, tz)
    best: Occurrence | None = None
    for index, step in _distinct(steps):
        occurrence = next(_stream(step, index, tz, now, False, windows), None)
        if occurrence is None or occurrence.at <= after:
            continue
        if best is None or occurrence.order > best.order:
            best = occurrence
    if best is None or not count:
        return best, Superseded()
    counted, first, last = 0, None, None
    for looked, occurrence in enumerate(_merged(steps, tz, after)):
        if occurrence.at >= best.at:
            break
        if looked == MAX_COUNTED:  # steps that fall together count once: a lower bound
            return best, Superseded(counted, True, first, last)
        if occurrence.at != last:
            counted += 1
            first = first or occurrence.at
            last = occurrence.at
    return best, Superseded(counted, False, first, last)
