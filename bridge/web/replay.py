"""Memory of signed or authenticated requests already seen, so a captured request cannot
be played again: Slack's signature holds for 5 minutes either side of its timestamp, and
Mattermost signs nothing at all.

A request is remembered by a hash of what makes it unique (Slack: its signature, which
covers the timestamp and the body; Mattermost: its token and body, which carries a fresh
`trigger_id` per command) with Redis SET NX and a TTL as long as a replay could pass.

With Redis down nothing can be remembered, and requests are let through (logged): the
bridge keeps taking changes while Redis is down, as the rest of intake does, and a
replay then repeats a change already asked for, which the desired-state design folds
to the same result.
"""

from __future__ import annotations

import hashlib
import logging

import redis

from bridge.errors import Conflict
from bridge.services import Services

log = logging.getLogger(__name__)


def check_first(services: Services, kind: str, material: bytes, ttl: int) -> None:
    """Remember `material` for `ttl` seconds; Conflict (409) when it was seen already."""
    key = f"bridge:seen:{kind}:{hashlib.sha256(material).hexdigest()}"
    try:
        first = services.redis.set(key, "1", nx=True, ex=ttl)
    except redis.RedisError as error:
        log.warning("%s request not checked for replay: Redis is unavailable (%s)", kind, error)
        return
    if not first:
        raise Conflict(f"this {kind} request was already received; a replay is refused")
