"""The delivery log of a client's subscriptions, and sending deliveries again: what
REST's /v1/deliveries and the dashboard's deliveries page read and do (the sending itself
is bridge/events/outbound.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import joinedload

from bridge import events, models
from bridge.errors import Conflict, NotFound
from bridge.events import subscriptions
from bridge.models import utcnow
from bridge.services import Services

RETRY_PAGE = 50
MAX_RETRY_PAGE = 100


def retry_now(session: Any, deliveries: list[models.EventDelivery]) -> list[int]:
    """Put failed (or waiting) deliveries back to pending, due now, with the whole schedule
    ahead of them; the caller's commit wakes their senders. Returns their ids."""
    now = utcnow()
    ids = []
    for row in deliveries:
        if row.status == models.DELIVERED or not row.subscription.enabled:
            continue
        row.status, row.attempts, row.next_attempt_at = models.DELIVERY_PENDING, 0, now
        row.claimed_until = row.finished_at = None
        ids.append(row.id)
    session.flush()
    session.info.setdefault(events.OUTBOX, []).extend(ids)
    return ids


@dataclass
class Page:
    """Rows of one page, and the id to pass as `after` for the next (None: no more)."""

    rows: list[models.EventDelivery]
    next_after: int | None


def failed_since(
    session: Any,
    subscription_ids: list[int],
    since: dt.datetime,
    after: int | None = None,
    limit: int = RETRY_PAGE,
) -> Page:
    """Failed deliveries of these subscriptions that finished since `since`, by id, after
    id `after`, at most `limit`: those of subscriptions still live (enabled, not deleted:
    a retry would only fail them again) and not pings (a ping tests a moment; sending
    old ones again is a burst, not a test)."""
    delivery, sub, event = models.EventDelivery, models.EventSubscription, models.Event
    query = (
        select(delivery)
        .join(sub, sub.id == delivery.subscription_id)
        .join(event, event.id == delivery.event_id)
        .where(
            and_(
                delivery.subscription_id.in_(subscription_ids),
                delivery.status == models.DELIVERY_FAILED,
                delivery.finished_at >= since,
                sub.enabled.is_(True),
                sub.deleted_at.is_(None),
                event.type != events.PING,
            )
        )
    )
    if after is not None:
        query = query.where(delivery.id > after)
    rows = list(session.scalars(query.order_by(delivery.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, rows[-1].id if more else None)


@dataclass
class LogPage:
    """One page of a client's delivery log, newest first (`next_before`: None, no more)."""

    rows: list[models.EventDelivery]
    next_before: int | None


def _owned(session: Any, client_id: int, subscription: int | None) -> list[int]:
    """Ids of the client's subscriptions (deleted ones too: their log stays), or the one
    named (NotFound when it is not the client's)."""
    sub = models.EventSubscription
    owned = list(session.scalars(select(sub.id).where(sub.client_id == client_id)))
    if subscription is None:
        return owned
    if subscription not in owned:
        raise NotFound(f"unknown subscription {subscription}")
    return [subscription]


def page(
    services: Services,
    client: models.ApiClient,
    limit: int,
    subscription: int | None = None,
    status: str | None = None,
    before: int | None = None,
) -> LogPage:
    """The deliveries of the client's subscriptions (or of one), newest first, each with
    its event and subscription loaded (REST's /v1/deliveries and the dashboard's page)."""
    delivery = models.EventDelivery
    with services.db.session() as session:
        query = (
            select(delivery)
            .options(joinedload(delivery.event), joinedload(delivery.subscription))
            .where(delivery.subscription_id.in_(_owned(session, client.id, subscription)))
        )
        if status:
            query = query.where(delivery.status == status)
        if before:
            query = query.where(delivery.id < before)
        rows = list(session.scalars(query.order_by(delivery.id.desc()).limit(limit + 1)))
    shown = rows[:limit]
    return LogPage(shown, shown[-1].id if len(rows) > limit and shown else None)


def retry_one(
    services: Services, client: models.ApiClient, delivery_id: int
) -> models.EventDelivery:
    """Send one of the client's deliveries again now (its event loaded, for the answer):
    NotFound for anyone else's, Conflict when it was delivered or its subscription is
    disabled."""
    with services.db.session() as session:
        row = (
            session.get(models.EventDelivery, delivery_id) if delivery_id <= models.MAX_ID else None
        )
        if row is None or row.subscription.client_id != client.id:
            raise NotFound(f"unknown delivery {delivery_id}")
        if row.status == models.DELIVERED:
            raise Conflict(f"delivery {delivery_id} was delivered already")
        subscriptions.check_sendable(row.subscription)
        retry_now(session, [row])
        row.event  # noqa: B018 - loaded now, for the answer after the session ends
        return row


def retry_failed(
    services: Services,
    client: models.ApiClient,
    subscription: int | None,
    since: dt.datetime,
    after: int | None,
    limit: int,
) -> tuple[list[int], int | None]:
    """Send again a page of the client's failed deliveries (`failed_since`): the ids sent
    again, and the `after` of the next page (None: no more)."""
    with services.db.session() as session:
        owned = _owned(session, client.id, subscription)
        found = failed_since(session, owned, since, after=after, limit=limit)
        return retry_now(session, found.rows), found.next_after
