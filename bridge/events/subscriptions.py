"""Event subscriptions: who wants which outbound events, where, signed with which secret.

A subscription belongs to the client that made it and is seen, tested and deleted only by
that client. Its profiles are resolved to ids within the client's scopes at creation, and
the client's scopes are checked again for every event (bridge/events/__init__.py), so narrowing a
client's scopes narrows what its subscriptions receive.

Where events may go (`check_url`, at creation and again before every attempt, where the
host is also resolved and the connection pinned: bridge/safehttp.py): https only, no
credentials in the URL, never a loopback, private or link-local address; a Slack
subscription only to https://hooks.slack.com/. OUTBOUND_ALLOW_PRIVATE (development, tests,
the sandbox) also allows http and loopback/private addresses, never link-local ones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bridge import auth, events, models, profiles, safehttp
from bridge.errors import Conflict, InvalidInput, NotFound
from bridge.models import utcnow
from bridge.services import Services

WEBHOOK, SLACK, ZAPIER = "webhook", "slack", "zapier"
KINDS = (WEBHOOK, SLACK, ZAPIER)
SLACK_HOST = "hooks.slack.com"
MAX_URL = 2000
MAX_PER_CLIENT = 100


def check_url(kind: str, url: str, allow_private: bool) -> None:
    """RefusedTarget (saying why, never the URL) unless events of `kind` may go to `url`."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise safehttp.RefusedTarget("not a valid URL") from None
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        raise safehttp.RefusedTarget("expected an https URL with a host")
    if parts.scheme != "https" and not allow_private:
        raise safehttp.RefusedTarget("the URL must use https")
    if parts.username or parts.password:
        raise safehttp.RefusedTarget("the URL must not carry credentials")
    if kind == SLACK and (parts.scheme != "https" or host != SLACK_HOST):
        raise safehttp.RefusedTarget(f"a Slack URL must start with https://{SLACK_HOST}/")
    safehttp.check_literal(host, allow_private)


def create(
    services: Services,
    client: models.ApiClient,
    url: str,
    wanted: Sequence[str],
    profile_refs: Sequence[str] | None,
    kind: str | None = None,
) -> models.EventSubscription:
    """A new subscription of `client` (its `secret` is shown to the caller once).

    Raises InvalidInput for a refused URL, an unknown event type or a profile the client
    cannot see (answered as unknown), Conflict past MAX_PER_CLIENT."""
    with services.db.session() as session:
        return _create(
            session,
            client,
            url,
            wanted,
            profile_refs,
            kind,
            services.settings.outbound_allow_private,
        )


def _create(
    session: Session,
    client: models.ApiClient,
    url: str,
    wanted: Sequence[str],
    profile_refs: Sequence[str] | None,
    kind: str | None,
    allow_private: bool,
) -> models.EventSubscription:
    url = url.strip()
    if len(url) > MAX_URL:
        raise InvalidInput(f"at most {MAX_URL} characters", "url")
    kind = kind or (SLACK if urlsplit(url).hostname == SLACK_HOST else WEBHOOK)
    if kind not in KINDS:
        raise InvalidInput(f"one of {', '.join(KINDS)}", "kind")
    try:
        check_url(kind, url, allow_private)
    except safehttp.RefusedTarget as refused:
        raise InvalidInput(str(refused), "url") from None
    unknown = [t for t in wanted if t not in events.TYPES and t != events.EVERY]
    if unknown or not wanted:
        raise InvalidInput(
            f"event types among {', '.join(events.TYPES)} (or {events.EVERY!r})", "events"
        )
    ids = None
    if profile_refs:
        ids = []
        for ref in profile_refs:
            try:
                found = profiles.resolve(session, profiles.check_ref(ref, "profiles"))
                auth.check_read(client, found)
            except NotFound as error:
                raise InvalidInput(error.message, "profiles") from None
            ids.append(found.id)
        ids = list(dict.fromkeys(ids))
    count = len(_listing(session, client))
    if count >= MAX_PER_CLIENT:
        raise Conflict(f"a client may have at most {MAX_PER_CLIENT} subscriptions")
    subscription = models.EventSubscription(
        client_id=client.id,
        kind=kind,
        url=url,
        events=list(dict.fromkeys(wanted)),
        profiles=ids,
        secret=auth.new_signing_secret(),
        enabled=True,
        failures=0,
        created_at=utcnow(),
    )
    session.add(subscription)
    session.flush()
    return subscription


def listing(services: Services, client: models.ApiClient) -> list[models.EventSubscription]:
    """The client's subscriptions (not deleted), oldest first."""
    with services.db.session() as session:
        return _listing(session, client)


def _listing(session: Session, client: models.ApiClient) -> list[models.EventSubscription]:
    sub = models.EventSubscription
    query = select(sub).where(sub.client_id == client.id, sub.deleted_at.is_(None)).order_by(sub.id)
    return list(session.scalars(query))


def get(
    services: Services, client: models.ApiClient, subscription_id: int
) -> models.EventSubscription:
    """The client's subscription `subscription_id`; NotFound for anyone else's."""
    with services.db.session() as session:
        return _owned(session, client, subscription_id)


def _owned(
    session: Session, client: models.ApiClient, subscription_id: int
) -> models.EventSubscription:
    found = (
        session.get(models.EventSubscription, subscription_id)
        if subscription_id <= models.MAX_ID
        else None
    )
    if found is None or found.client_id != client.id or found.deleted_at is not None:
        raise NotFound(f"unknown subscription {subscription_id}")
    return found


def delete(services: Services, client: models.ApiClient, subscription_id: int) -> None:
    """Stop the subscription; its delivery log stays, its pending deliveries fail."""
    with services.db.session() as session:
        found = _owned(session, client, subscription_id)
        found.deleted_at = utcnow()
        found.enabled = False
        abandon(session, found.id, "the subscription was deleted")


def set_enabled(
    services: Services, client: models.ApiClient, subscription_id: int, enabled: bool
) -> models.EventSubscription:
    """Enable (after fixing the receiver) or disable a subscription."""
    with services.db.session() as session:
        found = _owned(session, client, subscription_id)
        found.enabled = enabled
        if enabled:
            found.disabled_at = found.disabled_reason = found.failing_since = None
        else:
            found.disabled_at = utcnow()
            found.disabled_reason = "disabled by its client"
        return found


def ping(
    services: Services,
    client: models.ApiClient,
    subscription_id: int,
    admit: Callable[[], None],
) -> tuple[str, list[int]]:
    """Send a `ping` event to one of the client's subscriptions: (the event's uid, its
    delivery ids). `admit` is asked last, once the ping could be sent (a rate limit
    spends nothing on a ping refused for a disabled subscription)."""
    with services.db.session() as session:
        found = _owned(session, client, subscription_id)
        check_sendable(found)
        admit()
        event = events.ping(session, found)
        return event.uid, list(session.info.get(events.OUTBOX, []))


def check_sendable(subscription: models.EventSubscription) -> None:
    """Conflict, saying why, unless the subscription may be sent to now: a disabled one is
    not, and anything stored for it would only wait to be released later in a burst
    (issue 20: 51 pings stored while disabled became 102 POSTs once retried)."""
    if not subscription.enabled:
        raise Conflict(
            f"subscription {subscription.id} is disabled ({subscription.disabled_reason}): "
            "nothing is sent to it; enable it first (PATCH with enabled true)"
        )


def disable(session: Session, subscription: models.EventSubscription, reason: str) -> None:
    """Disable a subscription for `reason` and fail its pending deliveries."""
    subscription.enabled = False
    subscription.disabled_at = utcnow()
    subscription.disabled_reason = reason[:255]
    abandon(session, subscription.id, f"subscription disabled: {reason}")


def abandon(session: Session, subscription_id: int, why: str) -> None:
    """Fail the subscription's pending deliveries with `why`."""
    delivery = models.EventDelivery
    session.execute(
        update(delivery)
        .where(
            delivery.subscription_id == subscription_id,
            delivery.status == models.DELIVERY_PENDING,
        )
        .values(status=models.DELIVERY_FAILED, last_error=why, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def failing_too_long(subscription: models.EventSubscription, now: dt.datetime, days: int) -> bool:
    """True when every attempt to the subscription failed for `days` days."""
    since = subscription.failing_since
    return since is not None and now - since >= dt.timedelta(days=days)
