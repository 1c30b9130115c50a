"""Signed webhook deliveries already answered: a redelivery (same `webhook-id`) gets the
first answer back and changes nothing, as Standard Webhooks senders expect."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
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
