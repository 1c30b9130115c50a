"""One Buffer account through the API(s) it has: what it can do, and the calls the rest of
the bridge makes. Buffer retires v1 on BUFFER_V1_SUNSET; its GraphQL API reads schedules
but (as of its published reference) cannot write them:

    the account has      reads: profiles, schedules, snapshots     writes
    a v1 token           v1                                        v1, until the sunset
    a GraphQL key        GraphQL                                   the kept week (posts)
    both                 GraphQL (its own budget spares v1's)      v1 until the sunset,
                                                                   then the kept week

Where v1 cannot write, the bridge keeps each profile's week itself and places the posts
sent through it on the week's slots (`bridge.posting`); the account then needs GraphQL
for posts only, and refuses changes only with neither (a v1 token past the sunset).

`AccountBackend` is the one interface (a Protocol); `V1Backend` and `GraphQLBackend` are
its two implementations and `HybridBackend` joins them. The day Buffer publishes a
schedule mutation, `GraphQLBackend.write_schedules` is the one method to write.

Every call first takes its slots from the API's rate limiter (shared through Redis by
every process) and raises `BudgetExhausted` with the wait instead of calling Buffer.

Past 400 lines on purpose: the three backends implement one Protocol side by side, so
their differences (what each API can do) are read together.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, TypeVar

import redis

from bridge import schedules
from bridge.buffer import posts
from bridge.buffer.client import BufferClient
from bridge.buffer.graphql import GraphQLClient, GraphQLRateLimited
from bridge.buffer.models import Organization, Profile
from bridge.buffer.posts import BufferPost
from bridge.errors import BridgeError, WritesUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
ORGANIZATIONS_TTL = 3600  # seconds: organizations change rarely; refreshed at most hourly


class BudgetExhausted(BridgeError):
    """Our own limiter says Buffer's budget for this key is spent for now: wait `seconds`."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"Buffer's rate limit for this account is reached; wait {seconds:.1f}s")
        self.seconds = seconds


class Slots(Protocol):
    """A rate limiter: take `n` slots of a key's budget (`acquire_read`: one, leaving the
    writes' reserve free); 0.0 when taken, else the wait."""

    def acquire(self, key: str, n: int = 1) -> float: ...

    def acquire_read(self, key: str) -> float: ...


@dataclass(frozen=True)
class Capabilities:
    """What an account can do today, and which API does it."""

    account: str
    api: str  # "v1", "graphql" or "both": what is configured
    read_api: str  # the API reads go through
    can_write: bool  # schedules can be changed: through v1, or kept by the bridge
    write_refusal: str | None  # why it cannot write, in words a person understands
    v1_sunset: dt.date | None
    v1_days_left: int | None
    v1_writes: bool = False  # Buffer's own schedule can be written (v1, before the sunset)
    can_post: bool = False  # posts can be placed (a GraphQL key): the kept week works

    @property
    def keeps_week(self) -> bool:
        """True when the bridge must keep every profile's week (no v1 writes, posts work)."""
        return self.can_post and not self.v1_writes

    def notice(self) -> str | None:
        """What a change answer says about who keeps the week: bridge mode, or the warning
        while writes depend on v1; None otherwise."""
        if self.keeps_week:
            return (
                f"account {self.account!r} is in bridge mode: the bridge keeps its profiles' "
                "weeks (Buffer's own schedule is left as it is) and places the posts sent "
                "through it on the week's slots; posts added in Buffer's app follow Buffer's "
                "frozen schedule unless the profile adopts its queue (adopt_queue)"
            )
        if not self.v1_writes or self.v1_sunset is None:
            return None
        if self.can_post:
            return (
                f"Buffer retires the v1 API on {self.v1_sunset.isoformat()} "
                f"({self.v1_days_left} days from now): from then on the bridge keeps the "
                f"posting week of account {self.account!r} itself and places the posts "
                "sent through it on the week's slots (schedule_mode bridge); Buffer's own "
                "schedule stays as it was"
            )
        return (
            f"Buffer retires the v1 API on {self.v1_sunset.isoformat()} "
            f"({self.v1_days_left} days from now): after that the bridge cannot change the "
            f"posting schedules of account {self.account!r}; set BUFFER_API_KEY so it keeps "
            "the week itself and places posts on it through Buffer's GraphQL API"
        )


def write_refusal(account: str, api: str, sunset: dt.date | None) -> str:
    """Why `account` cannot change posting schedules (v1 past its sunset and no GraphQL
    key to keep the week with), and what to do."""
    day = sunset.isoformat() if sunset else "its retirement"
    return (
        f"account {account!r} cannot change posting schedules: Buffer retired the v1 API on "
        f"{day}, and without a GraphQL API key (BUFFER_API_KEY) the bridge cannot keep the "
        "week itself and place posts on it. Set BUFFER_API_KEY for this account."
    )


class AccountBackend(Protocol):
    """Buffer, for one account."""

    account: str

    def capabilities(self, today: dt.date) -> Capabilities: ...

    def profiles(self) -> list[Profile]:
        """Every profile of the account with its schedules (a snapshot's read)."""
        ...

    def profile(self, profile_id: str) -> Profile:
        """One profile with its schedules, now."""
        ...

    def read_for_write(self, profile_id: str) -> schedules.Week:
        """The schedules a write would replace, read through the API that writes."""
        ...

    def write_schedules(self, profile_id: str, week: schedules.Week) -> None:
        """Make `week` the profile's schedules. Raises WritesUnavailable where it cannot."""
        ...


class V1Backend:
    """An account with a v1 access token: reads and writes through v1 until the sunset."""

    api = "v1"

    def __init__(
        self,
        account: str,
        client: Callable[[], BufferClient],
        token: Callable[[], str],
        slots: Slots,
        sunset: dt.date | None,
    ) -> None:
        self.account = account
        self._client = client
        self._token = token
        self._slots = slots
        self.sunset = sunset

    def capabilities(self, today: dt.date) -> Capabilities:
        past = self.sunset is not None and today >= self.sunset
        return Capabilities(
            account=self.account,
            api=self.api,
            read_api="v1",
            can_write=not past,
            write_refusal=write_refusal(self.account, "v1", self.sunset) if past else None,
            v1_sunset=self.sunset,
            v1_days_left=max(0, (self.sunset - today).days) if self.sunset else None,
            v1_writes=not past,
        )

    def take_read(self) -> None:
        """Take one v1 slot for a read, leaving BUFFER_WRITE_RESERVE to syncs, or raise
        BudgetExhausted."""
        wait = self._slots.acquire_read(self._token())
        if wait > 0:
            raise BudgetExhausted(wait)

    def profiles(self) -> list[Profile]:
        self.take_read()
        return self._client().profiles()

    def profile(self, profile_id: str) -> Profile:
        self.take_read()
        return self._client().profile(profile_id)

    def read_for_write(self, profile_id: str) -> schedules.Week:
        """Buffer's schedules through v1 (no slot taken: a sync reserves its two up front)."""
        entries = self._client().schedules(profile_id)
        return schedules.from_buffer(entry.to_json() for entry in entries)

    def write_schedules(self, profile_id: str, week: schedules.Week) -> None:
        """Write through v1 (no slot taken: a sync reserves its two up front). Pauses cannot
        be written through v1; Buffer keeps the pauses it has."""
        self._client().update_schedules(profile_id, schedules.to_buffer(week.unpaused()))


class GraphQLBackend:
    """An account with a GraphQL API key: every read; no writes (no schedule mutation)."""

    api = "graphql"

    def __init__(
        self,
        account: str,
        client: Callable[[], GraphQLClient],
        key: Callable[[], str],
        slots: Slots,
        cache: redis.Redis,
        sunset: dt.date | None,
    ) -> None:
        self.account = account
        self._client = client
        self._key = key
        self._slots = slots
        self._cache = cache
        self.sunset = sunset

    def capabilities(self, today: dt.date) -> Capabilities:
        return Capabilities(
            account=self.account,
            api=self.api,
            read_api="graphql",
            can_write=True,  # the bridge keeps the week: there is no v1 to write with
            write_refusal=None,
            v1_sunset=self.sunset,
            v1_days_left=max(0, (self.sunset - today).days) if self.sunset else None,
            can_post=True,
        )

    def take(self, n: int) -> None:
        """Take `n` GraphQL slots (every window) for this key, or raise BudgetExhausted.

        A 429's `retryAfter` holds every process off for exactly that long (remembered in
        Redis); the client's last RateLimit headers may only make this process wait longer.
        """
        self._take(lambda: self._slots.acquire(self._key(), n))

    def take_read(self) -> None:
        """Take one GraphQL slot for a read someone asked to see (a listing of posts), only
        while the limiter's reserve stays free for the posts the bridge places and moves;
        or raise BudgetExhausted."""
        self._take(lambda: self._slots.acquire_read(self._key()))

    def _take(self, acquire: Callable[[], float]) -> None:
        held = _hold_left(self._cache, self._hold_key)
        if held > 0:
            raise BudgetExhausted(held)
        wait = acquire()
        hint = self._client().last_rate_limit
        if wait <= 0 and hint is not None and hint.wait() > 0:
            wait = hint.wait()
        if wait > 0:
            raise BudgetExhausted(wait)

    @property
    def _hold_key(self) -> str:
        return f"bridge:graphql:retry-after:{self.account}"

    def _obeying(self, call: Callable[[], T]) -> T:
        """`call()`; a 429 with `retryAfter` is remembered for every process, then re-raised."""
        try:
            return call()
        except GraphQLRateLimited as error:
            if error.retry_after:
                _hold(self._cache, self._hold_key, error.retry_after)
            raise

    def cached_organizations(self) -> list[Organization] | None:
        """The organizations last read from Buffer (None when not read within the hour)."""
        cached = _cache_get(self._cache, self._organizations_key)
        if cached is None:
            return None
        return [Organization(id=o["id"], name=o["name"]) for o in cached]

    @property
    def _organizations_key(self) -> str:
        return f"bridge:graphql:organizations:{self.account}"

    def organizations(self) -> list[Organization]:
        """The key's organizations, from a cache refreshed at most every ORGANIZATIONS_TTL."""
        cached = self.cached_organizations()
        if cached is not None:
            return cached
        key = self._organizations_key
        self.take(1)
        found = self._obeying(lambda: self._client().organizations())
        _cache_set(self._cache, key, [{"id": o.id, "name": o.name} for o in found])
        return found

    def profiles(self) -> list[Profile]:
        """One Channels query per organization (and Organizations at most hourly)."""
        organizations = self.organizations()
        if organizations:
            self.take(len(organizations))
        found: list[Profile] = []
        for organization in organizations:
            found.extend(self._obeying(partial(self._client().channels, organization.id)))
        return found

    def profile(self, profile_id: str) -> Profile:
        self.take(1)
        return self._obeying(lambda: self._client().channel(profile_id))

    def read_for_write(self, profile_id: str) -> schedules.Week:
        raise WritesUnavailable(write_refusal(self.account, "graphql", self.sunset))

    # -- posts: what is left to write with after v1 (bridge.buffer.posts)

    def place_post(
        self, channel_id: str, text: str, mode: str, due_at: dt.datetime | None = None
    ) -> BufferPost:
        """createPost (one slot of the GraphQL budget, or BudgetExhausted)."""
        self.take(1)
        return self._obeying(lambda: posts.place(self._client(), channel_id, text, mode, due_at))

    def move_post(self, post_id: str, due_at: dt.datetime) -> BufferPost:
        """editPost to `due_at` (one slot of the GraphQL budget, or BudgetExhausted)."""
        self.take(1)
        return self._obeying(lambda: posts.move(self._client(), post_id, due_at))

    def scheduled_posts(
        self,
        organization_id: str,
        channel_id: str,
        start: dt.datetime,
        for_reading: bool = False,
    ) -> list[BufferPost]:
        """A channel's scheduled posts due from `start`, by dueAt: one slot per page of 100
        (BudgetExhausted before a page the budget has no room for)."""
        return self.organization_posts(organization_id, [channel_id], start, for_reading)

    def organization_posts(
        self,
        organization_id: str,
        channel_ids: list[str],
        start: dt.datetime,
        for_reading: bool = False,
    ) -> list[BufferPost]:
        """The scheduled posts of some channels of one organization due from `start`, by
        dueAt: one slot per page of 100 (BudgetExhausted before a page without room);
        `for_reading` (a listing someone asked for) leaves the reserve to placements."""
        found: list[BufferPost] = []
        cursor: str | None = None
        for _ in range(posts.MAX_PAGES):
            if for_reading:
                self.take_read()
            else:
                self.take(1)
            page, cursor = self._obeying(
                partial(
                    posts.scheduled_page,
                    self._client(),
                    organization_id,
                    channel_ids,
                    start,
                    cursor,
                )
            )
            found.extend(page)
            if cursor is None:
                break
        return found

    def write_schedules(self, profile_id: str, week: schedules.Week) -> None:
        raise WritesUnavailable(write_refusal(self.account, "graphql", self.sunset))


class HybridBackend:
    """Both: reads through GraphQL (its own budget), writes through v1 until the sunset."""

    api = "both"

    def __init__(self, v1: V1Backend, graphql: GraphQLBackend) -> None:
        self.account = v1.account
        self.v1 = v1
        self.graphql = graphql

    def capabilities(self, today: dt.date) -> Capabilities:
        writes = self.v1.capabilities(today)
        return Capabilities(
            account=self.account,
            api=self.api,
            read_api="graphql",
            can_write=True,  # through v1 until the sunset, then by keeping the week
            write_refusal=None,
            v1_sunset=writes.v1_sunset,
            v1_days_left=writes.v1_days_left,
            v1_writes=writes.v1_writes,
            can_post=True,
        )

    def profiles(self) -> list[Profile]:
        return self.graphql.profiles()

    def profile(self, profile_id: str) -> Profile:
        return self.graphql.profile(profile_id)

    def read_for_write(self, profile_id: str) -> schedules.Week:
        return self.v1.read_for_write(profile_id)

    def write_schedules(self, profile_id: str, week: schedules.Week) -> None:
        self.v1.write_schedules(profile_id, week)


def _hold(client: redis.Redis, key: str, seconds: float) -> None:
    """Hold every process off this key's API for `seconds` (a 429's retryAfter)."""
    try:
        client.set(key, "1", px=max(1, int(seconds * 1000)))
    except redis.RedisError as error:
        log.warning("cannot share Buffer's retryAfter: %s", error)


def _hold_left(client: redis.Redis, key: str) -> float:
    """Seconds left of a hold (0.0 when none, or Redis cannot say)."""
    try:
        left = client.pttl(key)
    except redis.RedisError:
        return 0.0
    return max(int(left), 0) / 1000 if isinstance(left, int) else 0.0


def _cache_get(client: redis.Redis, key: str) -> Any:
    """A cached JSON value, or None when absent or Redis cannot answer."""
    try:
        raw = client.get(key)
    except redis.RedisError:
        return None
    return json.loads(raw) if raw else None


def _cache_set(client: redis.Redis, key: str, value: Any) -> None:
    """Cache a JSON value for ORGANIZATIONS_TTL; a Redis outage only costs a later call."""
    try:
        client.set(key, json.dumps(value), ex=ORGANIZATIONS_TTL)
    except redis.RedisError as error:
        log.warning("cannot cache Buffer organizations: %s", error)


def poster(backend: AccountBackend) -> GraphQLBackend | None:
    """The account's GraphQL side, which places and moves posts; None without a key."""
    if isinstance(backend, HybridBackend):
        return backend.graphql
    return backend if isinstance(backend, GraphQLBackend) else None
