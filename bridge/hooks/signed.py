"""Signed webhooks: `POST /hooks/signed`, the Standard Webhooks scheme.

`webhook-id`, `webhook-timestamp` and `webhook-signature` headers; HMAC-SHA256 over
`id.timestamp.body` with the client's `whsec_` secret (`bridge clients create NAME
--signing-secret`); several signatures may be sent while a secret is rotated. The
`standardwebhooks` library checks them with a 5 minute tolerance. A `webhook-id`
answered before gets that first answer back and changes nothing.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from flask_smorest import Blueprint
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from bridge import jobs, models
from bridge.api.common import error_body, services
from bridge.errors import BridgeError, Forbidden, InvalidInput, Unauthorized
from bridge.hooks import body, webhook

blp = Blueprint(
    "signed", __name__, url_prefix="/hooks/signed", description="Standard Webhooks (signed)"
)
REPLAY_HEADER = "Webhook-Replayed"
MAX_WEBHOOK_ID = 255


def verify(client: models.ApiClient, raw: bytes) -> str:
    """Check the signature headers against the raw body; the webhook id, or 401."""
    if not client.signing_secret:
        raise Forbidden(
            f"client {client.name!r} has no signing secret (bridge clients create NAME "
            "--signing-secret)"
        )
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        Webhook(client.signing_secret).verify(raw, headers, json_parse=False)
    except WebhookVerificationError as error:
        raise Unauthorized(f"webhook signature not accepted: {error}") from None
    except ValueError:  # a malformed signature header: base64, separators, encoding
        raise Unauthorized("webhook signature not accepted: malformed webhook-signature") from None
    webhook_id = headers["webhook-id"]
    if len(webhook_id) > MAX_WEBHOOK_ID or not webhook_id.isprintable():
        raise InvalidInput(f"must be at most {MAX_WEBHOOK_ID} printable characters", "webhook-id")
    return webhook_id


def replayed(client: models.ApiClient, webhook_id: str) -> Response | None:
    """The first answer to this webhook id, if it was seen before."""
    seen = jobs.delivery(services(), client.id, webhook_id)
    if seen is None:
        return None
    response = jsonify(seen.response)
    response.status_code = seen.status
    response.headers[REPLAY_HEADER] = "true"
    job_link = seen.response.get("links", {}).get("job") if seen.status == 202 else None
    if job_link:
        response.headers["Location"] = job_link
    return response


def _error_answer(error: BridgeError) -> tuple[int, dict[str, Any]]:
    """The status and body the error handler will send for `error`."""
    status = error.http_status if error.http_status != 500 else 502
    errors = error.errors() if isinstance(error, InvalidInput) else None
    return status, error_body(status, error.message, errors)


@blp.route("", methods=["POST"])
@blp.route("/<token>", methods=["POST"], endpoint="with_token")
@blp.doc(responses={"202": {"description": "Accepted: a job"}})
def signed(token: str | None = None) -> Response:
    """Change a schedule from a signed webhook (JSON body, Standard Webhooks headers)."""
    client = webhook.authenticated()
    raw = request.get_data(cache=True)
    webhook_id = verify(client, raw)
    first = replayed(client, webhook_id)
    if first is not None:
        return first
    try:
        data = body.parse_json(body.decode(raw))  # Standard Webhooks payloads are JSON
        # the webhook id doubles as the idempotency key: two racing deliveries make one job
        data.setdefault("idempotency_key", f"webhook:{webhook_id}")
        response = webhook.handle("signed", body.lift(data), client)
    except BridgeError as error:
        status, answer = _error_answer(error)
        if status < 500:  # an outage is not an answer: the sender's retry should try again
            jobs.remember_delivery(services(), client.id, webhook_id, status, answer)
        raise
    if response.status_code < 500:
        payload = response.get_json()
        jobs.remember_delivery(services(), client.id, webhook_id, response.status_code, payload)
    return response
