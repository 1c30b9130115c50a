"""The kept week's coming slots, each with the post placed on it or free: what the
dashboard shows of a `bridge`-mode profile. From the bridge's own records (no Buffer
call: a page view must not spend the account's GraphQL budget)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from bridge import models
from bridge.posting import kept
from bridge.posting.models import PlacedPost
from bridge.posting.slots import NoFreeSlot, SlotFinder
from bridge.services import Services

SHOWN_SLOTS = 21  # three weeks of a one-a-day week; a week of three a day


def coming_slots(
    services: Services, profile: models.Profile, now: dt.datetime, count: int = SHOWN_SLOTS
) -> list[dict[str, Any]]:
    """The next `count` slots of the kept week: `{at, label, post}` (post None: free)."""
    with services.db.session() as session:
        settings = kept.settings_of(session, profile.id)
        placed = list(
            session.scalars(
                select(PlacedPost).where(
                    PlacedPost.profile_id == profile.id,
                    PlacedPost.gone.is_(False),
                    PlacedPost.due_at.is_not(None),
                )
            )
        )
        week = kept.week_of(settings, profile)
        excluded = kept.excluded(settings)
    tz = kept.timezone_of(profile)
    by_minute = {p.due_at.replace(second=0, microsecond=0): p for p in placed if p.due_at}
    finder = SlotFinder(week, tz, now, excluded_dates=excluded)
    shown = []
    for _ in range(count):
        try:
            slot = finder.take()
        except NoFreeSlot:
            break
        post = by_minute.get(slot.at)
        shown.append(
            {
                "at": slot.at.astimezone(tz),
                "label": slot.label,
                "post": {"id": post.buffer_post_id, "excerpt": post.excerpt} if post else None,
            }
        )
    return shown
