"""A sliding-window rate limiter in Redis, shared by every worker process and machine.

Buffer allows 60 requests a minute per access token and sends no rate-limit
headers, so we pace ourselves. The window is a sorted set of request times per
token; the token itself never reaches Redis, only a short hash of it. Time comes
from the Redis server so that clocks on different machines do not matter.

Written by hand: a sync reserves its read and its write together (n slots, taken
atomically in Redis for every machine, in every window at once: Buffer's GraphQL API
counts per 15 minutes and per day) and is told how long to wait rather than sleeping
inside the limiter; that is the Lua below.

A slot's score is the latest moment Buffer may have counted its call. A reservation
is scored RESERVE_MARGIN ahead of now (Buffer counts a call when it arrives, a little
after the reservation); a caller that knows when its call ended re-scores the slot with
that moment (`Reservation.stamp`: Buffer counted the call before it answered, so the
slot can never leave our window before it leaves Buffer's), and hands back a slot it did
not use (`Reservation.release`: a sync whose fold changed nothing writes nothing).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import redis

from bridge.config import RateLimit

# KEYS: one sorted set per window; ARGV = n (slots wanted), member prefix (unique per
# reservation), reserve (slots that must stay free in every window after these n are
# taken), margin (s), then each window's limit and period (s). All windows are checked
# before any slot is taken, so a refusal costs nothing. The slots are members
# <prefix>:1..n scored now + margin. Returns 0 when n slots were taken in every window,
# else the seconds (as a string) until the slowest window has room for them.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local n = tonumber(ARGV[1])
local needed = n + tonumber(ARGV[3])
local margin = tonumber(ARGV[4])
local wait = 0
for i = 1, #KEYS do
  local limit = tonumber(ARGV[3 + 2 * i])
  local period = tonumber(ARGV[4 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - period)
  local used = redis.call('ZCARD', KEYS[i])
  if used + needed > limit then
    -- the (used + needed - limit)-th oldest entry must leave this window first
    local idx = used + needed - limit - 1
    local oldest = redis.call('ZRANGE', KEYS[i], idx, idx, 'WITHSCORES')
    local w = tonumber(oldest[2]) + period - now
    if w < 0.001 then w = 0.001 end
    if w > wait then wait = w end
  end
end
if wait > 0 then
  return tostring(wait)
end
for i = 1, #KEYS do
  local period = tonumber(ARGV[4 + 2 * i])
  for j = 1, n do
    redis.call('ZADD', KEYS[i], now + margin, ARGV[2] .. ':' .. j)
  end
  redis.call('PEXPIRE', KEYS[i], math.ceil((period + margin) * 1000) + 1000)
end
return '0'
"""

# KEYS: the windows; ARGV = member, then each window's period (s). The call of `member`
# has ended: its slot is scored now in every window (added again if it had already left
# one: the call happened). Always moves a score forward in time or, for a call that ended
# within the margin, back to when Buffer had surely counted it.
_STAMP = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], now, ARGV[1])
  local ttl = math.ceil(tonumber(ARGV[1 + i]) * 1000) + 1000
  if redis.call('PTTL', KEYS[i]) < ttl then
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
end
return 0
"""


# Buffer counts a call when it arrives; we reserve its slot a little earlier (a sync's
# write follows its read by tens of milliseconds). A reserved slot is scored this much
# ahead of now, so our window cannot end before Buffer's even for a slot never stamped
# with its call's end: without it, a limiter running at the limit drew 429s
# (docs/BENCHMARKS.md, benchmark c).
RESERVE_MARGIN = 0.25
KEY_PREFIX = "bridge:ratelimit"
log = logging.getLogger(__name__)


def token_key(access_token: str, prefix: str = KEY_PREFIX) -> str:
    """The Redis key of a token's window: a hash, so the token never leaves the process."""
    digest = hashlib.sha256(access_token.encode()).hexdigest()[:16]
    return f"{prefix}:{digest}"


def _ignore_wait(_seconds: float) -> None:
    """The default `on_wait`: nobody is told."""


def window_keys(
    access_token: str, limits: Sequence[RateLimit], prefix: str = KEY_PREFIX
) -> list[str]:
    """The Redis keys of a token's windows: one window keeps `token_key`; several are told
    apart by their period (Buffer's GraphQL API counts 15 minutes and 24 hours)."""
    base = token_key(access_token, prefix)
    if len(limits) == 1:
        return [base]
    return [f"{base}:{limit.period:g}s" for limit in limits]


class RateLimiter:
    """Hands out Buffer request slots per token under one or several windows (all must
    have room); never sleeps, says how long to wait.

    `on_wait` hears every answer of `acquire` (0.0 included), e.g. to feed a metric;
    the wiring that builds the limiter (bridge.services) chooses it, so this module
    depends on nothing of ours but the config.

    `reserve` slots of every window are kept for writes: `acquire` (a sync) may take
    every slot, `acquire_read` (a read on behalf of a caller: a live schedules read, a
    profile refresh, a snapshot) only while more than `reserve` stay free after it, so
    reads can never starve writes (BUFFER_WRITE_RESERVE). `prefix` names the keys, so
    the same limiter serves other windows (per API client, bridge.web.limits)."""

    def __init__(
        self,
        client: redis.Redis,
        limit: RateLimit | Sequence[RateLimit],
        on_wait: Callable[[float], None] = _ignore_wait,
        reserve: int = 0,
        prefix: str = KEY_PREFIX,
    ) -> None:
        self.redis = client
        self.limits = (limit,) if isinstance(limit, RateLimit) else tuple(limit)
        if not self.limits:
            raise ValueError("a rate limiter needs at least one window")
        # the tightest count: no request for more slots than this can ever be granted
        self.limit = min(self.limits, key=lambda window: window.limit)
        if not 0 <= reserve < self.limit.limit:
            raise ValueError(f"a reserve of {reserve} leaves no slot of {self.limit} for reads")
        self.on_wait = on_wait
        self.reserve = reserve
        self.prefix = prefix
        self._script: Any = client.register_script(_ACQUIRE)
        self._stamp_script: Any = client.register_script(_STAMP)

    def acquire(self, access_token: str, n: int = 1) -> float:
        """Take `n` slots for `access_token` atomically: 0.0 when they were taken, else the
        seconds until all `n` may be (nothing is taken then). Raises ValueError when `n`
        exceeds the limit, since such a request could never be granted; redis.RedisError
        when Redis cannot be asked."""
        return self.take(access_token, n).wait

    def take(self, access_token: str, n: int = 1) -> Reservation:
        """As `acquire`, but the slots taken can then be stamped with the end of their
        calls and the unused ones released (a Reservation with `wait` 0.0); `wait` > 0
        means nothing was taken."""
        return self._acquire(access_token, n, 0)

    def acquire_read(self, access_token: str) -> float:
        """Take one slot for a read, as `acquire`, only while `reserve` slots stay free
        after it; else the seconds until one does (nothing is taken then)."""
        return self._acquire(access_token, 1, self.reserve).wait

    def _acquire(self, access_token: str, n: int, reserve: int) -> Reservation:
        if n > self.limit.limit:
            raise ValueError(f"cannot take {n} slots at once under a limit of {self.limit}")
        prefix = os.urandom(8).hex()  # unique across processes and machines
        keys = window_keys(access_token, self.limits, self.prefix)
        windows = [(w.limit, w.period) for w in self.limits]
        result = self._script(
            keys=keys,
            args=[
                n,
                prefix,
                reserve,
                RESERVE_MARGIN,
                *(value for window in windows for value in window),
            ],
        )
        wait = float(cast(bytes | str, result))
        self.on_wait(wait)
        if wait > 0:
            return Reservation(self, keys, wait)
        return Reservation(self, keys, 0.0, [f"{prefix}:{j}" for j in range(1, n + 1)])

    def _stamp(self, keys: list[str], member: str) -> None:
        periods = [w.period + RESERVE_MARGIN for w in self.limits]
        self._stamp_script(keys=keys, args=[member, *periods])

    def _release(self, keys: list[str], members: list[str]) -> None:
        pipe = self.redis.pipeline(transaction=True)
        for key in keys:
            pipe.zrem(key, *members)
        pipe.execute()


@dataclass
class Reservation:
    """Slots one `RateLimiter.take` took (`wait` 0.0), or the wait when it took none.

    A caller that makes the calls stamps each slot with the moment its call ended
    (`stamp`, in call order) and releases the slots it did not use (`release`); a slot
    left alone keeps its reservation score (now + RESERVE_MARGIN), which is safe as long
    as its call arrives within the margin. Redis errors here are logged, never raised: the
    call is made, and the slot's reservation score still holds it.
    """

    limiter: RateLimiter
    keys: list[str]
    wait: float
    members: list[str] = field(default_factory=list)
    used: int = 0

    def stamp(self) -> None:
        """The next unused slot's call has ended (answered, refused or timed out)."""
        if self.used >= len(self.members):
            return
        member = self.members[self.used]
        self.used += 1
        try:
            self.limiter._stamp(self.keys, member)
        except redis.RedisError as error:
            log.warning("rate limiter: could not stamp a call's end: %s", error)

    def release(self) -> None:
        """Hand back every slot not stamped: their calls were never made."""
        unused = self.members[self.used :]
        self.used = len(self.members)
        if not unused:
            return
        try:
            self.limiter._release(self.keys, unused)
        except redis.RedisError as error:
            log.warning("rate limiter: could not release unused slots: %s", error)
