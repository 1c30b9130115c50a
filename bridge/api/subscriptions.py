"""/v1/subscriptions and /v1/events: outbound events, and who gets them where.

Also Zapier's REST Hooks (`/v1/zapier/hooks`, `/v1/zapier/samples`): a Zapier app (or a
"Webhooks by Zapier" Catch Hook) subscribes with `{"hookUrl", "event"}`, unsubscribes by
id, and reads recent sample events of a type as its "perform list" (docs/zapier.md)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from bridge import events, models
from bridge.api.event_schemas import (
    EventListArgs,
    EventListSchema,
    EventSchema,
    SentSchema,
    SubscriptionCreatedSchema,
    SubscriptionInput,
    SubscriptionListSchema,
    SubscriptionPatch,
    SubscriptionSchema,
    ZapierSampleArgs,
    ZapierSubscribedSchema,
    ZapierSubscribeInput,
)
from bridge.events import subscriptions
from bridge.web import limits
from bridge.web.caller import authenticate_first, current_client, services

blp = Blueprint(
    "subscriptions", __name__, url_prefix="/v1", description="Outbound events: subscriptions"
)
authenticate_first(blp)


@blp.route("/subscriptions")
class SubscriptionList(MethodView):
    @blp.response(200, SubscriptionListSchema)
    def get(self) -> dict[str, Any]:
        """Your subscriptions (secrets are not shown again)."""
        return {"subscriptions": subscriptions.listing(services(), current_client())}

    @blp.arguments(SubscriptionInput)
    @blp.response(201, SubscriptionCreatedSchema)
    def post(self, body: dict[str, Any]) -> models.EventSubscription:
        """Subscribe a URL to event types (of some `profiles`, within your scopes). The
        answer shows the signing secret (`whsec_...`) this once: deliveries are signed with
        it (Standard Webhooks headers)."""
        return subscriptions.create(
            services(),
            current_client(),
            body["url"],
            body["events"],
            body.get("profiles"),
            body.get("kind"),
        )


@blp.route("/subscriptions/<int:subscription_id>")
class SubscriptionItem(MethodView):
    @blp.response(200, SubscriptionSchema)
    def get(self, subscription_id: int) -> models.EventSubscription:
        """One of your subscriptions: enabled or why not, failures so far."""
        return subscriptions.get(services(), current_client(), subscription_id)

    @blp.arguments(SubscriptionPatch)
    @blp.response(200, SubscriptionSchema)
    def patch(self, body: dict[str, Any], subscription_id: int) -> models.EventSubscription:
        """Enable a subscription again (after fixing its receiver) or pause it."""
        return subscriptions.set_enabled(
            services(), current_client(), subscription_id, body["enabled"]
        )

    @blp.response(204)
    def delete(self, subscription_id: int) -> None:
        """Unsubscribe: nothing more is sent; the delivery log stays."""
        subscriptions.delete(services(), current_client(), subscription_id)


@blp.route("/subscriptions/<int:subscription_id>/test")
class SubscriptionTest(MethodView):
    @blp.response(202, SentSchema)
    def post(self, subscription_id: int) -> dict[str, Any]:
        """Send a `ping` event to this subscription (see it in /v1/deliveries): 409 when
        it is disabled, 429 past PING_RATE_LIMIT pings a client (a ping is a test)."""
        client = current_client()
        event_id, delivery_ids = subscriptions.ping(
            services(), client, subscription_id, lambda: limits.check_ping_rate(services(), client)
        )
        return {"event_id": event_id, "delivery_ids": delivery_ids}


@blp.route("/events")
class EventList(MethodView):
    @blp.arguments(EventListArgs, location="query", as_kwargs=True)
    @blp.response(200, EventListSchema)
    def get(self, type: str | None, limit: int) -> dict[str, Any]:
        """Recent events on profiles you can see, newest first, as subscribers get them."""
        return {"events": events.recent(services(), current_client(), type, limit)}


@blp.route("/zapier/hooks")
class ZapierHooks(MethodView):
    @blp.arguments(ZapierSubscribeInput)
    @blp.response(201, ZapierSubscribedSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Zapier REST Hooks subscribe: `{"hookUrl", "event"}` → `{"id", "event", "secret"}`:
        keep `id` to unsubscribe, and `secret` (`whsec_...`, shown this once) to verify
        each delivery's Standard Webhooks signature."""
        made = subscriptions.create(
            services(), current_client(), body["hook_url"], [body["event"]], None, "zapier"
        )
        return {"id": made.id, "event": body["event"], "secret": made.secret}


@blp.route("/zapier/hooks/<int:subscription_id>")
class ZapierHook(MethodView):
    @blp.response(204)
    def delete(self, subscription_id: int) -> None:
        """Zapier REST Hooks unsubscribe, by the id the subscribe answered."""
        subscriptions.delete(services(), current_client(), subscription_id)


@blp.route("/zapier/samples")
class ZapierSamples(MethodView):
    @blp.arguments(ZapierSampleArgs, location="query", as_kwargs=True)
    @blp.response(200, EventSchema(many=True))
    def get(self, event: str | None) -> list[dict[str, Any]]:
        """Zapier's "perform list": recent events of a type, newest first, as a plain array
        (a made-up example when there are none yet, so a Zap can be set up at once)."""
        wanted = None if event in (None, events.EVERY) else event
        found = events.recent(services(), current_client(), wanted, 3)
        return found or [events.example(wanted or events.SCHEDULE_CHANGED)]
