"""The chat grammar: what parses, the usage line a mistake gets, and a fuzz that finds no crash."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge import commands
from bridge.commands import Command, UsageError, parse

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Command("help")),
        ("help", Command("help")),
        ("HELP set", Command("help", topic="set")),
        ("help rm", Command("help", topic="remove")),
        ("profiles", Command("profiles")),
        ("show @brand", Command("show", profile="@brand")),
        ("history twitter:brand", Command("history", profile="twitter:brand")),
        (
            "set @brand weekdays 9am 12:30 5pm",
            Command("set", "@brand", WEEKDAYS, ("09:00", "12:30", "17:00")),
        ),
        (
            "set @brand mon to fri 9 am, 5:30pm",
            Command("set", "@brand", WEEKDAYS, ("09:00", "17:30")),
        ),
        ("add @brand sat,sun 10am", Command("add", "@brand", ("sat", "sun"), ("10:00",))),
        ("remove @brand fri 17:00", Command("remove", "@brand", ("fri",), ("17:00",))),
        ("rm @brand fri 17:00", Command("remove", "@brand", ("fri",), ("17:00",))),
        ("clear @brand weekends", Command("clear", "@brand", ("sat", "sun"))),
        ("restore @brand", Command("restore", profile="@brand")),
        ("restore @brand previous", Command("restore", profile="@brand")),
        ("restore @brand 42", Command("restore", profile="@brand", snapshot_id=42)),
        ("restore @brand #42", Command("restore", profile="@brand", snapshot_id=42)),
        ("job 7", Command("job", job_id=7)),
        ("  job   #7  ", Command("job", job_id=7)),
    ],
)
def test_parses(text: str, expected: Command) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "command", "says"),
    [
        ("frobnicate", None, "unknown command 'frobnicate'"),
        ("set", "set", "which profile?"),
        ("set brand mon 9am", "set", "invalid profile reference 'brand'"),
        ("set @brand", "set", "which days?"),
        ("set @brand funday 9am", "set", "unknown day 'funday'"),
        ("set @brand mon", "set", "which times?"),
        ("set @brand mon 25:00", "set", "invalid time '25:00'"),
        ("add @brand mon 9am wed", "add", "invalid time 'wed'"),
        ("clear @brand mon 9am", "clear", "clear takes no times"),
        ("show", "show", "which profile?"),
        ("show @a @b", "show", "takes only a profile"),
        ("profiles all", "profiles", "takes nothing"),
        ("restore @brand yesterday", "restore", "not a snapshot id"),
        ("restore @brand 1 2", "restore", "at most one snapshot id"),
        ("job", "job", "one job id"),
        ("job ²", "job", "not a job id"),
        ("job 0", "job", "not a job id"),
        ("job 1234567890123456789012", "job", "not a job id"),
        ("help nothing", "help", "no command called 'nothing'"),
    ],
)
def test_mistakes_get_the_usage_line_of_the_command(text: str, command: str, says: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(text)
    assert caught.value.command == command
    assert says in str(caught.value)
    if command is not None:
        assert str(caught.value).endswith(f"usage: {commands.USAGE[command]}")
    else:
        assert "commands: help, profiles" in str(caught.value)


def test_commands_become_operations() -> None:
    op = parse("add @brand weekends 10am").change().operation()
    assert (op.kind, op.days, op.times) == ("add", ("sat", "sun"), ("10:00",))
    assert parse("clear @brand mon").change().operation().kind == "clear"
    assert parse("restore @brand").is_change and not parse("show @brand").is_change
    with pytest.raises(ValueError):
        parse("show @brand").change()


def test_overlong_text_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="too long"):
        parse("set @brand mon " + "9am " * 1000)


def test_help_lists_every_command_or_one() -> None:
    assert all(line in commands.help_text() for line in commands.USAGE.values())
    assert commands.help_text("clear") == f"usage: {commands.USAGE['clear']}"


_WORDS = st.sampled_from(
    [
        *commands.USAGE,
        "@brand",
        "twitter:brand",
        "mon",
        "mon-fri",
        "to",
        "weekdays",
        "9am",
        "12:30",
        "5.30pm",
        "noon",
        "previous",
        "#3",
        "0",
        "-",
        ",",
        "am",
        "pm",
        "sat-",
        "99:99",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=200), st.lists(_WORDS, max_size=8).map(" ".join)))
def test_fuzz_only_usage_errors(text: str) -> None:
    try:
        command = parse(text)
    except UsageError as error:
        assert error.usage.startswith(("usage: ", "commands: "))
        return
    assert command.name in commands.USAGE
    if command.name in commands.CHANGES:
        command.change().operation()  # whatever parsed must also build its operation
