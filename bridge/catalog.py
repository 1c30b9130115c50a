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

import datetime as dt
import logging
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import redis
from sqlalchemy.orm import Session

from bridge import auth, models, profiles, snapshots
from bridge.errors import ProfileNotFound
from bridge.services import Services

T = TypeVar("T")

log = logging.getLogger(__name__)
REFRESH_EVERY = 30  # seconds, per account, for refresh-on-miss and `?refresh=1` alike
REFRESH_ON_MISS_EVERY = REFRESH_EVERY  # the name earlier code and tests know


def resolve(
    services: Services,
    ref: str,
    field: str = "profile",
    client: models.ApiClient | None = None,
) -> models.Profile:
    """The cached profile `ref` names, refreshing the cache once if it is unknown; with
    `client`, only among the profiles it may see.

    Raises InvalidInput (a malformed reference, naming `field`) or ProfileNotFound, the
    same for a profile outside the client's scopes as for one that does not exist."""
    profiles.check_ref(ref, field)

    def find() -> models.Profile:
        with services.db.session() as session:
            return lookup(session, ref, client)

    return refreshing_on_miss(services, find)


def lookup(session: Session, ref: str, client: models.ApiClient | None = None) -> models.Profile:
    """The cached profile `ref` names in `session`, without asking Buffer; with `client`,
    only among the profiles it may see. ProfileNotFound otherwise (see `resolve`)."""
    visible = None if client is None else partial(auth.can_see, client)
    return profiles.resolve(session, ref, visible)


def refreshing_on_miss(services: Services, attempt: Callable[[], T]) -> T:
    """`attempt()`, and when it finds no profile (ProfileNotFound), once more after the
    cache is refreshed from Buffer (each account at most once per REFRESH_EVERY): a
    profile new in Buffer is found the first time it is named."""
    try:
        return attempt()
    except ProfileNotFound:
        pass
    for account in services.settings.account_names():
        if _may_refresh(services, account):
            _refresh(services, account)
    return attempt()


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


def readable(
    services: Services, client: models.ApiClient, ref: str, field: str = "profile"
) -> models.Profile:
    """The profile `ref` names, if `client` may read it: ProfileNotFound (404) otherwise,
    so a scoped caller cannot tell a profile outside its scopes from one that is not there."""
    return resolve(services, ref, field, client)


def writable(services: Services, client: models.ApiClient, ref: str) -> models.Profile:
    """The profile `ref` names, if `client` may change it (Forbidden for a read-only client
    before any lookup, which reveals nothing; ProfileNotFound as `readable` otherwise)."""
    auth.check_write(client)
    return resolve(services, ref, "profile", client)


def visible_ids(services: Services, client: models.ApiClient) -> list[str] | None:
    """The ids of the cached profiles `client` may see; None for a client scoped to every
    profile. Lists filter on these in SQL, before their limit."""
    if client.profiles is None:
        return None
    with services.db.session() as session:
        return auth.visible_ids(session, client)


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


def read_at(found: list[models.Profile]) -> dt.datetime | None:
    """When Buffer was last read for every one of `found` (the oldest `seen_at`; a refresh
    or a sync sets it), so an answer from the cache says how fresh it is; None for none."""
    return min((p.seen_at for p in found), default=None)


def scoped_job_result(
    services: Services, client: models.ApiClient, job: models.Job
) -> dict[str, Any] | None:
    """A job's result as `client` may see it. An account snapshot's result lists every
    changed profile of the account: a scoped client sees only the ids in its scopes, and
    a count of only those profiles."""
    result = job.result
    if client.profiles is None or not result or job.profile_id is not None:
        return result
    with services.db.session() as session:
        mine = [p.id for p in profiles.list_cached(session, job.account) if auth.can_see(client, p)]
    scoped = dict(result)
    if "changed" in scoped:
        scoped["changed"] = [pid for pid in scoped["changed"] or [] if pid in mine]
    if "profiles" in scoped:
        scoped["profiles"] = len(mine)
    return scoped
