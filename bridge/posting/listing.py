"""A profile's coming posts, for answers and the CLI: Buffer's list (one GraphQL page per
100 posts, from the account's budget) joined with what the bridge placed; the bridge's
own record, marked stale, when Buffer cannot be asked now.

Reading them must not starve what the bridge writes: a listing is read at most once per
profile every LISTING_TTL (kept in Redis, `read_at` says when), and only while the GraphQL
limiter's reserve stays free for placing and moving posts (`take_read`)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from typing import Any

import redis
from sqlalchemy import select

from bridge import models
from bridge.buffer.backend import BudgetExhausted, GraphQLBackend, poster
from bridge.buffer.posts import BufferPost
from bridge.errors import BufferAPIError
from bridge.posting import kept
from bridge.posting.models import QUEUE, PlacedPost
from bridge.posting.posts import excerpt_of
from bridge.services import Services

LISTING_TTL = 60  # seconds a profile's listing of posts is answered without asking Buffer


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
    try:
        if graphql is None:
            raise BudgetExhausted(0)  # no key: only the bridge's own record to show
        found, read_at = _read(services, graphql, profile, now)
    except (BudgetExhausted, BufferAPIError) as error:
        view["stale"] = True
        view["stale_reason"] = _why(error, graphql is None)
        view["posts"] = [_from_record(profile, p) for p in _soonest(placed.values())]
        return view
    view["read_at"] = read_at.isoformat()
    view["posts"] = [_from_buffer(profile, post, placed.get(post.id)) for post in found]
    return view


def _read(
    services: Services, graphql: GraphQLBackend, profile: models.Profile, now: dt.datetime
) -> tuple[list[BufferPost], dt.datetime]:
    """The channel's scheduled posts and when Buffer was asked: from Redis when asked in
    the last LISTING_TTL, else from Buffer (kept for the next ones)."""
    key = f"bridge:posts-listing:{profile.id}"
    try:
        cached = services.redis.get(key)
    except redis.RedisError:
        cached = None
    if cached:
        kept = json.loads(cached)
        posts = [BufferPost(**{**p, "due_at": _instant(p["due_at"])}) for p in kept["posts"]]
        read_at = _instant(kept["read_at"]) or now
        return [p for p in posts if p.due_at is None or p.due_at >= now], read_at
    organization = str((profile.data or {}).get("organization_id") or "")
    found = graphql.scheduled_posts(organization, profile.id, now, for_reading=True)
    record = {
        "read_at": now.isoformat(),
        "posts": [{**vars(p), "due_at": p.due_at.isoformat() if p.due_at else None} for p in found],
    }
    with contextlib.suppress(redis.RedisError):
        services.redis.set(key, json.dumps(record), ex=LISTING_TTL)
    return found, now


def _instant(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


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
