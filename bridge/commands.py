"""The chat command grammar, shared by every chat adapter (Slack, Mattermost).

    help [command]
    profiles
    show <profile>
    set <profile> <days> <times...>       e.g. set @brand weekdays 9am 12:30 5pm
    add <profile> <days> <times...>
    remove <profile> <days> <times...>
    clear <profile> <days>
    history <profile>
    restore <profile> [<snapshot id>|previous]
    job <id>
    preset list | preset apply <name> <profile>
    rotation list | rotation pause <name> | rotation next <name>
    post <profile> <text...>               e.g. post @brand New blog post is up

`parse` is pure: text in, a `Command` out, or a `UsageError` carrying one short
usage line for the command that was meant. It never raises anything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bridge import changes, profiles, schedule_grammar, schedules, timetable
from bridge.errors import InvalidInput
from bridge.posting import posts

USAGE: dict[str, str] = {
    "help": "help [command]",
    "profiles": "profiles",
    "show": "show <profile>",
    "set": "set <profile> <days> <times...>   e.g. set @brand weekdays 9am 12:30 5pm",
    "add": "add <profile> <days> <times...>   e.g. add @brand sat 10am",
    "remove": "remove <profile> <days> <times...>   e.g. remove @brand fri 5pm",
    "clear": "clear <profile> <days>   e.g. clear @brand weekends",
    "history": "history <profile>",
    "restore": "restore <profile> [<snapshot id>|previous]",
    "job": "job <id>",
    "preset": "preset list | preset apply <name> <profile>",
    "rotation": "rotation list | rotation pause <name> | rotation next <name>",
    "post": "post <profile> <text...>   e.g. post @brand New blog post is up",
}
CHANGES = ("set", "add", "remove", "clear")
_ALIASES = {"rm": "remove", "delete": "remove", "unset": "clear", "status": "job", "?": "help"}
# ids are database keys: ASCII digits only, short enough to fit a BIGINT
_ID = re.compile(r"#?([0-9]{1,18})", re.ASCII)
MAX_TEXT = 2000
# the longest run of words read as days ("mon and tue and ... and sun" is 13): a bound,
# so finding where the days end is linear in the text, not quadratic
MAX_DAY_WORDS = 24


class UsageError(Exception):
    """A command that does not fit the grammar: `message` says why, `usage` how to write it."""

    def __init__(self, message: str, command: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.command = command

    @property
    def usage(self) -> str:
        """The usage line of the command meant, or the list of commands."""
        if self.command in USAGE:
            return f"usage: {USAGE[self.command]}"
        return "commands: " + ", ".join(USAGE) + " (try: help set)"

    def __str__(self) -> str:
        return f"{self.message}. {self.usage}"


@dataclass(frozen=True)
class Command:
    """One parsed chat command; only the fields its `name` uses are set."""

    name: str
    profile: str | None = None
    days: tuple[str, ...] = ()
    times: tuple[str, ...] = ()
    snapshot_id: int | None = None
    job_id: int | None = None
    topic: str | None = None
    verb: str | None = None  # preset/rotation: list, apply, pause, next
    target: str | None = None  # the preset or plan named
    text: str | None = None  # post: the post's text, its line breaks kept

    @property
    def post(self) -> PostCommand | None:
        """The post a `post` command asks for (queued on the week's next free slot)."""
        if self.name != "post" or self.profile is None or self.text is None:
            return None
        return PostCommand(self.profile, posts.parse(self.text))

    @property
    def is_change(self) -> bool:
        """True for the commands that change a schedule (they become jobs)."""
        return self.name in CHANGES or self.name == "restore"

    def change(self) -> changes.ChangeRequest:
        """The change a set/add/remove/clear/restore command asks for (ValueError for the
        commands that only read)."""
        if not self.is_change:
            raise ValueError(f"{self.name} is not a schedule change")
        if self.name == "restore":
            return changes.ChangeRequest("restore", self.profile, snapshot_id=self.snapshot_id)
        return changes.ChangeRequest(self.name, self.profile, self.days, self.times)


@dataclass(frozen=True)
class PostCommand:
    """`post <profile> <text>`: the profile and the post."""

    profile: str
    post: posts.PostRequest


def parse(text: str) -> Command:
    """The command `text` asks for (an empty text asks for help)."""
    if len(text) > MAX_TEXT:
        raise UsageError(f"that command is too long (at most {MAX_TEXT} characters)")
    words = text.split()
    if not words:
        return Command("help")
    verb = words[0].lower()
    if verb in changes.PAUSES:
        raise UsageError(f"{verb} is not possible: {schedules.PAUSE_NOT_WRITABLE}")
    name = _ALIASES.get(verb, verb)
    if name not in USAGE:
        raise UsageError(f"unknown command {_quote(words[0])}")
    if name == "post":
        return _post(text)
    return _PARSERS[name](name, words[1:])


def _post(text: str) -> Command:
    """post <profile> <text...>: the text is everything after the profile, as written."""
    rest = text.strip().split(None, 1)[1] if len(text.split()) > 1 else ""
    profile = _profile("post", rest.split()[:1])
    body = rest[len(rest.split()[0]) :].strip() if rest else ""
    if not body:
        raise UsageError("what should the post say?", "post")
    return Command("post", profile=profile, text=body)


def _quote(word: str) -> str:
    """A word for a message: quoted and cut short."""
    return repr(word[:40] + ("..." if len(word) > 40 else ""))


def _help(name: str, args: list[str]) -> Command:
    """help [command]"""
    if len(args) > 1:
        raise UsageError("help takes at most one command", name)
    topic = _ALIASES.get(args[0].lower(), args[0].lower()) if args else None
    if topic is not None and topic not in USAGE:
        raise UsageError(f"no command called {_quote(args[0])}", name)
    return Command(name, topic=topic)


def _no_args(name: str, args: list[str]) -> Command:
    """profiles"""
    if args:
        raise UsageError(f"{name} takes nothing after it", name)
    return Command(name)


def _profile(name: str, args: list[str]) -> str:
    """The profile reference that must come first."""
    if not args:
        raise UsageError("which profile? name it as @username, service:username or an id", name)
    try:
        return profiles.check_ref(args[0])
    except InvalidInput as error:
        raise UsageError(error.message, name) from None


def _profile_only(name: str, args: list[str]) -> Command:
    """show <profile>, history <profile>"""
    profile = _profile(name, args)
    if len(args) > 1:
        raise UsageError(f"{name} takes only a profile", name)
    return Command(name, profile=profile)


def _change(name: str, args: list[str]) -> Command:
    """set/add/remove <profile> <days> <times...>, clear <profile> <days>"""
    profile = _profile(name, args)
    days, rest = _days(name, args[1:])
    if name == "clear":
        if rest:
            raise UsageError(f"clear takes no times (got {_quote(rest[0])})", name)
        return Command(name, profile=profile, days=days)
    if not rest:
        raise UsageError("which times? e.g. 9am 12:30 5pm", name)
    try:
        times = schedule_grammar.parse_times(" ".join(rest))
    except InvalidInput as error:
        raise UsageError(error.message, name) from None
    return Command(name, profile=profile, days=days, times=times)


def _days(name: str, words: list[str]) -> tuple[tuple[str, ...], list[str]]:
    """The longest run of leading words that reads as days, and the words after it."""
    best: tuple[str, ...] = ()
    end = 0
    first_error: InvalidInput | None = None
    for i in range(1, min(len(words), MAX_DAY_WORDS) + 1):
        try:
            best, end = schedule_grammar.parse_days(" ".join(words[:i])), i
        except InvalidInput as error:
            first_error = first_error or error
            if i - end > 2:  # "mon to fri" needs lookahead of two words, no more
                break
    if not best:
        message = first_error.message if first_error else "which days? e.g. mon-fri or weekends"
        raise UsageError(message, name)
    return best, words[end:]


def _restore(name: str, args: list[str]) -> Command:
    """restore <profile> [<snapshot id>|previous]"""
    profile = _profile(name, args)
    if len(args) > 2:
        raise UsageError("restore takes a profile and at most one snapshot id", name)
    if len(args) == 1 or args[1].lower() in ("previous", "prev", "last"):
        return Command(name, profile=profile)
    return Command(name, profile=profile, snapshot_id=_number(name, args[1], "snapshot id"))


def _job(name: str, args: list[str]) -> Command:
    """job <id>"""
    if len(args) != 1:
        raise UsageError("job takes one job id", name)
    return Command(name, job_id=_number(name, args[0], "job id"))


def _number(name: str, word: str, what: str) -> int:
    """A positive id like `12` or `#12`."""
    match = _ID.fullmatch(word)
    if match is None or int(match.group(1)) == 0:
        raise UsageError(f"{_quote(word)} is not a {what} (a number like 12)", name)
    return int(match.group(1))


def _preset(name: str, args: list[str]) -> Command:
    """preset list | preset apply <name> <profile>"""
    verb = args[0].lower() if args else ""
    if verb == "list" and len(args) == 1:
        return Command(name, verb="list")
    if verb == "apply" and len(args) == 3:
        return Command(
            name, verb="apply", target=_name(name, args[1]), profile=_profile(name, args[2:])
        )
    raise UsageError("preset takes list, or apply with a preset and a profile", name)


def _rotation(name: str, args: list[str]) -> Command:
    """rotation list | rotation pause <name> | rotation next <name>"""
    verb = args[0].lower() if args else ""
    if verb == "list" and len(args) == 1:
        return Command(name, verb="list")
    if verb in ("pause", "next") and len(args) == 2:
        return Command(name, verb=verb, target=_name(name, args[1]))
    raise UsageError("rotation takes list, pause <name> or next <name>", name)


def _name(name: str, word: str) -> str:
    try:
        return timetable.check_name(word)
    except InvalidInput as error:
        raise UsageError(error.message, name) from None


_PARSERS = {
    "help": _help,
    "profiles": _no_args,
    "show": _profile_only,
    "history": _profile_only,
    "set": _change,
    "add": _change,
    "remove": _change,
    "clear": _change,
    "restore": _restore,
    "job": _job,
    "preset": _preset,
    "rotation": _rotation,
}


def help_text(topic: str | None = None) -> str:
    """The help message: every usage line, or one command's."""
    if topic is not None:
        return f"usage: {USAGE[topic]}"
    lines = [f"  {line}" for line in USAGE.values()]
    notes = (
        "profiles: @username, service:username or a Buffer profile id; "
        "days: mon..sun, mon-fri, weekdays, weekends, daily; times: 09:00, 17:30, 9am, 5:30pm"
    )
    return "\n".join(["commands:", *lines, notes])
