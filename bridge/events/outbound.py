"""Sending outbound events: one delivery (an event to one subscription) per call.

A sender first claims the row (one UPDATE: still pending, due, and not claimed by another
sender), so two senders of the same delivery (a task and the reconciler's, or a task
redelivered after a Redis failover) never send it at the same time; a claim lapses after
CLAIM seconds, so a sender killed mid-attempt is replaced. Every attempt carries the
event's id as `webhook-id`: a receiver that sees an id twice (the sender died after the
receiver answered but before the answer was recorded) can tell it is a repeat.

Receivers are chosen by clients, so one may hold every request as long as TIMEOUT allows.
What bounds the harm: deliveries run on their own Celery queue and workers
(`bridge.config.DELIVERY_QUEUE`, never the syncs'), one subscription is sent one delivery
at a time (a Redis lock; the others wait BUSY_WAIT and try again), and test pings are
limited per client (PING_RATE_LIMIT, bridge/web/limits.py).

Webhook and Zapier subscriptions get the event as JSON signed with Standard Webhooks (the
`standardwebhooks` library, as the bridge verifies inbound ones); Slack incoming webhooks
get a readable `text` (Slack checks no signature; the headers are sent all the same).

Outcomes: a 2xx within TIMEOUT is delivered; 410 Gone disables the subscription (the
receiver asked to unsubscribe); anything else (another status, a timeout, a connection
error) is retried on `retry.DELIVERY_SCHEDULE`, like Svix, which retries every non-2xx;
a URL refused by the address rules fails at once. After the last attempt the delivery is
failed and counted on its subscription; a subscription whose every attempt failed for
DISABLE_AFTER_DAYS is disabled and logged.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Any

import requests
from redis.exceptions import LockError
from sqlalchemy import delete, or_, select, update
from standardwebhooks.webhooks import Webhook

from bridge import __version__, events, models, retry, safehttp
from bridge.events import subscriptions
from bridge.models import utcnow
from bridge.queue import DELIVER_EVENT
from bridge.services import Services

log = logging.getLogger(__name__)

TIMEOUT = (5.0, 15.0)  # (connect, read) seconds; an answer after 15 s is a failure
DEADLINE = 15.0
CLAIM = 60.0  # seconds a sender holds a delivery: longer than connect + read
EARLY = 1.0  # a countdown may fire this much early and still find the row due
DISABLE_AFTER_DAYS = 5
BUSY = "busy"  # another delivery to the same subscription is being sent
BUSY_WAIT = 5.0  # seconds before a busy delivery is tried again (the receiver is slow)
# deliveries one bulk retry puts back at once: each is a POST to a receiver, so a call
# is a burst of at most this many (issue 20: 51 stored pings became 102 POSTs in 20 s)
USER_AGENT = f"buffer-bridge/{__version__} (events)"


@dataclass
class Attempt:
    """What one call did: delivered, retrying, failed, skipped (not due / not ours) or
    busy (its subscription is being sent something else)."""

    state: str
    retry_in: float | None = None
    status: int | None = None


def sending_key(subscription_id: int) -> str:
    """Redis key of the lock held while something is sent to one subscription."""
    return f"bridge:lock:subscription:{subscription_id}"


def deliver(services: Services, delivery_id: int, http: requests.Session | None = None) -> Attempt:
    """Make one attempt at delivery `delivery_id`, if it is pending, due and unclaimed, and
    nothing else is being sent to its subscription: then it is "busy", to try again in
    BUSY_WAIT seconds (its attempt not counted). One at a time per subscription, on every
    worker: a receiver that holds every request holds one delivery thread, not all."""
    with services.db.session() as session:
        subscription_id = session.scalar(
            select(models.EventDelivery.subscription_id).where(
                models.EventDelivery.id == delivery_id
            )
        )
    if subscription_id is None:
        return Attempt("skipped")
    # lapses with the claim, so a sender killed mid-attempt blocks nobody for longer
    lock = services.redis.lock(
        sending_key(subscription_id), timeout=CLAIM, blocking=False, thread_local=False
    )
    if not lock.acquire(blocking=False):
        return Attempt(BUSY, retry_in=BUSY_WAIT)
    try:
        return _attempt(services, delivery_id, http)
    finally:
        # LockError: it lapsed (an attempt longer than CLAIM); another sender may hold it
        with contextlib.suppress(LockError):
            lock.release()


def _attempt(services: Services, delivery_id: int, http: requests.Session | None) -> Attempt:
    """One attempt, the subscription's lock held."""
    prepared = _claim(services, delivery_id)
    if isinstance(prepared, Attempt):
        return prepared
    kind, url, secret, payload = prepared
    allow_private = services.settings.outbound_allow_private
    try:
        subscriptions.check_url(kind, url, allow_private)
    except safehttp.RefusedTarget as refused:
        return _record(services, delivery_id, None, f"refused: {refused}", final=True)
    body = _body(kind, payload)
    headers = sign(secret, payload["id"], body)
    session = http or safehttp.guarded_session(allow_private=allow_private)
    try:
        response = session.post(
            url, data=body.encode(), headers=headers, timeout=TIMEOUT, allow_redirects=False
        )
    except safehttp.RefusedTarget as refused:
        return _record(services, delivery_id, None, f"refused: {refused}", final=True)
    except requests.RequestException as error:
        return _record(services, delivery_id, None, type(error).__name__)
    finally:
        if http is None:
            session.close()
    status = response.status_code
    if response.elapsed.total_seconds() > DEADLINE:
        return _record(services, delivery_id, status, f"answered after {DEADLINE:g}s")
    if 200 <= status < 300:
        return _record(services, delivery_id, status, None)
    if status == 410:
        return _record(services, delivery_id, status, "410 Gone: unsubscribed", gone=True)
    return _record(services, delivery_id, status, f"HTTP {status}")


def sign(secret: str, message_id: str, body: str) -> dict[str, str]:
    """Standard Webhooks headers for `body` (and the content type)."""
    now = utcnow()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, now, body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def _body(kind: str, payload: dict[str, Any]) -> str:
    if kind == subscriptions.SLACK:
        return json.dumps({"text": events.text(payload)})
    return json.dumps(payload, separators=(",", ":"))


def _claim(services: Services, delivery_id: int) -> Attempt | tuple[str, str, str, dict[str, Any]]:
    """Take the delivery for one attempt: (kind, url, secret, payload), or an Attempt saying
    why not (skipped: settled, not due or another sender's; failed: subscription gone)."""
    now = utcnow()
    delivery = models.EventDelivery
    claim = (
        update(delivery)
        .where(
            delivery.id == delivery_id,
            delivery.status == models.DELIVERY_PENDING,
            or_(
                delivery.next_attempt_at.is_(None),
                delivery.next_attempt_at <= now + dt.timedelta(seconds=EARLY),
            ),
            or_(delivery.claimed_until.is_(None), delivery.claimed_until < now),
        )
        .values(claimed_until=now + dt.timedelta(seconds=CLAIM), attempts=delivery.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    with services.db.session() as session:
        if getattr(session.execute(claim), "rowcount", 0) != 1:
            return Attempt("skipped")
        row = session.get(models.EventDelivery, delivery_id)
        assert row is not None
        target = row.subscription
        if not target.enabled or target.deleted_at is not None:
            row.status = models.DELIVERY_FAILED
            row.last_error = target.disabled_reason or "the subscription was deleted"
            row.finished_at = now
            return Attempt(models.DELIVERY_FAILED)
        return target.kind, target.url, target.secret, dict(row.event.payload)


def _record(
    services: Services,
    delivery_id: int,
    status: int | None,
    error: str | None,
    final: bool = False,
    gone: bool = False,
) -> Attempt:
    """Record the attempt's outcome (error None: delivered) and release the claim."""
    now = utcnow()
    with services.db.session() as session:
        row = session.get(models.EventDelivery, delivery_id)
        assert row is not None
        target = row.subscription
        row.last_status, row.last_error, row.claimed_until = status, error, None
        if error is None:
            row.status, row.finished_at = models.DELIVERED, now
            target.failing_since = None
            return Attempt(models.DELIVERED, status=status)
        if gone:
            row.status, row.finished_at = models.DELIVERY_FAILED, now
            subscriptions.disable(session, target, "the receiver answered 410 Gone")
            log.warning("subscription %s disabled: its receiver answered 410 Gone", target.id)
            return Attempt(models.DELIVERY_FAILED, status=status)
        target.failing_since = target.failing_since or now
        wait = None if final else retry.delivery_delay(row.attempts)
        if wait is None:
            row.status, row.finished_at = models.DELIVERY_FAILED, now
            target.failures = (target.failures or 0) + 1
        else:
            row.next_attempt_at = now + dt.timedelta(seconds=wait)
        if target.enabled and subscriptions.failing_too_long(target, now, DISABLE_AFTER_DAYS):
            why = f"every delivery failed for {DISABLE_AFTER_DAYS} days"
            subscriptions.disable(session, target, why)
            # the account.degraded-style notice: operators watch the log for these
            log.error(
                "subscription %s of client %s disabled: %s (last: %s)",
                target.id,
                target.client_id,
                why,
                error,
            )
            return Attempt(models.DELIVERY_FAILED, status=status)
        state = "retrying" if wait is not None else models.DELIVERY_FAILED
        return Attempt(state, retry_in=wait, status=status)


# -- the reconciler's and the delivery log's part


def overdue(services: Services, now: dt.datetime | None = None, limit: int = 500) -> list[int]:
    """Pending deliveries due more than RECONCILE_AFTER ago and unclaimed: their task was
    lost (Redis flushed, a worker killed), or their wait was longer than a countdown."""
    now = now or utcnow()
    cutoff = now - dt.timedelta(seconds=services.settings.reconcile_after)
    delivery = models.EventDelivery
    query = (
        select(delivery.id)
        .where(
            delivery.status == models.DELIVERY_PENDING,
            delivery.next_attempt_at < cutoff,
            or_(delivery.claimed_until.is_(None), delivery.claimed_until < now),
        )
        .order_by(delivery.id)
        .limit(limit)
    )
    with services.db.session() as session:
        return list(session.scalars(query))


def resend_overdue(services: Services) -> list[int]:
    """Queue every delivery `overdue` finds; returns their ids."""
    found = overdue(services)
    for delivery_id in found:
        services.queue.send(DELIVER_EVENT, delivery_id)
    return found


def prune(services: Services) -> int:
    """Forget events (and their deliveries) older than EVENT_RETENTION; how many events."""
    cutoff = utcnow() - dt.timedelta(seconds=services.settings.event_retention)
    event, delivery = models.Event, models.EventDelivery
    old = select(event.id).where(event.created_at < cutoff)
    with services.db.session() as session:
        session.execute(
            delete(delivery).where(
                delivery.event_id.in_(old), delivery.status != models.DELIVERY_PENDING
            )
        )
        kept = select(delivery.event_id)
        done = session.execute(
            delete(event).where(event.created_at < cutoff, event.id.not_in(kept))
        )
        return int(getattr(done, "rowcount", 0) or 0)
