"""A profile's posting settings: read them, change them (the service side of the PATCH).

Switching a profile to `bridge` starts keeping its week (Buffer's last week, so nothing
a user sees changes). Switching back to `buffer` stops keeping it and queues one
`replace` change that writes the kept week to Buffer through v1, so the week the user
last asked for stays true. A profile whose account cannot write through v1 stays in
`bridge` mode: asking for `buffer` is refused (409) with the reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from bridge import auth, catalog, changes, jobs, models, schedules
from bridge.buffer.backend import Capabilities
from bridge.errors import InvalidInput, WritesUnavailable
from bridge.posting import kept
from bridge.posting.models import BRIDGE, BUFFER, MODES, ProfileSettings
from bridge.posting.posts import NO_GRAPHQL
from bridge.services import Services

MAX_EXCLUDED = 366
MAX_GAP = 1440


@dataclass(frozen=True)
class SettingsChange:
    """The settings a PATCH names (None: keep as it is)."""

    schedule_mode: str | None = None
    adopt_queue: bool | None = None
    min_gap_minutes: int | None = None
    excluded_dates: tuple[dt.date, ...] | None = None

    def __post_init__(self) -> None:
        """InvalidInput naming the first field out of bounds."""
        if self.schedule_mode is not None and self.schedule_mode not in MODES:
            raise InvalidInput(f"must be one of: {', '.join(MODES)}", "schedule_mode")
        gap = self.min_gap_minutes
        if gap is not None and not 0 <= gap <= MAX_GAP:
            raise InvalidInput(f"must be between 0 and {MAX_GAP}", "min_gap_minutes")
        if self.excluded_dates is not None and len(self.excluded_dates) > MAX_EXCLUDED:
            raise InvalidInput(f"at most {MAX_EXCLUDED} dates", "excluded_dates")


def view(settings: ProfileSettings | None, abilities: Capabilities) -> dict[str, Any]:
    """The settings as answers show them: the mode in force and what was chosen."""
    return {
        "schedule_mode": kept.mode_of(abilities, settings),
        "schedule_mode_chosen": settings.mode if settings is not None else None,
        "adopt_queue": bool(settings.adopt_queue) if settings else False,
        "min_gap_minutes": settings.min_gap_minutes if settings else 0,
        "excluded_dates": list(settings.excluded_dates) if settings else [],
        "can_post": abilities.can_post,
    }


def of_profile(services: Services, profile: models.Profile) -> dict[str, Any]:
    """`view` of a profile, read now."""
    abilities = services.backend(profile.account).capabilities(models.utcnow().date())
    with services.db.session() as session:
        return view(kept.settings_of(session, profile.id), abilities)


def kept_week(services: Services, profile: models.Profile) -> schedules.Week | None:
    """The week the bridge keeps for `profile`, or None when Buffer keeps it."""
    abilities = services.backend(profile.account).capabilities(models.utcnow().date())
    with services.db.session() as session:
        found = kept.settings_of(session, profile.id)
        if kept.mode_of(abilities, found) != BRIDGE:
            return None
        return kept.week_of(found, profile)


def update(
    services: Services, client: models.ApiClient, ref: str, change: SettingsChange
) -> tuple[dict[str, Any], changes.Submitted | None]:
    """Apply `change` to profile `ref`: (the settings now, the write-back job when leaving
    `bridge` mode). Raises Forbidden (read-only), NotFound (unknown or out of scope),
    WritesUnavailable (a mode the account cannot have)."""
    auth.check_write(client)
    profile = catalog.readable(services, client, ref)
    abilities = services.backend(profile.account).capabilities(models.utcnow().date())
    _check_mode(change.schedule_mode, abilities)
    leaving: schedules.Week | None = None
    with services.db.session() as session:
        settings = kept.ensure_settings(session, profile.id)
        was = kept.mode_of(abilities, settings)
        _apply(settings, change)
        now = kept.mode_of(abilities, settings)
        if now == BRIDGE:
            kept.start_keeping(session, session.get(models.Profile, profile.id) or profile)
        elif was == BRIDGE and settings.week is not None:
            leaving = kept.week_of(settings, profile)
            settings.week, settings.paused_days = None, []
            settings.moving_job_id = None  # Buffer's schedule places posts from now on
        settings.updated_at = models.utcnow()
        answer = view(settings, abilities)
    written = None
    if leaving is not None:
        request = changes.ChangeRequest(
            "replace", profile=profile.id, week=dict(leaving.unpaused())
        )
        written = changes.submit(services, client, request, jobs.Provenance("rest"))
    return answer, written


def _check_mode(mode: str | None, abilities: Capabilities) -> None:
    """WritesUnavailable for a mode the account cannot have today."""
    if mode == BUFFER and not abilities.v1_writes:
        raise WritesUnavailable(
            "this profile's week is kept by the bridge: its account cannot write Buffer's "
            "own schedule (no v1 access token, or v1 is past BUFFER_V1_SUNSET)"
        )
    if mode == BRIDGE and not abilities.can_post:
        raise WritesUnavailable(NO_GRAPHQL)


def _apply(settings: ProfileSettings, change: SettingsChange) -> None:
    if change.schedule_mode is not None:
        settings.mode = change.schedule_mode
    if change.adopt_queue is not None:
        settings.adopt_queue = change.adopt_queue
    if change.min_gap_minutes is not None:
        settings.min_gap_minutes = change.min_gap_minutes
    if change.excluded_dates is not None:
        settings.excluded_dates = sorted({d.isoformat() for d in change.excluded_dates})
