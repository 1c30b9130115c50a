"""/v1/deliveries: the delivery log of your subscriptions, and sending again."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from bridge import models, outbound, subscriptions
from bridge.api.event_schemas import (
    BulkRetryInput,
    DeliveryListArgs,
    DeliveryListSchema,
    DeliverySchema,
    RetriedSchema,
)
from bridge.errors import Conflict, NotFound
from bridge.web.caller import authenticate_first, current_client, services

blp = Blueprint(
    "deliveries", __name__, url_prefix="/v1/deliveries", description="Outbound events: log"
)
authenticate_first(blp)


def _own_subscriptions(session: Any, subscription: int | None) -> list[int]:
    """Ids of the caller's subscriptions (deleted ones too: their log stays), or the one
    named (NotFound when it is not the caller's)."""
    sub = models.EventSubscription
    owned = list(session.scalars(select(sub.id).where(sub.client_id == current_client().id)))
    if subscription is not None:
        if subscription not in owned:
            raise NotFound(f"unknown subscription {subscription}")
        return [subscription]
    return owned


@blp.route("")
class DeliveryList(MethodView):
    @blp.arguments(DeliveryListArgs, location="query", as_kwargs=True)
    @blp.response(200, DeliveryListSchema)
    def get(
        self, subscription: int | None, status: str | None, limit: int, before: int | None
    ) -> dict[str, Any]:
        """Deliveries of your subscriptions, newest first; `status` pending, delivered or
        failed; `before` pages on."""
        delivery = models.EventDelivery
        with services().db.session() as session:
            owned = _own_subscriptions(session, subscription)
            query = (
                select(delivery)
                .options(joinedload(delivery.event))
                .where(delivery.subscription_id.in_(owned))
            )
            if status:
                query = query.where(delivery.status == status)
            if before:
                query = query.where(delivery.id < before)
            rows = list(session.scalars(query.order_by(delivery.id.desc()).limit(limit + 1)))
            more = len(rows) > limit
            shown = rows[:limit]
            return {
                "deliveries": shown,
                "next_before": shown[-1].id if more and shown else None,
            }


@blp.route("/<int:delivery_id>/retry")
class DeliveryRetry(MethodView):
    @blp.response(202, DeliverySchema)
    def post(self, delivery_id: int) -> models.EventDelivery:
        """Send a failed delivery again now, with the whole retry schedule ahead of it (409
        when it was delivered or its subscription is disabled)."""
        with services().db.session() as session:
            row = (
                session.get(models.EventDelivery, delivery_id)
                if delivery_id <= models.MAX_ID
                else None
            )
            if row is None or row.subscription.client_id != current_client().id:
                raise NotFound(f"unknown delivery {delivery_id}")
            if row.status == models.DELIVERED:
                raise Conflict(f"delivery {delivery_id} was delivered already")
            subscriptions.check_sendable(row.subscription)
            outbound.retry_now(session, [row])
            row.event  # noqa: B018 - loaded now, for the answer after the session ends
            return row


@blp.route("/retry")
class DeliveryBulkRetry(MethodView):
    @blp.arguments(BulkRetryInput)
    @blp.response(202, RetriedSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Send again the deliveries that failed since `since` (of one `subscription`, or
        all yours that are enabled), oldest first, at most `limit` (50, up to 100) a call:
        when `next_after` is not null, more remain; pass it as `after` for the next page.
        Pings are not sent again (they were tests of a moment)."""
        with services().db.session() as session:
            owned = _own_subscriptions(session, body["subscription"])
            page = outbound.failed_since(
                session, owned, body["since"], after=body["after"], limit=body["limit"]
            )
            return {
                "retried": outbound.retry_now(session, page.rows),
                "next_after": page.next_after,
            }
