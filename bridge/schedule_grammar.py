r"""Days and times as people write them, read into Buffer's names: `mon-fri`, `weekdays`,
`Mondays and Wednesdays`, `9am, 12:30 5pm`, `noon`. Used by every input (REST fields,
webhook fields, chat commands) and by `schedules` for what Buffer sends.

Parsers raise InvalidSchedule naming the field and the token that does not parse.

Every parser here reads text from outside, unauthenticated callers included, so each is
linear in its input: no pattern may backtrack over a run of the input. Ranges are joined
by a hand-written scan (`_join_ranges`, once a regex whose leading `\s*` made it
quadratic in whitespace), splitting uses one character class, and a time token longer
than MAX_TIME_TOKEN is refused before any pattern sees it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from bridge.errors import InvalidSchedule
from bridge.week import DAYS

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
_DASHES = frozenset("-\u2013\u2014")
_RANGE_WORDS = ("through", "thru", "to")  # longest first; matched as whole words
# where a separator, or the whitespace before one, may start: one character class
_RANGE_START = re.compile(r"[\s\-\u2013\u2014tT]")
_SPLIT = re.compile(r"[\s,;&+]+")
_CONJUNCTIONS = frozenset({"and"})

_TIME = re.compile(r"(\d+)(?:[:.h](\d*))?\s*([ap])\.?m\.?", re.IGNORECASE)
_TIME_24 = re.compile(r"(\d+)(?:[:.h](\d*))", re.IGNORECASE)
_AMPM = re.compile(r"[ap]\.?m\.?", re.IGNORECASE)
_NAMED_TIMES = {"noon": "12:00", "midday": "12:00", "midnight": "00:00"}
# "12:30 p.m." is 10 characters: anything much longer is not a time, whatever it holds
MAX_TIME_TOKEN = 16


def _is_word(char: str) -> bool:
    """A word character as the `re` module's \\w sees it."""
    return char.isalnum() or char == "_"


def _range_word_at(text: str, start: int) -> int:
    """The length of a whole word 'to', 'through' or 'thru' starting at `start`, else 0."""
    if start > 0 and _is_word(text[start - 1]):
        return 0
    for word in _RANGE_WORDS:
        end = start + len(word)
        if text[start:end].lower() == word and (end == len(text) or not _is_word(text[end])):
            return len(word)
    return 0


def _join_ranges(text: str) -> str:
    """Every range separator (a dash, en or em dash, or the word to/through/thru) with the
    whitespace around it becomes one '-': 'mon to fri' -> 'mon-fri'.

    One pass, each character looked at a bounded number of times: a run of whitespace
    is skipped whole when no separator follows it."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        found = _RANGE_START.search(text, i)  # text before it is copied as it is
        if found is None:
            out.append(text[i:])
            break
        out.append(text[i : found.start()])
        i = j = found.start()
        while j < n and text[j].isspace():
            j += 1
        sep = 1 if j < n and text[j] in _DASHES else _range_word_at(text, j)
        if not sep:
            out.append(text[i : j + 1])  # the whitespace and the character after it
            i = j + 1
            continue
        k = j + sep
        while k < n and text[k].isspace():
            k += 1
        out.append("-")
        i = k
    return "".join(out)


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
        joined = _join_ranges(part.strip()) if what == "days" else part
        tokens.extend(t for t in _SPLIT.split(joined) if t and t.lower() not in _CONJUNCTIONS)
    return tokens


def _one_day(token: str, field: str, whole: str | None = None) -> str:
    """Resolve a single day name or abbreviation to mon..sun."""
    day = _DAY_ALIASES.get(token.lower().rstrip("."))
    if day is None:
        msg = f"unknown day {_shown(token)!r} ({_DAY_HINT})"
        if whole is not None:
            msg = f"invalid day range {_shown(whole)!r}: {msg}"
        raise InvalidSchedule(msg, token=whole or token, field=field)
    return day


def _day_range(token: str, field: str) -> tuple[str, ...]:
    """Expand 'mon-fri' (or wrapping 'fri-mon') to its days in walking order."""
    start, _, end = token.partition("-")
    if not start or not end or "-" in end:
        msg = f"invalid day range {_shown(token)!r}: write it as two days, like mon-fri"
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


def _shown(token: str) -> str:
    """A token cut short for a message."""
    return token if len(token) <= 40 else token[:40] + "..."


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
    if len(text) > MAX_TIME_TOKEN:
        raise _bad_time(_shown(token), "use HH:MM (24-hour) or 9am / 5:30pm", field)
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
