"""When rotation steps fall: DST in London and New York, catch-up, overrides (pure)."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge import timetable
from bridge.errors import InvalidInput

UTC = dt.UTC
ZONES = ("Europe/London", "America/New_York")


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def fired(steps_json, zone, start, ticks):
    """Simulate beat: (every occurrence fired, every occurrence superseded) over `ticks`."""
    steps, tz = timetable.parse_steps(steps_json), timetable.zone(zone)
    done, out, superseded = start, [], 0
    for now in ticks:
        occurrence, skipped = timetable.latest_due(steps, tz, done, now)
        if occurrence is not None:
            out.append(occurrence)
            superseded += skipped.count
        done = now
    return out, superseded


def test_a_step_at_0130_fires_once_the_night_clocks_go_back() -> None:
    for zone, night in (("Europe/London", (2027, 10, 31)), ("America/New_York", (2027, 11, 7))):
        start = dt.datetime(*night, tzinfo=UTC) - dt.timedelta(days=1)
        ticks = [start + dt.timedelta(minutes=m) for m in range(1, 3 * 24 * 60)]
        out, _ = fired([{"preset": "p", "cron": "30 1 * * *"}], zone, start, ticks)
        on_night = [o for o in out if o.wall.date() == dt.date(*night)]
        assert len(on_night) == 1
        tz = timetable.zone(zone)
        local = on_night[0].at.astimezone(tz)
        assert (local.hour, local.minute, local.fold) == (1, 30, 0)  # the first 01:30


def test_a_step_at_0230_fires_at_the_first_valid_time_the_night_clocks_go_forward() -> None:
    # New York skips 02:00-03:00 on 2027-03-14; London skips 01:00-02:00 on 2027-03-28
    steps = timetable.parse_steps([{"preset": "p", "at": "sun 02:30"}])
    ny = timetable.next_after(steps, timetable.zone("America/New_York"), utc(2027, 3, 13))
    assert ny is not None and ny.at == utc(2027, 3, 14, 7, 0)  # 03:00 EDT
    steps = timetable.parse_steps([{"preset": "p", "at": "sun 01:30"}])
    london = timetable.next_after(steps, timetable.zone("Europe/London"), utc(2027, 3, 27))
    assert london is not None and london.at == utc(2027, 3, 28, 1, 0)  # 02:00 BST


def test_each_profile_switches_at_its_own_local_time() -> None:
    steps = timetable.parse_steps([{"preset": "weekend", "at": "sat 00:00"}])
    after = utc(2027, 1, 4)
    london = timetable.next_after(steps, timetable.zone("Europe/London"), after)
    ny = timetable.next_after(steps, timetable.zone("America/New_York"), after)
    assert london is not None and london.at == utc(2027, 1, 9, 0, 0)
    assert ny is not None and ny.at == utc(2027, 1, 9, 5, 0)


def test_after_downtime_only_the_latest_due_step_fires_and_says_what_it_supersedes() -> None:
    steps = timetable.parse_steps(
        [{"preset": "weekday", "at": "mon 06:00"}, {"preset": "weekend", "at": "sat 00:00"}]
    )
    tz = timetable.zone("Europe/London")
    occurrence, superseded = timetable.latest_due(steps, tz, utc(2027, 1, 1), utc(2027, 1, 17))
    assert occurrence is not None and occurrence.preset == "weekend"
    assert occurrence.at == utc(2027, 1, 16) and superseded.count == 4  # 2x sat, 2x mon before it


def test_round_robin_takes_the_next_preset_every_period() -> None:
    steps = timetable.parse_steps(
        [{"presets": ["a", "b", "c"], "every": "2w", "start": "2027-01-04T06:00"}]
    )
    runs = list(
        itertools.islice(timetable.upcoming(steps, timetable.zone("UTC"), utc(2027, 1, 1)), 4)
    )
    assert [r.preset for r in runs] == ["a", "b", "c", "a"]
    assert runs[1].at == utc(2027, 1, 18, 6)


def test_an_override_holds_its_window_then_reverts() -> None:
    steps = timetable.parse_steps(
        [
            {"preset": "weekend", "at": "sat 00:00"},
            {"preset": "holiday", "from": "2027-12-24T00:00", "to": "2027-12-27T00:00"},
        ]
    )
    runs = list(
        itertools.islice(timetable.upcoming(steps, timetable.zone("UTC"), utc(2027, 12, 20)), 3)
    )
    # saturday the 25th falls inside the override: it does not fire
    assert [(r.action, r.preset, r.at.day) for r in runs] == [
        ("override", "holiday", 24),
        ("revert", "holiday", 27),
        ("apply", "weekend", 1),
    ]


@pytest.mark.parametrize(
    ("steps", "field"),
    [
        ([], "steps"),
        ([{"preset": "p"}], "steps.0"),
        ([{"preset": "p", "cron": "61 * * * *"}], "steps.0.cron"),
        ([{"preset": "p", "cron": "* * * * * *"}], "steps.0.cron"),
        ([{"preset": "p", "cron": "x" * 200}], "steps.0.cron"),
        ([{"preset": "p", "at": "someday 25:00"}], "steps.0.at"),
        ([{"preset": "bad name", "at": "sat 00:00"}], "steps.0.preset"),
        ([{"presets": [], "every": "1w", "start": "2027-01-01"}], "steps.0.presets"),
        ([{"presets": ["a"], "every": "0d", "start": "2027-01-01"}], "steps.0.every"),
        ([{"preset": "p", "from": "2027-01-02T00:00", "to": "2027-01-01T00:00"}], "steps.0.to"),
        ([{"preset": "p", "from": "2027-01-02T00:00+01:00", "to": "2027-01-03"}], "steps.0.from"),
        ([{"preset": "p", "at": "sat 00:00", "extra": 1}], "steps.0.extra"),
        ([{"preset": "p", "at": "sat 00:00"}] * 51, "steps"),
    ],
)
def test_invalid_steps_name_the_field(steps, field) -> None:
    with pytest.raises(InvalidInput) as error:
        timetable.parse_steps(steps)
    assert field in error.value.errors()


_STEP = st.one_of(
    st.builds(
        lambda d, h, m: {"preset": "p", "at": f"{d} {h:02d}:{m:02d}"},
        st.sampled_from(["sun", "sat", "mon-fri", "daily"]),
        st.sampled_from([0, 1, 2, 3, 23]),
        st.sampled_from([0, 15, 30, 59]),
    ),
    st.builds(
        lambda m, h: {"preset": "q", "cron": f"{m} {h} * * *"},
        st.sampled_from(["0", "30", "*/20"]),
        st.sampled_from(["1", "2", "1-3", "*/2"]),
    ),
)
# the weeks around both transitions of 2027 in both zones
_TRANSITIONS = [utc(2027, 3, 13), utc(2027, 3, 27), utc(2027, 10, 30), utc(2027, 11, 6)]


@settings(max_examples=25, deadline=None)
@given(
    steps=st.lists(_STEP, min_size=1, max_size=3),
    zone=st.sampled_from(ZONES),
    base=st.sampled_from(_TRANSITIONS),
    gaps=st.lists(st.integers(min_value=1, max_value=180), min_size=20, max_size=60),
)
def test_no_run_fires_twice_and_none_is_skipped_but_by_the_rules(steps, zone, base, gaps) -> None:
    start = base - dt.timedelta(hours=3)
    ticks = list(itertools.accumulate((dt.timedelta(minutes=g) for g in gaps), initial=start))[1:]
    out, _superseded = fired(steps, zone, start, ticks)
    keys = [(o.at, o.step) for o in out]
    assert len(keys) == len(set(keys)), "a run fired twice"
    parsed, tz = timetable.parse_steps(steps), timetable.zone(zone)
    expected = [o for o in timetable.upcoming(parsed, tz, start) if o.at <= ticks[-1]]
    assert len({(o.wall, o.step) for o in expected}) == len(expected), "a wall time mapped twice"
    # every occurrence fired, or a later one fired at the same tick (the catch-up rule)
    fired_at = {o.at: o for o in out}
    previous = start
    for now in ticks:
        due = [o for o in expected if previous < o.at <= now]
        if due:
            assert due[-1].at in fired_at and fired_at[due[-1].at].step == due[-1].step
        previous = now
    assert all(o.at <= ticks[-1] for o in out)
