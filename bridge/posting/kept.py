"""Who keeps a profile's week, and the kept week itself.

A profile is in `buffer` mode (Buffer keeps the posting schedule; the bridge writes it
through v1) or `bridge` mode (the bridge keeps the week and places its posts on it).
A profile of an account that cannot write through v1 (a GraphQL key only, or v1 past
BUFFER_V1_SUNSET) is in `bridge` mode from that moment, whatever it was set to; other
profiles follow their setting (default `buffer`).

The kept week starts as the last week read from Buffer (the profile cache, pauses
included), so switching changes nothing a user can see.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge import models, schedules
from bridge.buffer.backend import Capabilities
from bridge.errors import InvalidSchedule
from bridge.posting.models import BRIDGE, BUFFER, ProfileSettings
from bridge.timetable import zone


def settings_of(session: Session, profile_id: str) -> ProfileSettings | None:
    """The profile's settings row, if it has one."""
    return session.get(ProfileSettings, profile_id)


def ensure_settings(session: Session, profile_id: str) -> ProfileSettings:
    """The profile's settings row, added (flushed) when it has none."""
    found = settings_of(session, profile_id)
    if found is None:
        found = ProfileSettings(
            profile_id=profile_id,
            mode=None,
            adopt_queue=False,
            min_gap_minutes=0,
            excluded_dates=[],
            paused_days=[],
            week_version=0,
        )
        session.add(found)
        session.flush()
    return found


def mode_of(abilities: Capabilities, settings: ProfileSettings | None) -> str:
    """`bridge` or `buffer`: who keeps this profile's posting schedule today."""
    if not abilities.v1_writes:
        return BRIDGE
    return settings.mode if settings is not None and settings.mode else BUFFER


def cached_week(profile: models.Profile | None) -> schedules.Week:
    """The last week read from Buffer (empty when never read or unreadable)."""
    if profile is None:
        return schedules.empty_week()
    try:
        week = schedules.from_buffer(profile.schedules or [])
    except InvalidSchedule:
        return schedules.empty_week()
    return week.with_pauses(profile.paused_days or ())


def week_of(settings: ProfileSettings | None, profile: models.Profile | None) -> schedules.Week:
    """The kept week; the last week read from Buffer while the bridge keeps none yet."""
    if settings is None or settings.week is None:
        return cached_week(profile)
    return schedules.from_buffer(settings.week).with_pauses(settings.paused_days or ())


def keep(settings: ProfileSettings, week: schedules.Week, job_id: int | None) -> None:
    """Make `week` the kept week: a new version, whose posts `job_id`'s result reports."""
    settings.week = schedules.to_buffer(week.unpaused())
    settings.paused_days = list(week.paused_days())
    settings.week_version = (settings.week_version or 0) + 1
    settings.moving_job_id = job_id
    settings.updated_at = models.utcnow()


def start_keeping(session: Session, profile: models.Profile) -> ProfileSettings:
    """Begin keeping the profile's week (if not yet): it starts as Buffer's last week."""
    settings = ensure_settings(session, profile.id)
    if settings.week is None:
        week = cached_week(profile)
        settings.week = schedules.to_buffer(week.unpaused())
        settings.paused_days = list(week.paused_days())
        settings.updated_at = models.utcnow()
    return settings


def kept_profile_ids(session: Session, profile_ids: list[str] | None = None) -> set[str]:
    """The profiles whose week the bridge keeps (of `profile_ids`, or all)."""
    query = select(ProfileSettings.profile_id).where(ProfileSettings.week.is_not(None))
    if profile_ids is not None:
        query = query.where(ProfileSettings.profile_id.in_(profile_ids))
    return set(session.scalars(query))


def excluded(settings: ProfileSettings | None) -> list[dt.date]:
    """The profile's excluded dates as dates."""
    return [dt.date.fromisoformat(d) for d in (settings.excluded_dates if settings else [])]


def timezone_of(profile: models.Profile) -> ZoneInfo:
    """The profile's timezone (UTC when Buffer gave none this machine knows)."""
    return zone(profile.timezone)


def moves_waiting(session: Session, changed_before: dt.datetime) -> set[str]:
    """Profiles whose posts still wait to move onto a week kept since before then (the
    reconciler wakes them: a lost task or a killed worker must not strand the moves)."""
    query = select(ProfileSettings.profile_id).where(
        ProfileSettings.moving_job_id.is_not(None), ProfileSettings.updated_at < changed_before
    )
    return set(session.scalars(query))
