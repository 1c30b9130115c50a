"""A profile's coming posts, for answers and the dashboard: Buffer's list (one GraphQL
page per 100 posts, from the account's budget) joined with what the bridge placed; the
bridge's own record, marked stale, when Buffer cannot be asked now."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from bridge import models
from bridge.buffer.backend import BudgetExhausted, poster
from bridge.buffer.posts import BufferPost
from bridge.errors import BufferAPIError
from bridge.posting import kept
from bridge.posting.models import QUEUE, PlacedPost
from bridge.posting.posts import excerpt_of
from bridge.services import Services


def coming(services: Services, profile: models.Profile, now: dt.datetime) -> dict[str, Any]:
    """`{profile_id, schedule_mode, posts: [...], stale}` for `profile`, soonest first."""
    backend = services.backend(profile.account, for_request=True)
    abilities = backend.capabilities(now.date())
    with services.db.session() as session:
        settings = kept.settings_of(session, profile.id)
        query = select(PlacedPost).where(
            PlacedPost.profile_id == profile.id, PlacedPost.gone.is_(False)
        )
        placed = {p.buffer_post_id: p for p in session.scalars(query)}
        session.expunge_all()
    view: dict[str, Any] = {
        "profile_id": profile.id,
        "schedule_mode": kept.mode_of(abilities, settings),
        "stale": False,
    }
    graphql = poster(backend)
    organization = str((profile.data or {}).get("organization_id") or "")
    try:
        if graphql is None:
            raise BudgetExhausted(0)  # no key: only the bridge's own record to show
        found = graphql.scheduled_posts(organization, profile.id, now)
    except (BudgetExhausted, BufferAPIError) as error:
        view["stale"] = True
        view["stale_reason"] = _why(error, graphql is None)
        view["posts"] = [_from_record(profile, p) for p in _soonest(placed.values())]
        return view
    view["posts"] = [_from_buffer(profile, post, placed.get(post.id)) for post in found]
    return view


def _why(error: Exception, no_key: bool) -> str:
    if no_key:
        return "the account has no GraphQL key: these are the posts the bridge placed"
    if isinstance(error, BudgetExhausted):
        return "Buffer's rate limit is reached: these are the posts the bridge placed"
    return f"Buffer could not be asked ({error}): these are the posts the bridge placed"


def _soonest(rows: Any) -> list[PlacedPost]:
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    return sorted(rows, key=lambda p: (p.due_at or far, p.id))


def _local(profile: models.Profile, instant: dt.datetime | None) -> str | None:
    return instant.astimezone(kept.timezone_of(profile)).isoformat() if instant else None


def _from_buffer(
    profile: models.Profile, post: BufferPost, placed: PlacedPost | None
) -> dict[str, Any]:
    return {
        "id": post.id,
        "due_at": _local(profile, post.due_at),
        "excerpt": excerpt_of(post.text),
        "status": post.status,
        "share_mode": post.share_mode,
        "placed_by_bridge": placed is not None and not placed.adopted,
        "follows_week": placed is not None and placed.when == QUEUE,
        "slot": placed.slot if placed is not None else None,
    }


def _from_record(profile: models.Profile, placed: PlacedPost) -> dict[str, Any]:
    return {
        "id": placed.buffer_post_id,
        "due_at": _local(profile, placed.due_at),
        "excerpt": placed.excerpt,
        "status": "scheduled",
        "share_mode": "customScheduled" if placed.when != "buffer" else "addToQueue",
        "placed_by_bridge": not placed.adopted,
        "follows_week": placed.when == QUEUE,
        "slot": placed.slot,
    }
