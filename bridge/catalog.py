"""Which profiles a caller can name and see: references resolved against the profile
cache, which is filled from Buffer when it is empty or does not know a name yet.

Every adapter finds profiles through here, so "unknown here, maybe new in Buffer: look
once" is decided in one place, and throttled: an unknown reference, or a caller's
`?refresh=1`, refreshes an account at most once per REFRESH_EVERY seconds, so neither
made-up names nor a loop of refreshes can spend Buffer's rate limit. A refresh also
takes its Buffer slot as a read (it leaves BUFFER_WRITE_RESERVE to syncs).

With Redis down a refresh cannot take its slot: lookups answer from the cache (a miss
is 404) and a listing says it is stale, rather than failing.
"""

from __future__ import annotations

import logging

import redis

from bridge import auth, models, profiles, snapshots
from bridge.errors import BridgeError
from bridge.services import Services

log = logging.getLogger(__name__)
REFRESH_EVERY = 30  # seconds, per account, for refresh-on-miss and `?refresh=1` alike
REFRESH_ON_MISS_EVERY = REFRESH_EVERY  # the name earlier code and tests know


def resolve(services: Services, ref: str, field: str = "profile") -> models.Profile:
    """The cached profile `ref` names, refreshing the cache once if it is unknown.

    Raises InvalidInput (a malformed reference, naming `field`) or ProfileNotFound."""
    profiles.check_ref(ref, field)
    with services.db.session() as session:
        try:
            return profiles.resolve(session, ref)
        except BridgeError:
            pass
    for account in services.settings.account_names():
        if _may_refresh(services, account):
            _refresh(services, account)
    with services.db.session() as session:
        return profiles.resolve(session, ref)


def _may_refresh(services: Services, account: str) -> bool | None:
    """True at most once per REFRESH_EVERY seconds per account, else False; None when
    Redis is down (the refresh could not take its rate-limit slot either)."""
    try:
        key = f"bridge:refresh-on-miss:{account}"
        return bool(services.redis.set(key, "1", nx=True, ex=REFRESH_EVERY))
    except redis.RedisError as error:
        log.warning("no profile refresh of %s: Redis is unavailable (%s)", account, error)
        return None


def _refresh(services: Services, account: str) -> bool:
    """Refresh `account`'s profile cache from Buffer; True when Buffer answered."""
    try:
        outcome = snapshots.take_account(services, account)
    except redis.RedisError as error:
        log.warning("no profile refresh of %s: Redis is unavailable (%s)", account, error)
        return False
    return outcome.retry_in is None and outcome.error is None


def readable(services: Services, client: models.ApiClient, ref: str) -> models.Profile:
    """The profile `ref` names, if `client` may read it (Forbidden otherwise)."""
    profile = resolve(services, ref)
    auth.check_read(client, profile)
    return profile


def writable(services: Services, client: models.ApiClient, ref: str) -> models.Profile:
    """The profile `ref` names, if `client` may change it (Forbidden for a read-only client
    before any lookup, and for a profile outside its scopes)."""
    auth.check_write(client)
    profile = resolve(services, ref)
    auth.check_write(client, profile)
    return profile


def visible(
    services: Services, client: models.ApiClient, refresh: bool = False
) -> tuple[list[models.Profile], bool]:
    """(the cached profiles `client` may see, stale) where stale says a refresh was asked
    for and could not be made (Buffer or Redis could not answer). A refresh of an account
    refreshed in the last REFRESH_EVERY seconds answers from the cache, which is that
    fresh. An empty cache (a new install) is filled first."""
    stale = False
    if refresh:
        for account in services.settings.account_names():
            allowed = _may_refresh(services, account)  # False: refreshed moments ago
            if allowed is None or (allowed and not _refresh(services, account)):
                stale = True
    with services.db.session() as session:
        found = profiles.list_cached(session)
    if not found and not refresh:
        return visible(services, client, refresh=True)
    return [p for p in found if auth.can_see(client, p)], stale
