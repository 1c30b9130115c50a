"""The sandbox's posts: each channel's posts and Buffer's rules for them (graphql.md, "Posts").

One `Posts` store hangs off a `Sandbox` (`Sandbox.posts`, rebuilt by `reset`) and
uses the sandbox's lock, profiles (posting schedule, timezone) and paused days, so
a schedule written through v1 moves where the next `addToQueue` post lands.

A post, as every method here answers it (GraphQL `Post` fields, JSON-ready)::

    {"id": 24 lowercase hex, "channelId", "channelService", "status": draft |
     scheduled | sent, "via": api | buffer, "shareMode", "schedulingType",
     "isCustomScheduled", "dueAt", "sentAt", "text", "createdAt", "updatedAt",
     "error": null, "allowedActions": [...]}

Dates are ISO 8601 in UTC with milliseconds (`2026-12-07T09:00:00.000Z`); dates
given may carry any offset (`Z` included) and are taken as UTC without one.
Reading posts (filters, sort, Relay pages) is post_pages.py.

Rules (Buffer's, as far as graphql.md tells; choices where it is silent):
- `customScheduled` needs `dueAt` in the future; the post keeps it whatever the
  schedule does later.
- `addToQueue` takes the first slot after now of the channel's own weekly schedule,
  in the channel's timezone, skipping paused days and instants a scheduled post of
  the channel already holds. A wall time that a DST change skips is taken with the
  offset before the change (02:30 on a spring-forward night is 03:30 new time, one
  slot with a 03:30 of that day); a repeated one is its first occurrence.
- `shareNext` puts the post first in the queue: it and the queued (non-custom)
  scheduled posts take the free slots again in that order, so they move up or down.
- `shareNow` sends at once: status `sent`, `sentAt` now.
- `saveToDraft` gives a draft: no slot, no limit, never sent by time; a draft keeps
  `dueAt` only for `customScheduled`.
- `editPost`: a field left out keeps its value (`saveToDraft` too: a draft stays a
  draft, its dueAt kept for `customScheduled`); `addToQueue` on a queued post keeps
  its slot; a sent post cannot change. `deletePost` takes a post of any status.
- A channel holds at most `SandboxConfig.queue_limit` scheduled posts (2000 by
  default): one more is `LimitReachedError`.
- Time moves as in Buffer: whenever the store is used, a scheduled post whose
  `dueAt` has passed is `sent` with `sentAt` = `dueAt`.
- No text limit: graphql.md names none (Buffer's limits are per network).

Past 400 lines on purpose: Buffer's rules for posts (modes, slots, DST, limits) are one
set of rules under one lock; reading pages of posts is post_pages.py.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bridge.sandbox.post_pages import DEFAULT_SORT, iso, ms, page, parse_datetime, sort_key
from bridge.week import DAYS


class Host(Protocol):
    """What the posts need of the sandbox that holds them (bridge/sandbox/state.py's
    `Sandbox`): its lock, configuration, profiles and paused days. A Protocol, so this
    module never imports the state that imports it."""

    lock: Any
    config: Any

    def owner_of(self, profile_id: str) -> str | None: ...

    def profile(self, profile_id: str) -> dict[str, Any]: ...

    def paused(self, profile_id: str) -> set[str]: ...


__all__ = ["DEFAULT_QUEUE_LIMIT", "PostError", "PostRecord", "Posts", "queue_slots"]

DEFAULT_QUEUE_LIMIT = 2000  # scheduled posts per channel on Buffer's paid plans
_HEX = "0123456789abcdef"
_SCHEDULED_ACTIONS = [
    "updatePost", "deletePost", "viewPost", "publishPostNow", "publishPostNext",
    "updatePostSchedule", "duplicatePost",
]  # fmt: skip
_DRAFT_ACTIONS = ["updatePost", "deletePost", "viewPost", "addPostToQueue", "duplicatePost"]
_SENT_ACTIONS = ["viewPost", "deletePost", "duplicatePost"]


class PostError(Exception):
    """A refusal Buffer answers as data: `typename` is the MutationError type to show."""

    def __init__(self, typename: str, message: str) -> None:
        super().__init__(message)
        self.typename = typename
        self.message = message


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _zone(name: str | None) -> ZoneInfo:
    """The channel's zone; Buffer's default Europe/London for a missing or unknown name."""
    try:
        return ZoneInfo(name or "Europe/London")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Europe/London")


def _week(schedules: list[dict[str, Any]], paused: set[str]) -> dict[str, list[clock_time]]:
    """v1 schedule groups as each unpaused day's sorted posting times (bad times skipped)."""
    week: dict[str, set[clock_time]] = {day: set() for day in DAYS if day not in paused}
    for entry in schedules:
        for day in entry.get("days", []):
            if day not in week:
                continue
            for text in entry.get("times", []):
                try:
                    week[day].add(clock_time.fromisoformat(text))
                except (TypeError, ValueError):
                    continue
    return {day: sorted(times) for day, times in week.items()}


def queue_slots(
    schedules: list[dict[str, Any]], timezone: str | None, paused: set[str], after: datetime
) -> Iterator[datetime]:
    """Every slot of a weekly schedule strictly after `after`, in order, as UTC datetimes.

    Endless when any unpaused day has a time, empty otherwise. Wall times are read in
    `timezone` (see the module docstring for DST gaps and repeats)."""
    week = _week(schedules, paused)
    if not any(week.values()):
        return
    zone = _zone(timezone)
    day = after.astimezone(zone).date()
    while True:
        # sorted as instants: a time in a DST gap lands an hour on, maybe past a later time
        walls = week.get(DAYS[day.weekday()], [])
        for slot in sorted({ms(datetime.combine(day, wall, tzinfo=zone)) for wall in walls}):
            if slot > after:
                yield slot
        day += timedelta(days=1)


@dataclass
class PostRecord:
    """One post as the store keeps it (`as_dict` is what the APIs show)."""

    id: str
    channel_id: str
    service: str
    via: str
    created_at: datetime
    seq: int  # creation order, for ties (ids sort by second, then randomly)
    text: str = ""
    status: str = "scheduled"
    share_mode: str = "addToQueue"
    scheduling_type: str | None = "automatic"
    custom: bool = False
    due_at: datetime | None = None
    sent_at: datetime | None = None
    updated_at: datetime | None = None
    tag_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The post as GraphQL's `Post` (module docstring)."""
        actions = {"draft": _DRAFT_ACTIONS, "scheduled": _SCHEDULED_ACTIONS}
        allowed = list(actions.get(self.status, _SENT_ACTIONS))
        if self.status == "scheduled" and self.custom:
            allowed.append("removePostScheduledTime")
        return {
            "id": self.id,
            "channelId": self.channel_id,
            "channelService": self.service,
            "status": self.status,
            "via": self.via,
            "shareMode": self.share_mode,
            "schedulingType": self.scheduling_type,
            "isCustomScheduled": self.custom,
            "dueAt": iso(self.due_at),
            "sentAt": iso(self.sent_at),
            "text": self.text,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at or self.created_at),
            "error": None,
            "allowedActions": allowed,
        }


class Posts:
    """Every post of one sandbox and the rules that place them; each method takes the lock.

    Methods answer post dicts (module docstring). `clock` gives now (a UTC datetime);
    tests may replace it to move time."""

    def __init__(self, sandbox: Host) -> None:
        self._sandbox = sandbox
        self.lock = sandbox.lock
        self.clock: Callable[[], datetime] = _utcnow
        self._posts: dict[str, PostRecord] = {}
        self._made = 0
        self._rng = random.Random(f"buffer-sandbox-posts:{sandbox.config.seed}")

    # --- the API's operations

    def create(self, account: str, fields: dict[str, Any], via: str = "api") -> dict[str, Any]:
        """A new post from CreatePostInput `fields` on a channel of `account`.

        Raises PostError: NotFoundError (unknown channel), UnauthorizedError (another
        account's), InvalidInputError (dueAt), LimitReachedError (queue full)."""
        with self.lock:
            now = self._now()
            channel_id = str(fields.get("channelId"))
            owner = self._sandbox.owner_of(channel_id)
            if owner is None:
                raise PostError("NotFoundError", "Channel not found")
            if owner != account:
                raise PostError("UnauthorizedError", "You do not have access to this channel")
            post = PostRecord(
                id=self._new_id(now),
                channel_id=channel_id,
                service=str(self._sandbox.profile(channel_id).get("service", "")),
                via=via,
                created_at=now,
                seq=self._made,
                text=fields.get("text") or "",
                scheduling_type=fields.get("schedulingType") or "automatic",
                tag_ids=[str(t) for t in fields.get("tagIds") or []],
            )
            self._place(post, fields, bool(fields.get("saveToDraft")), now)
            self._posts[post.id] = post
            self._made += 1
            return post.as_dict()

    def edit(self, account: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Change the post `fields["id"]` of `account` per EditPostInput; left-out fields keep.

        Raises PostError: NotFoundError, UnauthorizedError (another account's post),
        InvalidInputError (a sent post, dueAt), LimitReachedError."""
        with self.lock:
            now = self._now()
            post = self._owned(account, fields.get("id"), "UnauthorizedError")
            if post.status in ("sent", "sending"):
                raise PostError("InvalidInputError", "A sent post cannot be edited")
            draft = fields.get("saveToDraft")
            changed = PostRecord(**{**post.__dict__, "tag_ids": list(post.tag_ids)})
            if "text" in fields and fields["text"] is not None:
                changed.text = fields["text"]
            if fields.get("tagIds") is not None:
                changed.tag_ids = [str(t) for t in fields["tagIds"]]
            changed.scheduling_type = fields.get("schedulingType") or post.scheduling_type
            merged = {**fields, "dueAt": fields.get("dueAt") or iso(post.due_at)}
            self._place(changed, merged, post.status == "draft" if draft is None else draft, now)
            changed.updated_at = now
            post.__dict__.update(changed.__dict__)  # only once every rule passed
            return post.as_dict()

    def delete(self, account: str, post_id: Any) -> str:
        """Delete a post of `account` (any status); its id. PostError NotFoundError otherwise."""
        with self.lock:
            post = self._owned(account, post_id, "NotFoundError")
            del self._posts[post.id]
            return post.id

    def get(self, account: str, post_id: Any) -> dict[str, Any]:
        """One post of `account`; KeyError for an unknown id, PermissionError for another's."""
        with self.lock:
            self._now()
            post = self._posts.get(str(post_id))
            if post is None:
                raise KeyError("Post not found")
            if self._sandbox.owner_of(post.channel_id) != account:
                raise PermissionError("You do not have access to this post")
            return post.as_dict()

    def search(
        self,
        channel_ids: list[str],
        filters: dict[str, Any] | None = None,
        sort: list[dict[str, Any]] | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> dict[str, Any]:
        """One Relay page (PostsResults) of the posts of `channel_ids`: see `post_pages.page`.

        Raises ValueError for a bad date, cursor or `first`."""
        with self.lock:
            self._now()
            wanted = set(channel_ids)
            posts = [p for p in self._posts.values() if p.channel_id in wanted]
            return page(posts, filters, sort, first, after)

    # --- as Buffer's own app

    def add_from_app(
        self, profile_id: str, text: str, due_at: datetime | str | None = None
    ) -> dict[str, Any]:
        """A post made in Buffer's app ("Add to queue", via `buffer`): at the channel's next
        free slot, or at `due_at` (future) when given. KeyError for an unknown profile,
        ValueError for a `due_at` that is no ISO 8601 date; PostError as `create`
        (InvalidInputError: a past due_at or no posting times; LimitReachedError)."""
        with self.lock:
            owner = self._sandbox.owner_of(profile_id)
            if owner is None:
                raise KeyError(f"no profile {profile_id}")
            fields: dict[str, Any] = {"channelId": profile_id, "text": text, "mode": "addToQueue"}
            if due_at is not None:
                moment = due_at if isinstance(due_at, datetime) else parse_datetime(due_at)
                fields.update(mode="customScheduled", dueAt=iso(moment))
            made = self.create(owner, fields, via="buffer")
            if due_at is not None:  # Buffer's app shows it as added to the queue at that time
                self._posts[made["id"]].share_mode = "addToQueue"
                made["shareMode"] = "addToQueue"
            return made

    def of_channel(self, profile_id: str) -> list[dict[str, Any]]:
        """Every post of a channel, by dueAt (undated last), then creation; KeyError for an
        unknown profile."""
        with self.lock:
            if self._sandbox.owner_of(profile_id) is None:
                raise KeyError(f"no profile {profile_id}")
            self._now()
            posts = [p for p in self._posts.values() if p.channel_id == profile_id]
            return [p.as_dict() for p in sorted(posts, key=lambda p: sort_key(p, DEFAULT_SORT))]

    # --- rules

    def _now(self) -> datetime:
        """Now, after sending every scheduled post that came due (time moves as in Buffer)."""
        now = ms(self.clock())
        for post in self._posts.values():
            if post.status == "scheduled" and post.due_at is not None and post.due_at <= now:
                post.status, post.sent_at, post.updated_at = "sent", post.due_at, post.due_at
        return now

    def _new_id(self, now: datetime) -> str:
        """A fresh id shaped like Buffer's: 8 hex digits of creation time, 16 random."""
        while True:
            made = f"{int(now.timestamp()):08x}" + "".join(
                self._rng.choice(_HEX) for _ in range(16)
            )
            if made not in self._posts:
                return made

    def _owned(self, account: str, post_id: Any, foreign: str) -> PostRecord:
        """The post `post_id` of `account`; PostError NotFoundError, or `foreign` for another's."""
        post = self._posts.get(str(post_id)) if post_id else None
        if post is None:
            raise PostError("NotFoundError", "Post not found")
        if self._sandbox.owner_of(post.channel_id) != account:
            raise PostError(foreign, "You do not have access to this post")
        return post

    def _place(self, post: PostRecord, fields: dict[str, Any], draft: bool, now: datetime) -> None:
        """Set `post`'s status, dueAt and share mode per `fields["mode"]` (module rules).

        Changes only `post` (and, for shareNext, the queue's dueAts once nothing can fail)."""
        mode = fields.get("mode") or "addToQueue"
        due = _due(fields.get("dueAt"), mode, now)
        post.share_mode, post.custom, post.sent_at = mode, mode == "customScheduled", None
        if draft:
            post.status, post.due_at = "draft", due
            return
        if mode == "shareNow":
            post.status, post.due_at, post.sent_at, post.custom = "sent", now, now, False
            return
        self._check_limit(post)
        post.status = "scheduled"
        if mode == "customScheduled":
            post.due_at = due
        elif mode == "shareNext":
            self._put_first(post, now)
        elif not (self._queued(post) and post.due_at is not None and post.due_at > now):
            post.due_at = self._free_slot(post, now)

    def _queued(self, post: PostRecord) -> bool:
        """Whether the stored post is a scheduled post taking a queue slot (kept on edit)."""
        stored = self._posts.get(post.id)
        return stored is not None and stored.status == "scheduled" and not stored.custom

    def _check_limit(self, post: PostRecord) -> None:
        stored = self._posts.get(post.id)
        if stored is not None and stored.status == "scheduled":
            return  # already counted
        limit = self._sandbox.config.queue_limit
        count = sum(
            1
            for p in self._posts.values()
            if p.channel_id == post.channel_id and p.status == "scheduled"
        )
        if count >= limit:
            raise PostError(
                "LimitReachedError",
                f"This channel's queue is full: {limit} scheduled posts is the limit",
            )

    def _slots(self, channel_id: str, now: datetime) -> Iterator[datetime]:
        profile = self._sandbox.profile(channel_id)
        slots = queue_slots(
            profile.get("schedules", []),
            profile.get("timezone"),
            self._sandbox.paused(channel_id),
            now,
        )
        return slots

    def _others(self, post: PostRecord) -> list[PostRecord]:
        """The channel's other scheduled posts."""
        return [
            p
            for p in self._posts.values()
            if p.channel_id == post.channel_id and p.status == "scheduled" and p.id != post.id
        ]

    def _free_slot(self, post: PostRecord, now: datetime) -> datetime:
        """The channel's first slot after now no other scheduled post holds."""
        taken = {p.due_at for p in self._others(post)}
        for slot in self._slots(post.channel_id, now):
            if slot not in taken:
                return slot
        raise PostError(
            "InvalidInputError",
            "This channel has no posting times to add to its queue: use customScheduled",
        )

    def _put_first(self, post: PostRecord, now: datetime) -> None:
        """`post` first, then the queued posts in order, into the slots custom posts leave."""
        others = self._others(post)
        fixed = {p.due_at for p in others if p.custom}
        queue = sorted((p for p in others if not p.custom), key=lambda p: (p.due_at or now, p.seq))
        free = (s for s in self._slots(post.channel_id, now) if s not in fixed)
        slots = [slot for slot, _ in zip(free, range(len(queue) + 1), strict=False)]
        if not slots:
            self._free_slot(post, now)  # raises: no posting times
        post.due_at = slots[0]
        for queued, slot in zip(queue, slots[1:], strict=True):
            if queued.due_at != slot:
                queued.due_at, queued.updated_at = slot, now


def _due(value: Any, mode: str, now: datetime) -> datetime | None:
    """The dueAt a mode uses: customScheduled needs one in the future; others ignore it."""
    if mode != "customScheduled":
        return None
    if value is None:
        raise PostError("InvalidInputError", "dueAt is required when mode is customScheduled")
    try:
        due = parse_datetime(value)
    except ValueError:
        raise PostError("InvalidInputError", "dueAt must be an ISO 8601 date") from None
    if due <= now:
        raise PostError("InvalidInputError", "dueAt must be in the future")
    return due
