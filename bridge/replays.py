"""The replay memory of signed webhooks already answered: a redelivery (same `webhook-id`) gets the
first answer back and changes nothing, as Standard Webhooks senders expect. Answers older
than WEBHOOK_DELIVERY_RETENTION are pruned by beat (senders redeliver for hours, a few
days at most; the signature's own tolerance is minutes)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from bridge import models
from bridge.services import Services


def seen(services: Services, client_id: int, webhook_id: str) -> models.WebhookDelivery | None:
    """The recorded answer to an earlier signed webhook with this id, if any."""
    with services.db.session() as session:
        query = select(models.WebhookDelivery).where(
            models.WebhookDelivery.client_id == client_id,
            models.WebhookDelivery.webhook_id == webhook_id,
        )
        return session.scalars(query).first()


def remember(
    services: Services, client_id: int, webhook_id: str, status: int, response: dict[str, Any]
) -> None:
    """Record the answer to a signed webhook so a replay gets it back (first answer wins)."""
    try:
        with services.db.session() as session:
            session.add(
                models.WebhookDelivery(
                    client_id=client_id, webhook_id=webhook_id, status=status, response=response
                )
            )
    except IntegrityError:
        pass  # a concurrent delivery of the same id was recorded first; its answer stands


def prune(services: Services) -> int:
    """Forget answers older than WEBHOOK_DELIVERY_RETENTION; how many were removed."""
    cutoff = models.utcnow() - dt.timedelta(seconds=services.settings.webhook_delivery_retention)
    with services.db.session() as session:
        done = session.execute(
            delete(models.WebhookDelivery).where(models.WebhookDelivery.created_at < cutoff)
        )
        return int(getattr(done, "rowcount", 0) or 0)
