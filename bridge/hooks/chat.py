"""What every chat adapter (Slack, Mattermost) shares: reading the slash command's form,
running the command for a client, and the ephemeral answer.

Answers are text for a person: errors (unknown profile, outside the client's scopes)
come back as a sentence in the chat, not as an HTTP error the chat tool would hide.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from marshmallow import Schema, ValidationError, fields

from bridge import (
    catalog,
    changes,
    commands,
    followups,
    jobs,
    models,
    outcome,
    presets,
    profiles,
    rotation,
    schedules,
    snapshots,
)
from bridge.errors import BridgeError, InvalidFields, InvalidInput
from bridge.posting import posts
from bridge.web.caller import services

HISTORY_LINES = 5
PROFILE_LINES = 25


class ResponseUrl(fields.Url):
    """A follow-up URL (http(s)). With `kind="slack"` it must also be Slack's
    (https://hooks.slack.com/, 422 otherwise); a Mattermost URL is checked against the
    client's server once the client is known (`follow_up`)."""

    def __init__(self, kind: str | None = None, **kwargs: Any) -> None:
        super().__init__(require_tld=False, schemes={"http", "https"}, **kwargs)
        self.kind = kind

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        url = super()._deserialize(value, attr, data, **kwargs)
        if url is not None and self.kind is not None:
            try:
                followups.check_target(
                    self.kind, url, None, services().settings.followup_private_hosts
                )
            except followups.RefusedTarget as refused:
                raise ValidationError(str(refused)) from None
        return url


def load_form(schema: Schema) -> dict[str, Any]:
    """The request's form through `schema` (422 naming the field)."""
    try:
        return dict(schema.load(request.form.to_dict()))
    except ValidationError as error:
        raise InvalidFields(dict(error.messages)) from None  # type: ignore[arg-type]


class ChatMessageSchema(Schema):
    """The answer Slack and Mattermost show to the person who typed the command."""

    response_type = fields.String(required=True, metadata={"example": "ephemeral"})
    text = fields.String(required=True, metadata={"example": "Queued: @brand mon-fri 09:00"})


def doc(form: type[Schema]) -> dict[str, Any]:
    """flask-smorest doc of a slash-command route: its form, no bearer token."""
    return {
        "security": [],
        "requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": form}}},
    }


def ephemeral(text: str) -> Response:
    """A message only the person who typed the command sees."""
    return jsonify({"response_type": "ephemeral", "text": text})


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
        notify, later = follow_up(client, source, response_url)
        return _change(command, client, jobs.Provenance(source, notify=notify), later)
    if command.name == "post":
        notify, later = follow_up(client, source, response_url)
        return _post(command, client, jobs.Provenance(source, notify=notify), later)
    if command.name == "preset" and command.verb == "apply":
        _group, submitted = presets.apply(
            services(), client, command.target or "", [command.profile or ""], source=source
        )
        return f"Queued: preset {command.target} on {command.profile} (job {submitted[0].job.id})."
    return _READERS[command.name](command, client)


def follow_up(
    client: models.ApiClient, source: str, response_url: str | None
) -> tuple[dict[str, Any] | None, str]:
    """(the job's notify target, what to tell the person about the outcome).

    A Mattermost client without a configured server URL gets no follow-ups, and is told
    so; a URL that is not an allowed target (another host, a private address) refuses
    the command (InvalidInput), as it can only come from a forged request."""
    if not response_url:
        return None, ""
    try:
        followups.check_target(
            source,
            response_url,
            client.mattermost_url,
            services().settings.followup_private_hosts,
        )
    except followups.RefusedTarget as refused:
        if source == "mattermost" and not client.mattermost_url:
            return None, f" The outcome will not be posted here: {refused}."
        raise InvalidInput(f"{refused}; nothing was queued", field="response_url") from None
    return {"kind": source, "response_url": response_url}, " I'll post the outcome here."


def _change(
    command: commands.Command, client: models.ApiClient, origin: jobs.Provenance, later: str
) -> str:
    """Queue a schedule change and say so; the outcome follows via the response URL."""
    submitted = changes.submit(services(), client, command.change(), origin)
    return f"Queued: {_queued_text(command, submitted)} (job {submitted.job.id}).{later}"


def _post(
    command: commands.Command, client: models.ApiClient, origin: jobs.Provenance, later: str
) -> str:
    """Queue a post on the profile's next free slot and say so."""
    asked = command.post
    assert asked is not None  # a parsed post command has its profile and text
    job, profile, _created = posts.submit(services(), client, asked.profile, asked.post, origin)
    return (
        f"Queued: post on {profiles.label(profile)}: {asked.post.excerpt!r} (job {job.id}).{later}"
    )


def _queued_text(command: commands.Command, submitted: changes.Submitted) -> str:
    """`@brand mon-fri 09:00 12:30 17:00`, `add @brand sat 10:00`, `restore @brand to ...`."""
    ref = command.profile or ""
    if command.name == "restore":
        params = dict(submitted.job.params)
        snapshot = params.pop("snapshot_id", None)
        week = schedules.Operation.from_json(params).week or schedules.empty_week()
        return f"restore {ref} to snapshot {snapshot}: {schedules.summary(week)}"
    verb, _, rest = command.change().operation().describe().partition(" ")
    return f"{ref} {rest}" if verb == "set" else f"{verb} {ref} {rest}"


def _profiles(command: commands.Command, client: models.ApiClient) -> str:
    """The profiles this client may use, with their cached schedules."""
    visible, _stale = catalog.visible(services(), client)
    if not visible:
        return "No profiles you may use."
    lines = [f"{profiles.label(p)}: {_summary(p)}" for p in visible[:PROFILE_LINES]]
    if len(visible) > PROFILE_LINES:
        lines.append(f"... and {len(visible) - PROFILE_LINES} more")
    return "\n".join(lines)


def _summary(profile: models.Profile) -> str:
    """The cached schedules of a profile in one line."""
    try:
        return schedules.summary(profiles.week_of(profile))
    except BridgeError:
        return "schedules not readable"


def _readable(ref: str | None, client: models.ApiClient) -> models.Profile:
    """The profile `ref` names, if the client may read it."""
    return catalog.readable(services(), client, ref or "")


def _show(command: commands.Command, client: models.ApiClient) -> str:
    """A profile's schedules as last seen."""
    profile = _readable(command.profile, client)
    seen = profile.seen_at.strftime("%Y-%m-%d %H:%M UTC")
    zone = f", times in {profile.timezone}" if profile.timezone else ""
    return f"{profiles.label(profile)}: {_summary(profile)} (as of {seen}{zone})"


def _history(command: commands.Command, client: models.ApiClient) -> str:
    """The latest snapshots of a profile, newest first, with the ids `restore` takes."""
    profile = _readable(command.profile, client)
    lines = [
        f"#{s.id} {s.taken_at.strftime('%Y-%m-%d %H:%M')} {s.reason}: {e.view['summary']}"
        for e in snapshots.history(services(), profile.id, HISTORY_LINES).entries
        if (s := e.snapshot)
    ]
    if not lines:
        return f"{profiles.label(profile)}: no snapshots yet."
    return "\n".join([f"{profiles.label(profile)}, newest first:", *lines])


def _job(command: commands.Command, client: models.ApiClient) -> str:
    """How a job stands or ended (only jobs on profiles the client may see)."""
    assert command.job_id is not None  # the grammar requires it
    found = jobs.visible_one(services(), client, command.job_id)
    job = found.jobs[0]
    return outcome.describe(job, found.labels.get(job.profile_id or ""))


def _preset(command: commands.Command, client: models.ApiClient) -> str:
    """preset list (apply is a change: `run` queues it)."""
    found = presets.shown(services(), client)
    return "\n".join(f"{p['name']}: {p['summary']}" for p in found) or "No presets yet."


def _rotation(command: commands.Command, client: models.ApiClient) -> str:
    """rotation list / pause <name> / next <name>."""
    if command.verb == "list":
        plans = rotation.names(services(), client)
        lines = [f"{name}: {'paused' if paused else 'running'}" for name, paused in plans]
        return "\n".join(lines) or "No rotation plans you may see."
    name = command.target or ""
    if command.verb == "pause":
        rotation.set_paused(services(), client, name, True)
        return f"Paused rotation plan {name}."
    shown = rotation.preview(services(), client, name, 1)
    lines = [
        f"{t['profile'] or t['profile_id']}: {r['local_text']} {r['action']} {r['preset']}"
        for t in shown["targets"]
        for r in t["runs"]
    ] + [f"{t['profile'] or t['profile_id']}: {t['error']}" for t in shown["targets"] if t["error"]]
    return "\n".join([f"{name}, next:", *lines]) if lines else f"{name}: nothing comes."


_READERS = {
    "profiles": _profiles,
    "show": _show,
    "history": _history,
    "job": _job,
    "preset": _preset,
    "rotation": _rotation,
}
