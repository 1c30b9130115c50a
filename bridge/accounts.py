"""The Buffer accounts behind the bridge, as users need to see them: which API each uses,
whether it can still change schedules, and how long v1 has left."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from bridge import auth, models, profiles
from bridge.buffer.backend import GraphQLBackend, HybridBackend
from bridge.config import Settings, key_var
from bridge.services import Services


def startup_warnings(settings: Settings, today: dt.date | None = None) -> list[str]:
    """One line per account whose writes end or have ended with Buffer's v1 API, for the
    logs of every process that starts (web, worker)."""
    today = today or models.utcnow().date()
    sunset = settings.buffer_v1_sunset
    lines = []
    for name in settings.account_names():
        api = settings.account_api(name)
        if api == "graphql":
            lines.append(
                f"account {name!r} has only a GraphQL API key: it reads, snapshots and detects "
                "drift, but Buffer's GraphQL API cannot change posting schedules (changes: 409)"
            )
        elif sunset is not None and settings.v1_past_sunset(today):
            reads = "reads go through GraphQL" if api == "both" else f"set {key_var(name)} to read"
            lines.append(
                f"account {name!r}: Buffer retired the v1 API on {sunset.isoformat()}; changes "
                f"are refused (409) and {reads}"
            )
        elif sunset is not None:
            days = settings.v1_days_left(today)
            keep = "" if api == "both" else f"; set {key_var(name)} to keep reading after it"
            lines.append(
                f"account {name!r}: Buffer retires the v1 API on {sunset.isoformat()} ({days} "
                f"days): the bridge can change schedules only until then{keep}"
            )
    return lines


# what a `bridge`-mode profile gets, said wherever the mode shows (docs/buffer-apis.md)
BRIDGE_MODE = (
    "In bridge mode the bridge keeps each profile's posting week itself: changes are stored "
    "as the kept week (Buffer's own schedule is left as it is), and the posts sent through "
    "the bridge (POST /v1/profiles/<ref>/posts, webhooks, chat) are placed on the week's "
    "free slots and moved when the week changes. Posts added in Buffer's own app with "
    '"Add to queue" follow Buffer\'s frozen schedule unless the profile adopts its queue '
    "(adopt_queue)."
)


def overview(
    services: Services, client: models.ApiClient | None = None, today: dt.date | None = None
) -> list[dict[str, Any]]:
    """One entry per configured account: name, api, can_read, can_write, why not, its
    organizations (as last read, GraphQL only), its profile count, the v1 sunset and the
    days left. A client scoped to some profiles sees only the accounts of those profiles,
    counted by what it may see. No Buffer call is made."""
    today = today or models.utcnow().date()
    counts = _profile_counts(services, client)
    entries = []
    for name in services.settings.account_names():
        if client is not None and client.profiles is not None and name not in counts:
            continue
        backend = services.backend(name)
        abilities = backend.capabilities(today)
        entries.append(
            {
                "name": name,
                "api": abilities.api,
                "reads_through": abilities.read_api,
                "can_read": True,
                "can_write": abilities.can_write,
                "write_refusal": abilities.write_refusal,
                "organizations": _organizations(backend),
                "profiles": counts.get(name, 0),
                "v1_sunset": abilities.v1_sunset.isoformat() if abilities.v1_sunset else None,
                "v1_days_left": abilities.v1_days_left,
                "notice": abilities.notice(),
                "schedule_mode": "bridge" if abilities.keeps_week else "buffer",
                "can_post": abilities.can_post,
                "bridge_mode": BRIDGE_MODE if abilities.can_post else None,
            }
        )
    return entries


def _profile_counts(services: Services, client: models.ApiClient | None) -> dict[str, int]:
    """Cached profiles per account (only those `client` may see, when it is scoped)."""
    with services.db.session() as session:
        if client is None or client.profiles is None:
            query = select(models.Profile.account, func.count()).group_by(models.Profile.account)
            return {account: int(count) for account, count in session.execute(query)}
        counts: dict[str, int] = {}
        for profile in profiles.list_cached(session):
            if auth.can_see(client, profile):
                counts[profile.account] = counts.get(profile.account, 0) + 1
        return counts


def _organizations(backend: Any) -> list[dict[str, str]] | None:
    """The account's organizations as last read (GraphQL accounts), else None."""
    graphql = backend.graphql if isinstance(backend, HybridBackend) else backend
    if not isinstance(graphql, GraphQLBackend):
        return None
    found = graphql.cached_organizations()
    return [{"id": o.id, "name": o.name} for o in found] if found is not None else None
