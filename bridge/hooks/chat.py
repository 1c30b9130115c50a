"""Run a parsed chat command for a client and say what happened, for every chat adapter.

Answers are text for a person: errors (unknown profile, outside the client's scopes)
come back as a sentence in the chat, not as an HTTP error the chat tool would hide.
"""

from __future__ import annotations

from typing import Any

from bridge import auth, commands, jobs, models, outcome, profiles, schedules, snapshots
from bridge.api.common import resolve_profile, services
from bridge.errors import BridgeError, NotFound
from bridge.hooks import changes

HISTORY_LINES = 5
PROFILE_LINES = 25


def reply(text: str, client: models.ApiClient, source: str, response_url: str | None) -> str:
    """The answer to chat text: the command's result, its usage line, or what went wrong."""
    try:
        command = commands.parse(text)
    except commands.UsageError as error:
        return str(error)
    try:
        return run(command, client, source, response_url)
    except BridgeError as error:
        return f"Sorry: {error.message}"


def run(
    command: commands.Command, client: models.ApiClient, source: str, response_url: str | None
) -> str:
    """Carry out one command as `client`."""
    if command.name == "help":
        return commands.help_text(command.topic)
    if command.is_change:
        notify = {"kind": source, "response_url": response_url} if response_url else None
        return _change(command, client, source, notify)
    return _READERS[command.name](command, client)


def _change(
    command: commands.Command,
    client: models.ApiClient,
    source: str,
    notify: dict[str, Any] | None,
) -> str:
    """Queue a schedule change and say so; the outcome follows via the response URL."""
    action = "set_days" if command.name == "set" else command.name
    change = changes.ScheduleChange(
        action, command.profile, command.days, command.times, command.snapshot_id
    )
    submitted = changes.submit(change, client, source, notify=notify)
    later = " I'll post the outcome here." if notify else ""
    return f"Queued: {_queued_text(command, submitted)} (job {submitted.job.id}).{later}"


def _queued_text(command: commands.Command, submitted: changes.Submitted) -> str:
    """`@brand mon-fri 09:00 12:30 17:00`, `add @brand sat 10:00`, `restore @brand to ...`."""
    ref = command.profile or ""
    if command.name == "restore":
        params = dict(submitted.job.params)
        snapshot = params.pop("snapshot_id", None)
        week = schedules.Operation.from_json(params).week or schedules.empty_week()
        return f"restore {ref} to snapshot {snapshot}: {schedules.summary(week)}"
    verb, _, rest = command.operation().describe().partition(" ")
    return f"{ref} {rest}" if verb == "set" else f"{verb} {ref} {rest}"


def _profiles(command: commands.Command, client: models.ApiClient) -> str:
    """The profiles this client may use, with their cached schedules."""
    svc = services()
    with svc.db.session() as session:
        found = profiles.list_cached(session)
    if not found:  # a new install: fill the cache once (one Buffer call per account)
        for account in svc.settings.account_names():
            snapshots.take_account(svc, account)
        with svc.db.session() as session:
            found = profiles.list_cached(session)
    visible = [p for p in found if auth.can_see(client, p)]
    if not visible:
        return "No profiles you may use."
    lines = [f"{profiles.label(p)}: {_summary(p)}" for p in visible[:PROFILE_LINES]]
    if len(visible) > PROFILE_LINES:
        lines.append(f"... and {len(visible) - PROFILE_LINES} more")
    return "\n".join(lines)


def _summary(profile: models.Profile) -> str:
    """The cached schedules of a profile in one line."""
    try:
        return schedules.summary(schedules.from_buffer(profile.schedules))
    except BridgeError:
        return "schedules not readable"


def _readable(ref: str | None, client: models.ApiClient) -> models.Profile:
    """The profile `ref` names, if the client may read it."""
    profile = resolve_profile(ref or "")
    auth.check_read(client, profile)
    return profile


def _show(command: commands.Command, client: models.ApiClient) -> str:
    """A profile's schedules as last seen."""
    profile = _readable(command.profile, client)
    seen = profile.seen_at.strftime("%Y-%m-%d %H:%M UTC")
    zone = f", times in {profile.timezone}" if profile.timezone else ""
    return f"{profiles.label(profile)}: {_summary(profile)} (as of {seen}{zone})"


def _history(command: commands.Command, client: models.ApiClient) -> str:
    """The latest snapshots of a profile, newest first, with the ids `restore` takes."""
    profile = _readable(command.profile, client)
    with services().db.session() as session:
        items = snapshots.listing(session, profile.id, HISTORY_LINES)
        lines = [
            f"#{s.id} {s.taken_at.strftime('%Y-%m-%d %H:%M')} {s.reason}: "
            f"{schedules.summary(snapshots.week_of(s))}"
            for s in items
        ]
    if not lines:
        return f"{profiles.label(profile)}: no snapshots yet."
    return "\n".join([f"{profiles.label(profile)}, newest first:", *lines])


def _job(command: commands.Command, client: models.ApiClient) -> str:
    """How a job stands or ended (only jobs on profiles the client may see)."""
    assert command.job_id is not None  # the grammar requires it
    with services().db.session() as session:
        job = jobs.get(session, command.job_id)
        profile = session.get(models.Profile, job.profile_id) if job.profile_id else None
    if client.profiles is not None and (profile is None or not auth.can_see(client, profile)):
        raise NotFound(f"unknown job {command.job_id}")
    label = profiles.label(profile) if profile is not None else None
    return outcome.describe(job, label)


_READERS = {"profiles": _profiles, "show": _show, "history": _history, "job": _job}
