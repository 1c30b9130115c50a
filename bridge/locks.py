"""The per-profile lock: one sync of a profile at a time, on every machine.

A thin face over redis-py's `Lock` (a random token per holder, expiry, and Lua scripts
that release and extend only while the token still matches), keeping the small
interface bridge.sync needs: a non-blocking `acquire` and a `release` that never raises.
"""

from __future__ import annotations

import redis
from redis.exceptions import LockError


class ProfileLock:
    """The lock of one profile, held for `ttl` seconds at most, so a killed worker cannot
    hold it for ever.

    The token is kept on this object, not per thread: a helper thread may `extend` the
    lock while the thread that took it waits on Buffer."""

    def __init__(self, client: redis.Redis, profile_id: str, ttl: float) -> None:
        self.key = f"bridge:lock:profile:{profile_id}"
        self._lock = client.lock(self.key, timeout=ttl, blocking=False, thread_local=False)

    def acquire(self) -> bool:
        """Take the lock now if nobody holds it: True when taken; never waits."""
        return bool(self._lock.acquire(blocking=False))

    def owned(self) -> bool:
        """True while the lock is ours (taken, not expired, not released)."""
        return bool(self._lock.owned())

    def extend(self, seconds: float) -> bool:
        """Keep the lock `seconds` from now (not added to what is left): True when done,
        False when it is no longer ours (it expired, maybe to another holder), in which
        case the caller must stop acting for the profile."""
        try:
            return bool(self._lock.extend(seconds, replace_ttl=True))
        except LockError:  # LockNotOwnedError included
            return False

    def release(self) -> bool:
        """Let go: True when we still held it; False, without raising, when we never took
        it or it expired meanwhile (another holder's lock is left alone)."""
        try:
            self._lock.release()
        except LockError:  # LockNotOwnedError included
            return False
        return True
