"""Tests for bridge.schedules: parsing tables, Buffer conversion, operations, diffs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.errors import InvalidSchedule
from bridge.schedules import (
    DAYS,
    Operation,
    Week,
    apply,
    describe_diff,
    diff,
    empty_week,
    fold,
    from_buffer,
    from_graphql,
    make_week,
    parse_days,
    parse_time,
    parse_times,
    summary,
    to_buffer,
    to_graphql,
    week_from_json,
    week_to_json,
)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")

# --- strategies -----------------------------------------------------------------------

hhmm = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))
# A small pool makes equal day schedules (and so grouping) common.
times_pool = st.sampled_from(["00:00", "09:00", "12:30", "17:00", "23:59"]) | hhmm
day_times = st.frozensets(times_pool, max_size=4)
weeks = st.fixed_dictionaries({d: day_times for d in DAYS}).map(make_week)
day_sets = st.sets(st.sampled_from(DAYS), min_size=1).map(
    lambda s: tuple(d for d in DAYS if d in s)
)
time_sets = st.sets(times_pool, min_size=1, max_size=4).map(lambda s: tuple(sorted(s)))
operations = st.one_of(
    weeks.map(Operation.replace),
    st.builds(Operation.set, day_sets, time_sets),
    st.builds(lambda d: Operation.set(d, ()), day_sets),
    st.builds(Operation.add, day_sets, time_sets),
    st.builds(Operation.remove, day_sets, time_sets),
    st.builds(Operation.clear, day_sets),
)


def week_of(**days: str) -> Week:
    """Shorthand: week_of(mon="09:00 17:00")."""
    return make_week(days)


# --- parse_days -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("mon", ("mon",)),
        ("MON", ("mon",)),
        ("Monday", ("mon",)),
        ("tues", ("tue",)),
        ("thur", ("thu",)),
        ("Thurs", ("thu",)),
        ("mondays", ("mon",)),
        ("mon, wed fri", ("mon", "wed", "fri")),
        ("fri,mon", ("mon", "fri")),
        ("mon mon monday", ("mon",)),
        (["sun", "Sat"], ("sat", "sun")),
        (("wed",), ("wed",)),
        ("mon-fri", WEEKDAYS),
        ("Mon-Wed,fri", ("mon", "tue", "wed", "fri")),
        ("mon - wed", ("mon", "tue", "wed")),
        ("mon to wed", ("mon", "tue", "wed")),
        ("mon\u2013wed", ("mon", "tue", "wed")),
        ("fri-mon", ("mon", "fri", "sat", "sun")),
        ("sun-mon", ("mon", "sun")),
        ("wed-wed", ("wed",)),
        ("weekdays", WEEKDAYS),
        ("weekends", ("sat", "sun")),
        ("weekend", ("sat", "sun")),
        ("daily", DAYS),
        ("everyday", DAYS),
        ("ALL", DAYS),
        ("weekdays and sat", ("mon", "tue", "wed", "thu", "fri", "sat")),
        (["weekends", "mon-tue"], ("mon", "tue", "sat", "sun")),
    ],
)
def test_parse_days_accepts(value: Any, expected: tuple[str, ...]) -> None:
    assert parse_days(value) == expected


@pytest.mark.parametrize(
    ("value", "token"),
    [
        ("funday", "funday"),
        ("mon, funday", "funday"),
        (["mon", "xyz"], "xyz"),
        ("mon-funday", "mon-funday"),
        ("mon-", "mon-"),
        ("mon-tue-wed", "mon-tue-wed"),
        ("weekdays-sun", "weekdays-sun"),
        ("m", "m"),
    ],
)
def test_parse_days_rejects_naming_the_token(value: Any, token: str) -> None:
    with pytest.raises(InvalidSchedule) as exc:
        parse_days(value, field="when")
    assert repr(token) in exc.value.message
    assert exc.value.token == token
    assert exc.value.field == "when"


def test_unknown_day_message_says_what_to_use() -> None:
    with pytest.raises(InvalidSchedule, match=r"unknown day 'funday' \(use mon\.\.sun, ranges"):
        parse_days("funday")


@pytest.mark.parametrize("value", ["", "  ", [], ",", "and", None, 5, {"mon": 1}, [3]])
def test_parse_days_rejects_empty_and_non_strings(value: Any) -> None:
    with pytest.raises(InvalidSchedule):
        parse_days(value)


# --- parse_time / parse_times ---------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("9:00", "09:00"),
        ("09:00", "09:00"),
        ("0:00", "00:00"),
        ("17:45", "17:45"),
        ("23:59", "23:59"),
        ("9am", "09:00"),
        ("9 am", "09:00"),
        ("9AM", "09:00"),
        ("9 a.m.", "09:00"),
        ("5:30pm", "17:30"),
        ("5.30pm", "17:30"),
        ("17.30", "17:30"),
        ("11:59pm", "23:59"),
        ("12am", "00:00"),
        ("12:15am", "00:15"),
        ("12pm", "12:00"),
        ("1pm", "13:00"),
        ("noon", "12:00"),
        ("Midnight", "00:00"),
        (" 9:00 ", "09:00"),
    ],
)
def test_parse_time_accepts(token: str, expected: str) -> None:
    assert parse_time(token) == expected


@pytest.mark.parametrize(
    ("token", "why"),
    [
        ("24:00", "hours must be 00-23"),
        ("9:75", "minutes must be 00-59"),
        ("13pm", "1-12 with am/pm"),
        ("0am", "1-12 with am/pm"),
        ("abc", "HH:MM"),
        ("9:5", "two digits"),
        ("9:", "two digits"),
        ("9", "HH:MM"),
        ("009:00", "hours"),
        ("9:000", "two digits"),
        ("9pmx", "HH:MM"),
        ("-1:00", "HH:MM"),
        ("", "HH:MM"),
    ],
)
def test_parse_time_rejects_naming_the_token(token: str, why: str) -> None:
    with pytest.raises(InvalidSchedule) as exc:
        parse_time(token, field="at")
    assert f"invalid time {token!r}" in exc.value.message
    assert why in exc.value.message
    assert exc.value.token == token
    assert exc.value.field == "at"


def test_parse_time_message_example() -> None:
    with pytest.raises(InvalidSchedule, match=r"^invalid time '24:00': hours must be 00-23$"):
        parse_time("24:00")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("9am, 12:30, 5pm", ("09:00", "12:30", "17:00")),
        ("17:00 09:00", ("09:00", "17:00")),
        ("9 am, 5 pm", ("09:00", "17:00")),
        ("9 am 5 PM", ("09:00", "17:00")),
        ("9am and 5pm", ("09:00", "17:00")),
        ("9:00,9am,09:00", ("09:00",)),
        (["9 am", "noon"], ("09:00", "12:00")),
        (["17:00", "9:00, 10:00"], ("09:00", "10:00", "17:00")),
        (("23:59",), ("23:59",)),
    ],
)
def test_parse_times_accepts(value: Any, expected: tuple[str, ...]) -> None:
    assert parse_times(value) == expected


@pytest.mark.parametrize(
    ("value", "token"),
    [
        ("9am, 25:00", "25:00"),
        (["9:00", "9:5"], "9:5"),
        ("am 9:00", "am"),
        ("9:00, lunch", "lunch"),
        ("13 pm", "13 pm"),
    ],
)
def test_parse_times_rejects_naming_the_token(value: Any, token: str) -> None:
    with pytest.raises(InvalidSchedule) as exc:
        parse_times(value)
    assert repr(token) in exc.value.message
    assert exc.value.token == token


@pytest.mark.parametrize("value", ["", "  ", [], ", ,"])
def test_parse_times_empty_needs_allow_empty(value: Any) -> None:
    with pytest.raises(InvalidSchedule, match="no times given"):
        parse_times(value)
    assert parse_times(value, allow_empty=True) == ()


@pytest.mark.parametrize("value", [None, 9, {"9:00": 1}, [9]])
def test_parse_times_rejects_non_strings(value: Any) -> None:
    with pytest.raises(InvalidSchedule):
        parse_times(value, allow_empty=True)


# --- Week -----------------------------------------------------------------------------


def test_empty_week_has_all_days_in_order() -> None:
    week = empty_week()
    assert list(week) == list(DAYS)
    assert all(week[d] == () for d in DAYS)
    assert week.is_empty()
    assert summary(week) == "no posting times"


def test_make_week_normalises_keys_and_values() -> None:
    week = make_week({"weekdays": "5pm, 9am", "Sat": ["10:00"], "mon": "9:00 12:30"})
    assert week == {
        "mon": ("09:00", "12:30", "17:00"),
        "tue": ("09:00", "17:00"),
        "wed": ("09:00", "17:00"),
        "thu": ("09:00", "17:00"),
        "fri": ("09:00", "17:00"),
        "sat": ("10:00",),
        "sun": (),
    }
    assert Week({"mon": "9am"}) == week_of(mon="09:00")


def test_week_is_immutable_and_hashable() -> None:
    week = week_of(mon="09:00")
    with pytest.raises(AttributeError):
        week._times = ()
    with pytest.raises(TypeError):
        week["mon"] = ("10:00",)  # type: ignore[index]
    assert hash(week) == hash(week_of(mon="9am"))
    assert week != week_of(mon="10:00")
    with pytest.raises(KeyError):
        week["monday"]


@pytest.mark.parametrize(
    "bad", [{"funday": "9:00"}, {"mon": "25:00"}, {"mon": [9]}, ["mon"], "mon 9:00"]
)
def test_make_week_rejects_garbage(bad: Any) -> None:
    with pytest.raises(InvalidSchedule):
        make_week(bad)


@given(weeks)
def test_week_json_round_trip(week: Week) -> None:
    data = week_to_json(week)
    assert list(data) == list(DAYS)
    assert week_from_json(json.loads(json.dumps(data))) == week


# --- Buffer conversion ----------------------------------------------------------------


def test_from_buffer_reads_reference_example() -> None:
    entries = [{"days": list(WEEKDAYS), "times": ["12:00", "17:00", "18:00"]}]
    week = from_buffer(entries)
    assert all(week[d] == ("12:00", "17:00", "18:00") for d in WEEKDAYS)
    assert week["sat"] == week["sun"] == ()
    assert to_buffer(week) == entries


def test_from_buffer_unites_repeated_days_and_normalises() -> None:
    week = from_buffer(
        [
            {"days": ["mon", "tue"], "times": ["9:00", "17:00"]},
            {"days": ["mon"], "times": ["12:30", "09:00"]},
            {"days": ["sun"], "times": []},
        ]
    )
    assert week == week_of(mon="09:00 12:30 17:00", tue="09:00 17:00")


@pytest.mark.parametrize(
    ("entries", "field"),
    [
        ([{"days": ["mon"], "times": ["lunchtime"]}], "schedules[0].times"),
        (
            [{"days": ["mon"], "times": ["9:00"]}, {"days": ["xday"], "times": []}],
            "schedules[1].days",
        ),
        ([{"days": ["mon"]}], "schedules[0].times"),
        ([{"times": ["9:00"]}], "schedules[0].days"),
        (["mon"], "schedules[0]"),
        ({"days": ["mon"], "times": []}, "schedules"),
        (None, "schedules"),
    ],
)
def test_from_buffer_rejects_garbage(entries: Any, field: str) -> None:
    with pytest.raises(InvalidSchedule) as exc:
        from_buffer(entries)
    assert exc.value.field == field


def test_to_buffer_groups_identical_days() -> None:
    week = week_of(mon="9:00 17:00", wed="9:00 17:00", tue="10:00", sun="9:00 17:00", fri="10:00")
    assert to_buffer(week) == [
        {"days": ["mon", "wed", "sun"], "times": ["09:00", "17:00"]},
        {"days": ["tue", "fri"], "times": ["10:00"]},
    ]


def test_to_buffer_of_empty_week_keeps_schedules_present() -> None:
    assert to_buffer(empty_week()) == [{"days": list(DAYS), "times": []}]
    assert from_buffer(to_buffer(empty_week())) == empty_week()


@given(weeks)
def test_from_buffer_inverts_to_buffer(week: Week) -> None:
    assert from_buffer(to_buffer(week)) == week


@given(weeks)
def test_to_buffer_is_valid_minimal_and_deterministic(week: Week) -> None:
    entries = to_buffer(week)
    assert entries == to_buffer(make_week(week_to_json(week)))
    assert entries == json.loads(json.dumps(entries))
    seen: list[str] = []
    for entry in entries:
        assert set(entry) == {"days", "times"}
        assert entry["days"], "an entry without days"
        assert all(d in DAYS for d in entry["days"])
        assert entry["days"] == sorted(entry["days"], key=DAYS.index)
        assert entry["times"] == sorted(set(entry["times"]))
        assert all(parse_time(t) == t for t in entry["times"])
        seen.extend(entry["days"])
    assert len(seen) == len(set(seen)), "a day in two entries"
    firsts = [DAYS.index(e["days"][0]) for e in entries]
    assert firsts == sorted(firsts)
    all_times = [tuple(e["times"]) for e in entries]
    assert len(all_times) == len(set(all_times)), "two entries with the same times"
    if week.is_empty():
        assert entries == [{"days": list(DAYS), "times": []}]
    else:
        assert all(e["times"] for e in entries)
        assert set(seen) == {d for d in DAYS if week[d]}


# --- summary --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("week", "text"),
    [
        (
            {"weekdays": "9:00 12:30 17:00", "weekends": "10:00"},
            "mon-fri 09:00 12:30 17:00; sat-sun 10:00",
        ),
        ({"mon": "9am", "wed": "9am"}, "mon,wed 09:00"),
        ({"mon-wed": "9am", "fri": "9am", "thu": "noon"}, "mon-wed,fri 09:00; thu 12:00"),
        ({"sat-mon": "9am"}, "mon,sat-sun 09:00"),
        ({"daily": "noon"}, "mon-sun 12:00"),
        ({}, "no posting times"),
    ],
)
def test_summary(week: dict[str, str], text: str) -> None:
    assert summary(make_week(week)) == text


# --- operations -----------------------------------------------------------------------

BASE = week_of(mon="09:00 12:00", tue="09:00", sat="10:00")


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        (Operation.replace({"sun": "8am"}), week_of(sun="08:00")),
        (
            Operation.set("weekdays", "9:00, 12:30, 5pm"),
            week_of(weekdays="09:00 12:30 17:00", sat="10:00"),
        ),
        (Operation.set("mon", ""), week_of(tue="09:00", sat="10:00")),
        (
            Operation.add("mon-tue", "5pm"),
            week_of(mon="9:00 12:00 17:00", tue="9:00 17:00", sat="10:00"),
        ),
        (Operation.remove("daily", "9am"), week_of(mon="12:00", sat="10:00")),
        (Operation.remove("sun", "9am"), BASE),
        (Operation.clear("weekends"), week_of(mon="09:00 12:00", tue="09:00")),
    ],
)
def test_apply(op: Operation, expected: Week) -> None:
    assert apply(BASE, op) == expected


def test_operation_constructors_normalise() -> None:
    op = Operation.add("fri, Mon", ["5pm", "9 am", "9:00"])
    assert op == Operation("add", ("mon", "fri"), ("09:00", "17:00"))
    assert Operation("set", "mon-tue", "9am") == Operation.set(["mon", "tue"], ["09:00"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "explode", "days": ("mon",)}, "kind"),
        ({"kind": "replace"}, "week"),
        ({"kind": "replace", "week": empty_week(), "days": ("mon",)}, "days"),
        ({"kind": "set", "times": ("09:00",)}, "days"),
        ({"kind": "set", "days": ("mon",), "week": empty_week()}, "week"),
        ({"kind": "add", "days": ("mon",)}, "times"),
        ({"kind": "remove", "days": ("mon",)}, "times"),
        ({"kind": "clear", "days": ("mon",), "times": ("09:00",)}, "times"),
        ({"kind": "add", "days": ("funday",), "times": ("09:00",)}, "days"),
        ({"kind": "add", "days": ("mon",), "times": ("25:00",)}, "times"),
    ],
)
def test_operation_rejects_bad_shapes(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidSchedule) as exc:
        Operation(**kwargs)
    assert exc.value.field == field


@pytest.mark.parametrize(
    "data",
    [
        {"kind": "nope"},
        {"kind": 3, "days": ["mon"]},
        {"days": ["mon"], "times": ["09:00"]},
        {"kind": "add", "days": ["mon"], "times": ["09:00"], "extra": 1},
        {"kind": "add", "days": "mon", "times": [900]},
        {"kind": "replace"},
        {"kind": "replace", "week": ["mon"]},
        {"kind": "replace", "week": {"mon": ["99:00"]}},
        {"kind": "clear", "days": []},
        ["kind", "clear"],
    ],
)
def test_operation_from_json_validates(data: Any) -> None:
    with pytest.raises(InvalidSchedule):
        Operation.from_json(data)


@given(operations)
def test_operation_json_round_trip(op: Operation) -> None:
    data = json.loads(json.dumps(op.to_json()))
    assert Operation.from_json(data) == op


@given(weeks, operations)
def test_every_operation_is_idempotent(week: Week, op: Operation) -> None:
    once = apply(week, op)
    assert apply(once, op) == once


@given(weeks, st.lists(operations, max_size=5), weeks, st.lists(operations, max_size=5))
def test_fold_of_replace_ignores_what_came_before(
    start: Week, before: list[Operation], target: Week, after: list[Operation]
) -> None:
    replace = Operation.replace(target)
    assert fold(start, [*before, replace, *after]) == fold(target, after)


@given(weeks, st.lists(operations, max_size=5))
def test_fold_applies_in_order(start: Week, ops: list[Operation]) -> None:
    expected = start
    for op in ops:
        expected = apply(expected, op)
    assert fold(start, ops) == expected
    assert fold(start, []) == start


@given(weeks, operations)
def test_operation_only_touches_its_days(week: Week, op: Operation) -> None:
    changed = set(diff(week, apply(week, op)))
    if op.kind != "replace":
        assert changed <= set(op.days)


def test_operation_describe() -> None:
    assert Operation.set("weekdays", "9am 5pm").describe() == "set mon-fri 09:00 17:00"
    assert Operation.clear("sat,sun").describe() == "clear sat-sun"
    assert Operation.replace({"mon": "9am"}).describe() == "replace with mon 09:00"


# --- diff -----------------------------------------------------------------------------


def test_diff_example() -> None:
    before = week_of(mon="09:00 12:00", tue="10:00")
    after = week_of(mon="09:00 12:30 17:00", tue="10:00", sat="10:00")
    assert diff(before, after) == {
        "mon": {
            "before": ["09:00", "12:00"],
            "after": ["09:00", "12:30", "17:00"],
            "added": ["12:30", "17:00"],
            "removed": ["12:00"],
        },
        "sat": {"before": [], "after": ["10:00"], "added": ["10:00"], "removed": []},
    }
    assert describe_diff(diff(before, after)) == (
        "mon: 09:00 12:00 → 09:00 12:30 17:00; sat: none → 10:00"
    )


def test_describe_diff_groups_days_with_the_same_change() -> None:
    before = week_of(weekdays="09:00", sun="09:00")
    after = apply(before, Operation.set("mon-wed,fri", "10:00"))
    after = apply(after, Operation.add("sun", "10:00"))
    assert describe_diff(diff(before, after)) == (
        "mon-wed,fri: 09:00 → 10:00; sun: 09:00 → 09:00 10:00"
    )
    assert describe_diff({}) == "no change"


@given(weeks)
def test_diff_of_same_week_is_empty(week: Week) -> None:
    assert diff(week, week) == {}
    assert describe_diff(diff(week, week)) == "no change"


@given(weeks, weeks)
def test_diff_is_consistent_with_the_weeks(before: Week, after: Week) -> None:
    d = diff(before, after)
    assert list(d) == [day for day in DAYS if day in d]
    assert bool(d) == (before != after)
    rebuilt = {}
    for day in DAYS:
        if day not in d:
            assert before[day] == after[day]
            rebuilt[day] = before[day]
            continue
        change = d[day]
        assert change["before"] == list(before[day])
        assert change["after"] == list(after[day])
        assert not set(change["added"]) & set(change["removed"])
        rebuilt[day] = tuple((set(before[day]) - set(change["removed"])) | set(change["added"]))
    assert make_week(rebuilt) == after
    assert json.loads(json.dumps(d)) == d


@given(weeks, operations)
def test_diff_matches_applying_add_and_remove(week: Week, op: Operation) -> None:
    after = apply(week, op)
    for change in diff(week, after).values():
        if op.kind == "add":
            assert change["removed"] == [] and set(change["added"]) <= set(op.times)
        if op.kind == "remove":
            assert change["added"] == [] and set(change["removed"]) <= set(op.times)


# --- paused days ----------------------------------------------------------------------

pause_sets = st.sets(st.sampled_from(DAYS)).map(lambda s: [d for d in DAYS if d in s])
paused_weeks = st.builds(lambda w, p: w.with_pauses(p), weeks, pause_sets)


def test_graphql_shape_example() -> None:
    posting = [
        {"day": "mon", "paused": False, "times": ["09:00", "17:00"]},
        {"day": "tue", "paused": True, "times": ["9:00"]},
        {"day": "sat", "paused": True, "times": []},
    ]
    week = from_graphql(posting)
    assert week["tue"] == ("09:00",) and week["wed"] == ()
    assert week.paused_days() == ("tue", "sat")
    assert week.is_paused("tue") and not week.is_paused("mon")
    assert summary(week) == "mon 09:00 17:00; tue 09:00; tue,sat paused"


@pytest.mark.parametrize(
    "bad",
    [
        {"day": "mon"},
        [{"day": "funday", "paused": False, "times": []}],
        [{"day": "mon", "paused": "yes", "times": []}],
        [{"day": "mon", "paused": False, "times": ["25:00"]}],
        ["mon"],
    ],
)
def test_from_graphql_rejects_garbage(bad: Any) -> None:
    with pytest.raises(InvalidSchedule):
        from_graphql(bad)


@given(weeks)
def test_v1_weeks_have_no_pauses(week: Week) -> None:
    assert from_buffer(to_buffer(week)).paused_days() == ()
    assert "paused" not in week_to_json(week)


@given(paused_weeks)
def test_graphql_round_trip_keeps_pauses(week: Week) -> None:
    entries = to_graphql(week)
    assert [e["day"] for e in entries] == list(DAYS)
    assert from_graphql(json.loads(json.dumps(entries))) == week


@given(paused_weeks)
def test_week_json_round_trip_keeps_pauses(week: Week) -> None:
    data = week_to_json(week)
    assert list(data)[:7] == list(DAYS)
    assert data.get("paused", []) == list(week.paused_days())
    assert week_from_json(json.loads(json.dumps(data))) == week


@given(paused_weeks)
def test_v1_cannot_write_a_pause(week: Week) -> None:
    if week.paused_days():
        with pytest.raises(InvalidSchedule, match="cannot be written") as raised:
            to_buffer(week)
        assert raised.value.field == "paused"
        with pytest.raises(InvalidSchedule, match="v1"):
            Operation.replace(week)
    assert from_buffer(to_buffer(week.unpaused())) == week.unpaused()


def test_asking_for_a_pause_is_refused_naming_why() -> None:
    with pytest.raises(InvalidSchedule, match="Buffer's v1 API") as raised:
        make_week({"mon": "09:00", "paused": ["tue"]})
    assert raised.value.field == "week.paused"


@given(paused_weeks, operations)
def test_operations_keep_pauses(week: Week, op: Operation) -> None:
    after = apply(week, op)
    if op.kind == "replace":
        assert after.paused_days() == ()
    else:
        assert after.paused_days() == week.paused_days()


@given(weeks, pause_sets, pause_sets)
def test_diff_reports_pause_changes(week: Week, before: list[str], after: list[str]) -> None:
    old, new = week.with_pauses(before), week.with_pauses(after)
    changes = diff(old, new)
    assert (changes == {}) == (old == new)
    assert {d for d, c in changes.items() if c.get("pause") == "paused"} == set(after) - set(before)
    assert {d for d, c in changes.items() if c.get("pause") == "resumed"} == set(before) - set(
        after
    )
    for change in changes.values():
        assert change["before"] == change["after"]  # only pauses changed
    text = describe_diff(changes)
    assert ("paused" in text) == bool(set(after) - set(before))
    assert ("resumed" in text) == bool(set(before) - set(after))
    assert "→" not in text


def test_describe_diff_words_pauses_beside_times() -> None:
    before = make_week({"mon-fri": "09:00"})
    after = apply(before, Operation.add("mon", "17:00")).with_pauses(["tue", "wed"])
    assert describe_diff(diff(before, after)) == "mon: 09:00 → 09:00 17:00; tue-wed paused"
    assert describe_diff(diff(after, before)) == "mon: 09:00 17:00 → 09:00; tue-wed resumed"


@given(paused_weeks)
def test_pauses_count_in_equality_and_hash(week: Week) -> None:
    same_times = week.unpaused()
    assert (week == same_times) == (not week.paused_days())
    assert week == week.with_pauses(week.paused_days())
    assert hash(week) == hash(week.with_pauses(week.paused_days()))


def test_content_hash_changes_with_a_pause_only() -> None:
    from bridge.snapshots import content_hash

    week = make_week({"mon-fri": "09:00"})
    assert content_hash(week) != content_hash(week.with_pauses("tue"))
    assert content_hash(week) == content_hash(week.with_pauses([]))
    # unchanged for a week without pauses: the hashes stored before pauses still match
    assert content_hash(week) == (
        "858e4a3fb8ce76ca92e087a5c94b1a7c8cbd23f1e7f20bccbd08de30ff87f4fa"
    )


def test_buffers_own_times_are_exactly_the_strings_time_re_accepts() -> None:
    """`from_buffer` skips the grammar for times in `_HHMM_TIMES` (a set lookup instead of a
    regular expression per time): the set must be exactly what Buffer's TIME_RE accepts."""
    from bridge.buffer.models import TIME_RE
    from bridge.schedules import _HHMM_TIMES

    digits = "0123456789"
    candidates = {f"{a}{b}:{c}{d}" for a in digits for b in digits for c in digits for d in digits}
    assert {t for t in candidates if TIME_RE.fullmatch(t)} == _HHMM_TIMES
    assert not {"9:00", "24:00", "09:60", " 09:00", "09:00\n"} & _HHMM_TIMES
