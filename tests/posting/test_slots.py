"""The kept week's free slots: order, DST, pauses, excluded dates, gaps, taken slots."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bridge.posting.slots import NoFreeSlot, SlotFinder
from bridge.schedules import Week

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
UTC = dt.UTC
WEEKDAYS = Week({"mon-fri": ["09:00", "12:30", "17:00"]})
# Saturday 5 December 2026, 18:00 UTC (London is on UTC in winter)
SATURDAY = dt.datetime(2026, 12, 5, 18, 0, tzinfo=UTC)


def labels(finder: SlotFinder, n: int) -> list[str]:
    return [f"{s.at.astimezone(finder.tz):%a %d %H:%M}" for s in (finder.take() for _ in range(n))]


def test_slots_come_in_week_order_from_after():
    finder = SlotFinder(WEEKDAYS, LONDON, SATURDAY)
    assert labels(finder, 4) == ["Mon 07 09:00", "Mon 07 12:30", "Mon 07 17:00", "Tue 08 09:00"]


def test_each_slot_is_handed_out_once():
    finder = SlotFinder(WEEKDAYS, LONDON, SATURDAY)
    taken = [finder.take().at for _ in range(20)]
    assert len(set(taken)) == 20 and taken == sorted(taken)


def test_a_slot_is_label_names_the_week_slot():
    slot = SlotFinder(WEEKDAYS, LONDON, SATURDAY).take()
    assert slot.label == "mon 09:00"


def test_a_slot_taken_by_another_post_is_skipped():
    taken = [dt.datetime(2026, 12, 7, 9, 0, 30, tzinfo=UTC)]  # a Buffer post in that minute
    finder = SlotFinder(WEEKDAYS, LONDON, SATURDAY, taken=taken)
    assert labels(finder, 1) == ["Mon 07 12:30"]


def test_min_gap_keeps_slots_away_from_other_posts():
    taken = [dt.datetime(2026, 12, 7, 12, 0, tzinfo=UTC)]
    finder = SlotFinder(WEEKDAYS, LONDON, SATURDAY, taken=taken, min_gap=dt.timedelta(minutes=180))
    # 09:00 is 3 h before the post (not inside the gap), 12:30 is 30 min after it
    assert labels(finder, 2) == ["Mon 07 09:00", "Mon 07 17:00"]


def test_paused_days_and_excluded_dates_get_no_slot():
    week = WEEKDAYS.with_pauses("mon")
    finder = SlotFinder(week, LONDON, SATURDAY, excluded_dates=[dt.date(2026, 12, 8)])
    assert labels(finder, 1) == ["Wed 09 09:00"]


def test_slots_are_in_the_profile_timezone():
    finder = SlotFinder(WEEKDAYS, NEW_YORK, SATURDAY)
    slot = finder.take()
    assert slot.at == dt.datetime(2026, 12, 7, 14, 0, tzinfo=UTC)  # 09:00 EST


def test_spring_forward_gap_takes_the_first_minute_after_it():
    # 14 March 2027: New York skips 02:00-03:00 that Sunday
    week = Week({"sun": ["02:30", "03:00", "04:00"]})
    finder = SlotFinder(week, NEW_YORK, dt.datetime(2027, 3, 13, 12, 0, tzinfo=UTC))
    first, second = finder.take(), finder.take()
    # 02:30 never happens: it becomes 03:00, which the 03:00 slot is too (one instant)
    assert first.at == dt.datetime(2027, 3, 14, 7, 0, tzinfo=UTC)
    assert second.at == dt.datetime(2027, 3, 14, 8, 0, tzinfo=UTC)


def test_fall_back_repeated_time_is_its_first_occurrence():
    week = Week({"sun": ["01:30"]})
    finder = SlotFinder(week, NEW_YORK, dt.datetime(2026, 10, 31, 12, 0, tzinfo=UTC))
    assert finder.take().at == dt.datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT


def test_an_empty_week_has_no_free_slot():
    with pytest.raises(NoFreeSlot):
        SlotFinder(Week(), LONDON, SATURDAY).take()


def test_five_hundred_taken_slots_are_skipped_in_order():
    finder = SlotFinder(WEEKDAYS, LONDON, SATURDAY)
    first = [finder.take().at for _ in range(500)]
    again = SlotFinder(WEEKDAYS, LONDON, SATURDAY, taken=first)
    assert again.take().at > first[-1]
