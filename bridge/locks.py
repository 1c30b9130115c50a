"""The per-profile lock: one sync of a profile at a time, on every machine.

A thin face over redis-py's `Lock` (a random token per holder, expiry, and Lua scripts
that release and extend only while the token still matches), keeping the small
interface bridge.sync needs: a non-blocking `acquire` and a `release` that never raises.

A sync that dies with its worker (SIGKILL, a lost machine) leaves its lock to expire:
the lock lives only LOCK_TTL seconds unless the holder's `Renewer` extends it, so it
outlives its holder by at most LOCK_TTL. The holder also marks its profile in one Redis
set (`mark_syncing`); the watchdog (`orphans`, on beat every few seconds) finds marked
profiles whose lock has gone, and the reconciler wakes them again at once instead of
after RECONCILE_AFTER.
"""

from __future__ import annotations

import contextlib
import threading

import redis
from redis.exceptions import LockError

# Seconds a profile lock lives without renewal. The renewer extends it every third of
# that, in its own thread, so a Buffer call of any length keeps it; a dead holder's lock
# is free again this long after the death, which bounds how long its profile waits.
LOCK_TTL = 6.0
SYNCING_KEY = "bridge:syncing"  # the profiles whose sync holds (or held) their lock

# Remove and return the marked profiles whose lock no longer exists, in one step: a sync
# that takes the lock between the check and the removal cannot lose its mark, because it
# marks after taking the lock and this script runs whole.
_ORPHANS = """
local found = {}
for _, profile in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. profile) == 0 then
    redis.call('SREM', KEYS[1], profile)
    table.insert(found, profile)
  end
end
return found
"""


def lock_key(profile_id: str) -> str:
    """The Redis key of `profile_id`'s lock (it exists while someone holds the lock)."""
    return f"bridge:lock:profile:{profile_id}"


def mark_syncing(client: redis.Redis, profile_id: str) -> None:
    """Say that `profile_id`'s lock holder is syncing it (called right after acquiring)."""
    client.sadd(SYNCING_KEY, profile_id)


def unmark_syncing(client: redis.Redis, profile_id: str) -> None:
    """Take the mark away; called before releasing, so a later holder's mark stays.
    Never raises: if Redis is gone, the watchdog finds the lock gone and wakes the
    profile once more, which is harmless."""
    with contextlib.suppress(redis.RedisError):
        client.srem(SYNCING_KEY, profile_id)


def orphans(client: redis.Redis) -> list[str]:
    """The profiles whose sync died holding the lock (marked, lock expired); unmarked."""
    found = client.eval(_ORPHANS, 1, SYNCING_KEY, lock_key(""))
    return [p.decode() if isinstance(p, bytes) else str(p) for p in found]


class ProfileLock:
    """The lock of one profile, held for `ttl` seconds at most, so a killed worker cannot
    hold it for ever.

    The token is kept on this object, not per thread: a helper thread may `extend` the
    lock while the thread that took it waits on Buffer."""

    def __init__(self, client: redis.Redis, profile_id: str, ttl: float) -> None:
        self.key = lock_key(profile_id)
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


class Renewer:
    """Keeps a held ProfileLock alive while a sync works: a daemon thread extends it to
    `ttl` every `ttl / 3` seconds, so a long (but deadline-bound) Buffer call cannot
    outlive it. If an extension fails the lock is lost for good (another holder may
    have it): `held()` then answers False and the sync must stop acting for the profile.

    Use as a context manager around the locked work; leaving it stops the thread."""

    def __init__(self, lock: ProfileLock, ttl: float) -> None:
        self.lock = lock
        self.ttl = ttl
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"renew {lock.key}", daemon=True)

    def __enter__(self) -> Renewer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                extended = self.lock.extend(self.ttl)
            except redis.RedisError:  # Redis unreachable: we cannot tell, so act as lost
                extended = False
            if not extended:
                self._lost.set()
                return

    def held(self) -> bool:
        """True while the lock is still ours: never lost by the renewer, and owned in Redis
        now (asked of Redis, so call it right before acting: a write, recording success)."""
        if self._lost.is_set():
            return False
        try:
            return self.lock.owned()
        except redis.RedisError:
            return False
