"""The dashboard's kept-week pieces: a `bridge`-mode profile's coming slots with their
posts, and its posting settings form (for clients that may write)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import redirect, request, url_for

from bridge import models
from bridge.errors import InvalidInput
from bridge.posting import calendar
from bridge.posting import settings as posting_settings
from bridge.web.caller import services

BAD_DATES = "dates without posts: write them as YYYY-MM-DD, one per line"


def kept_view(profile: models.Profile) -> dict[str, Any]:
    """What the profile page shows of the posting settings, and the slots in bridge mode."""
    view = posting_settings.of_profile(services(), profile)
    if view["schedule_mode"] == "bridge":
        view["slots"] = calendar.coming_slots(services(), profile, dt.datetime.now(dt.UTC))
    return view


def read_form() -> posting_settings.SettingsChange:
    """The settings form as a change; InvalidInput naming the field that is wrong."""
    form = request.form
    gap_text = form.get("min_gap_minutes", "").strip()
    if gap_text and not (gap_text.isascii() and gap_text.isdigit() and len(gap_text) <= 4):
        raise InvalidInput(
            "minimum gap between posts: a whole number of minutes, 0 to 1440", "min_gap_minutes"
        )
    words = form.get("excluded_dates", "").replace(",", " ").split()
    if len(words) > posting_settings.MAX_EXCLUDED:
        raise InvalidInput(
            f"dates without posts: at most {posting_settings.MAX_EXCLUDED}", "excluded_dates"
        )
    try:
        dates = tuple(dt.date.fromisoformat(word) for word in words if len(word) == 10)
    except ValueError:
        raise InvalidInput(BAD_DATES, "excluded_dates") from None
    if len(dates) != len(words):
        raise InvalidInput(BAD_DATES, "excluded_dates")
    return posting_settings.SettingsChange(
        schedule_mode=form.get("schedule_mode") or None,
        adopt_queue=form.get("adopt_queue") == "on",
        min_gap_minutes=int(gap_text) if gap_text else None,
        excluded_dates=dates,
    )


def save(client: models.ApiClient, profile_id: str) -> Any:
    """Apply the settings form as `client`, then show the profile again."""
    posting_settings.update(services(), client, profile_id, read_form())
    return redirect(url_for("ui.profile_page", profile_id=profile_id), 303)
