"""Schemas of the outbound-event endpoints (subscriptions, deliveries, events, Zapier REST
Hooks): what they read (RAISE on unknown fields, except Zapier's own bodies) and answer.
Kept apart from bridge/api/schemas.py, which is long enough already."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from bridge import events, models
from bridge.api.schemas import ID_RANGE, LIST_LIMIT
from bridge.events import delivery_log, subscriptions
from bridge.web.fields import StrictSchema

EVENT_CHOICES = (*events.TYPES, events.EVERY)


class SubscriptionInput(StrictSchema):
    """POST /v1/subscriptions."""

    url = fields.String(
        required=True,
        validate=validate.Length(min=1, max=subscriptions.MAX_URL),
        metadata={"example": "https://example.com/buffer-events"},
    )
    events = fields.List(
        fields.String(validate=validate.OneOf(EVENT_CHOICES)),
        required=True,
        validate=validate.Length(min=1, max=len(EVENT_CHOICES)),
        metadata={"example": ["schedule.changed", "schedule.drifted"]},
    )
    profiles = fields.List(
        fields.String(validate=validate.Length(min=1, max=255)),
        load_default=None,
        validate=validate.Length(max=100),
        metadata={"description": "profile references; omitted: every profile you can see"},
    )
    kind = fields.String(
        load_default=None,
        validate=validate.OneOf(subscriptions.KINDS),
        metadata={"description": "webhook (default), slack (a Slack incoming webhook), zapier"},
    )


class SubscriptionPatch(StrictSchema):
    """PATCH /v1/subscriptions/<id>: enable again (after fixing the receiver) or pause."""

    enabled = fields.Boolean(required=True)


class SubscriptionSchema(Schema):
    """A subscription (its secret is shown only when it is made)."""

    id = fields.Integer()
    kind = fields.String()
    url = fields.String()
    events = fields.List(fields.String())
    profiles = fields.List(fields.String(), allow_none=True)
    enabled = fields.Boolean()
    created_at = fields.DateTime()
    failing_since = fields.DateTime(allow_none=True)
    failures = fields.Integer(metadata={"description": "deliveries given up on"})
    disabled_at = fields.DateTime(allow_none=True)
    disabled_reason = fields.String(allow_none=True)


class SubscriptionCreatedSchema(SubscriptionSchema):
    """A new subscription, with its signing secret: shown this once, keep it."""

    secret = fields.String(metadata={"example": "whsec_..."})


class SubscriptionListSchema(Schema):
    subscriptions = fields.List(fields.Nested(SubscriptionSchema))


class SentSchema(Schema):
    """An event queued for sending."""

    event_id = fields.String()
    delivery_ids = fields.List(fields.Integer())


class DeliveryListArgs(StrictSchema):
    """GET /v1/deliveries query: newest first, `before` a delivery id for the next page."""

    subscription = fields.Integer(load_default=None, validate=ID_RANGE)
    status = fields.String(load_default=None, validate=validate.OneOf(models.DELIVERY_STATUSES))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=LIST_LIMIT))
    before = fields.Integer(load_default=None, validate=ID_RANGE)


class DeliverySchema(Schema):
    """One event to one subscription, and how sending it went."""

    id = fields.Integer()
    subscription_id = fields.Integer()
    event_id = fields.Function(lambda d: d.event.uid)
    event_type = fields.Function(lambda d: d.event.type)
    profile_id = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "pending, delivered or failed"})
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime(allow_none=True)
    last_status = fields.Integer(allow_none=True, metadata={"description": "receiver's HTTP"})
    last_error = fields.String(allow_none=True)
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)


class DeliveryListSchema(Schema):
    deliveries = fields.List(fields.Nested(DeliverySchema))
    next_before = fields.Integer(allow_none=True)


class BulkRetryInput(StrictSchema):
    """POST /v1/deliveries/retry: failed deliveries since `since` (of one subscription),
    oldest first, `limit` a call, the page after delivery id `after`."""

    since = fields.AwareDateTime(required=True, metadata={"example": "2026-12-09T08:00:00Z"})
    subscription = fields.Integer(load_default=None, validate=ID_RANGE)
    limit = fields.Integer(
        load_default=delivery_log.RETRY_PAGE,
        validate=validate.Range(min=1, max=delivery_log.MAX_RETRY_PAGE),
    )
    after = fields.Integer(load_default=None, validate=ID_RANGE)


class RetriedSchema(Schema):
    """The deliveries put back to pending, and where the next page starts (null: none)."""

    retried = fields.List(fields.Integer())
    next_after = fields.Integer(allow_none=True)


class EventListArgs(StrictSchema):
    """GET /v1/events: newest first."""

    type = fields.String(load_default=None, validate=validate.OneOf(events.TYPES))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class EventSchema(Schema):
    """An event exactly as subscribers receive it (flat fields in `data`)."""

    id = fields.String()
    type = fields.String()
    timestamp = fields.String()
    account = fields.String(allow_none=True)
    profile = fields.Dict(allow_none=True)
    sequence = fields.Integer(allow_none=True, metadata={"description": "per profile"})
    data = fields.Dict()


class EventListSchema(Schema):
    events = fields.List(fields.Nested(EventSchema))


class ZapierSubscribeInput(Schema):
    """Zapier's REST Hooks subscribe body (`hookUrl`, `event`); other fields it sends are
    ignored."""

    class Meta:
        unknown = EXCLUDE

    hook_url = fields.String(
        data_key="hookUrl", required=True, validate=validate.Length(min=1, max=2000)
    )
    event = fields.String(load_default=events.EVERY, validate=validate.OneOf(EVENT_CHOICES))


class ZapierSubscribedSchema(Schema):
    """A new REST hook: `id` unsubscribes it; `secret` signs its deliveries (Standard
    Webhooks headers) and is shown this once."""

    id = fields.Integer()
    event = fields.String()
    secret = fields.String(metadata={"example": "whsec_..."})


class ZapierSampleArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    event = fields.String(load_default=None, validate=validate.OneOf(EVENT_CHOICES))
