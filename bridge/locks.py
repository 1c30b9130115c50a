"""A per-profile lock in Redis, with expiry and an owner check on release."""

from __future__ import annotations

import secrets
from typing import Any

import redis

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class ProfileLock:
    """Only one sync of a profile at a time; expires so a killed worker cannot hold it forever."""

    def __init__(self, client: redis.Redis, profile_id: str, ttl: float) -> None:
        self.redis = client
        self.key = f"bridge:lock:profile:{profile_id}"
        self.ttl_ms = int(ttl * 1000)
        self.owner = secrets.token_hex(8)
        self._release: Any = client.register_script(_RELEASE)

    def acquire(self) -> bool:
        """Take the lock if nobody holds it."""
        return bool(self.redis.set(self.key, self.owner, nx=True, px=self.ttl_ms))

    def release(self) -> bool:
        """Let go, but only if we still own it (it may have expired and been taken)."""
        return bool(self._release(keys=[self.key], args=[self.owner]))

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
