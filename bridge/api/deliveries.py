"""/v1/deliveries: the delivery log of your subscriptions, and sending again."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from bridge import models
from bridge.api.event_schemas import (
    BulkRetryInput,
    DeliveryListArgs,
    DeliveryListSchema,
    DeliverySchema,
    RetriedSchema,
)
from bridge.events import delivery_log
from bridge.web.caller import authenticate_first, current_client, services

blp = Blueprint(
    "deliveries", __name__, url_prefix="/v1/deliveries", description="Outbound events: log"
)
authenticate_first(blp)


@blp.route("")
class DeliveryList(MethodView):
    @blp.arguments(DeliveryListArgs, location="query", as_kwargs=True)
    @blp.response(200, DeliveryListSchema)
    def get(
        self, subscription: int | None, status: str | None, limit: int, before: int | None
    ) -> dict[str, Any]:
        """Deliveries of your subscriptions, newest first; `status` pending, delivered or
        failed; `before` pages on."""
        found = delivery_log.page(services(), current_client(), limit, subscription, status, before)
        return {"deliveries": found.rows, "next_before": found.next_before}


@blp.route("/<int:delivery_id>/retry")
class DeliveryRetry(MethodView):
    @blp.response(202, DeliverySchema)
    def post(self, delivery_id: int) -> models.EventDelivery:
        """Send a failed delivery again now, with the whole retry schedule ahead of it (409
        when it was delivered or its subscription is disabled)."""
        return delivery_log.retry_one(services(), current_client(), delivery_id)


@blp.route("/retry")
class DeliveryBulkRetry(MethodView):
    @blp.arguments(BulkRetryInput)
    @blp.response(202, RetriedSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Send again the deliveries that failed since `since` (of one `subscription`, or
        all yours that are enabled), oldest first, at most `limit` (50, up to 100) a call:
        when `next_after` is not null, more remain; pass it as `after` for the next page.
        Pings are not sent again (they were tests of a moment)."""
        retried, next_after = delivery_log.retry_failed(
            services(),
            current_client(),
            body["subscription"],
            body["since"],
            body["after"],
            body["limit"],
        )
        return {"retried": retried, "next_after": next_after}
