"""Where the next posts go: the free slots of a kept week, pure time arithmetic (no I/O).

A slot is one posting time of the week on one date, in the profile's timezone, turned
into an instant by the rotation timetable's DST rules (`timetable.to_instant`: a time
that happens twice is its first occurrence, one that never happens is the first valid
minute after it). A slot is free when it is

- after `after` (now plus POST_LEAD_SECONDS),
- not on a paused day of the week, nor on one of the profile's excluded dates,
- at least `min_gap` from every other scheduled post of the channel, and not taken by
  one (a post within the same minute takes the slot, whoever placed it).

`SlotFinder.take()` hands out free slots in order and counts each one taken, so twenty
posts get twenty different slots. Taken instants are kept sorted: finding the next free
slot among 500 scheduled posts is a bisect per candidate, not a scan.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bridge.schedules import Week
from bridge.timetable import to_instant
from bridge.week import DAYS

SEARCH_DAYS = 366 + 7  # a slot further than a year (plus a week) away is not looked for
MINUTE = dt.timedelta(minutes=1)


class NoFreeSlot(Exception):
    """The week has no free slot within SEARCH_DAYS (an empty or fully excluded week)."""


@dataclass(frozen=True, order=True)
class Slot:
    """One slot: its instant (UTC) and the week's day and time it comes from."""

    at: dt.datetime
    day: str
    time: str

    @property
    def label(self) -> str:
        """`tue 09:00`: the week's slot, as answers and the dashboard show it."""
        return f"{self.day} {self.time}"


def _minute(instant: dt.datetime) -> dt.datetime:
    return instant.astimezone(dt.UTC).replace(second=0, microsecond=0)


class SlotFinder:
    """The free slots of one week for one channel, handed out in time order."""

    def __init__(
        self,
        week: Week,
        tz: ZoneInfo,
        after: dt.datetime,
        taken: Iterable[dt.datetime] = (),
        excluded_dates: Iterable[dt.date] = (),
        min_gap: dt.timedelta = dt.timedelta(0),
    ) -> None:
        self.week = week
        self.tz = tz
        self.after = after
        self.excluded = frozenset(excluded_dates)
        # a post in the same minute always takes the slot, whatever the gap
        self.gap = max(min_gap, MINUTE)
        self._taken = sorted(_minute(t) for t in taken)
        self._candidates = self._walk()

    def _walk(self) -> Iterator[Slot]:
        """Every slot of the week after `after`, in time order, each instant once."""
        start = self.after.astimezone(self.tz).date()
        seen: set[dt.datetime] = set()
        for offset in range(SEARCH_DAYS):
            date = start + dt.timedelta(days=offset)
            day = DAYS[date.weekday()]
            if date in self.excluded or self.week.is_paused(day):
                continue
            found = []
            for time in self.week[day]:
                hour, minute = int(time[:2]), int(time[3:])
                wall = dt.datetime.combine(date, dt.time(hour, minute))
                instant = to_instant(wall, self.tz)
                if instant > self.after and instant not in seen:
                    seen.add(instant)
                    found.append(Slot(instant, day, time))
            yield from sorted(found)  # a DST gap can move a time past the next one

    def is_free(self, instant: dt.datetime) -> bool:
        """True when no taken instant lies within the gap of `instant`."""
        minute = _minute(instant)
        i = bisect.bisect_left(self._taken, minute - self.gap + MINUTE)
        return i == len(self._taken) or self._taken[i] >= minute + self.gap

    def mark(self, instant: dt.datetime) -> None:
        """Count `instant` as taken (a post placed there)."""
        bisect.insort(self._taken, _minute(instant))

    def take(self) -> Slot:
        """The next free slot, now counted taken. Raises NoFreeSlot when none is left."""
        for slot in self._candidates:
            if self.is_free(slot.at):
                self.mark(slot.at)
                return slot
        raise NoFreeSlot(
            f"the week has no free slot in the next {SEARCH_DAYS} days (no times, every "
            "day paused or excluded, or every slot taken)"
        )
