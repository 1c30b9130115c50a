"""Which profiles a caller can name and see: references resolved against the profile
cache, which is filled from Buffer when it is empty or does not know a name yet.

Every adapter finds profiles through here, so "unknown here, maybe new in Buffer: look
once" is decided in one place, and throttled: an unknown reference refreshes an account
at most once per REFRESH_ON_MISS_EVERY seconds, so made-up names cannot spend Buffer's
rate limit.
"""

from __future__ import annotations

from bridge import auth, models, profiles, snapshots
from bridge.errors import BridgeError
from bridge.services import Services

REFRESH_ON_MISS_EVERY = 30  # seconds, per account


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
            snapshots.take_account(services, account)
    with services.db.session() as session:
        return profiles.resolve(session, ref)


def _may_refresh(services: Services, account: str) -> bool:
    """True at most once per REFRESH_ON_MISS_EVERY seconds per account (True if Redis is
    down: a lookup is worth more than the throttle)."""
    try:
        key = f"bridge:refresh-on-miss:{account}"
        return bool(services.redis.set(key, "1", nx=True, ex=REFRESH_ON_MISS_EVERY))
    except Exception:
        return True


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
    for and Buffer could not answer it. An empty cache (a new install) is filled first."""
    stale = False
    if refresh:
        for account in services.settings.account_names():
            outcome = snapshots.take_account(services, account)
            stale = stale or outcome.retry_in is not None or outcome.error is not None
    with services.db.session() as session:
        found = profiles.list_cached(session)
    if not found and not refresh:
        return visible(services, client, refresh=True)
    return [p for p in found if auth.can_see(client, p)], stale
