"""Signed webhooks: `POST /hooks/signed`, the Standard Webhooks scheme.

`webhook-id`, `webhook-timestamp` and `webhook-signature` headers; HMAC-SHA256 over
`id.timestamp.body` with the client's `whsec_` secret (`bridge clients create NAME
--signing-secret`); several signatures may be sent while a secret is rotated. The
`standardwebhooks` library checks them with a 5 minute tolerance. A `webhook-id`
answered before gets that first answer back and changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from typing import Any

from flask import Response, jsonify, request
from flask_smorest import Blueprint
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from bridge import models, replays
from bridge.errors import BridgeError, Forbidden, InvalidInput, Unauthorized
from bridge.hooks import body, webhook
from bridge.web.caller import authenticate_first, services
from bridge.web.errors import render
from bridge.web.schemas import AcceptedSchema

blp = Blueprint(
    "signed", __name__, url_prefix="/hooks/signed", description="Standard Webhooks (signed)"
)
authenticate_first(blp, webhook.authenticated, json_only=False)  # forms and text too
REPLAY_HEADER = "Webhook-Replayed"
MAX_WEBHOOK_ID = 255
TOLERANCE_SECONDS = 5 * 60  # the scheme's own tolerance, as the library applies it


def verify(client: models.ApiClient, raw: bytes) -> str:
    """The webhook id of a body whose signature headers hold for `client`'s secret.

    Raises Forbidden (the client has no secret), Unauthorized (a bad, old or malformed
    signature) or InvalidInput (a webhook id that is too long or not printable)."""
    if not client.signing_secret:
        raise Forbidden(
            f"client {client.name!r} has no signing secret (bridge clients create NAME "
            "--signing-secret)"
        )
    headers = {k.lower(): v for k, v in request.headers.items()}
    check_headers(headers)
    try:
        Webhook(client.signing_secret).verify(raw, headers, json_parse=False)
    except (WebhookVerificationError, ValueError):
        raise Unauthorized("webhook signature not accepted: no matching signature") from None
    webhook_id = headers["webhook-id"]
    if len(webhook_id) > MAX_WEBHOOK_ID or not webhook_id.isprintable():
        raise InvalidInput(f"must be at most {MAX_WEBHOOK_ID} printable characters", "webhook-id")
    return webhook_id


def check_headers(headers: dict[str, str]) -> None:
    """Raise Unauthorized, in the bridge's own words, for a missing, malformed or stale
    signature header. The library checks these too, but its messages change between
    releases; a caller's error text is ours to keep."""
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        if not headers.get(name):
            raise Unauthorized(f"webhook signature not accepted: missing {name} header")
    stamp = headers["webhook-timestamp"]
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        raise Unauthorized(
            "webhook signature not accepted: webhook-timestamp is not a Unix time in seconds"
        )
    age = time.time() - int(stamp)
    if age > TOLERANCE_SECONDS:
        raise Unauthorized("webhook signature not accepted: webhook-timestamp is too old")
    if age < -TOLERANCE_SECONDS:
        raise Unauthorized("webhook signature not accepted: webhook-timestamp is too new")
    if not any(_well_formed(entry) for entry in headers["webhook-signature"].split(" ")):
        raise Unauthorized("webhook signature not accepted: malformed webhook-signature")


def _well_formed(entry: str) -> bool:
    """Whether one `v1,<base64>` entry of webhook-signature is an HMAC-SHA256 signature."""
    version, _, encoded = entry.partition(",")
    if version != "v1":
        return False
    try:
        return len(base64.b64decode(encoded, validate=True)) == hashlib.sha256().digest_size
    except binascii.Error:
        return False


def replayed(client: models.ApiClient, webhook_id: str) -> Response | None:
    """The first answer to this webhook id, if it was seen before."""
    seen = replays.seen(services(), client.id, webhook_id)
    if seen is None:
        return None
    response = jsonify(seen.response)
    response.status_code = seen.status
    response.headers[REPLAY_HEADER] = "true"
    job_link = seen.response.get("links", {}).get("job") if seen.status == 202 else None
    if job_link:
        response.headers["Location"] = job_link
    return response


@blp.route("", methods=["POST"])
@blp.route("/<token>", methods=["POST"], endpoint="with_token")
@webhook.documented(blp)
def signed(token: str | None = None) -> Any:
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
        answer = webhook.handle("signed", body.lift(data), client)
    except BridgeError as error:
        status, payload, _headers = render(error)
        if status < 500:  # an outage is not an answer: the sender's retry should try again
            replays.remember(services(), client.id, webhook_id, status, payload)
        raise
    status, payload = _status_and_body(answer)
    if status < 500:
        replays.remember(services(), client.id, webhook_id, status, payload)
    return answer


def _status_and_body(answer: Any) -> tuple[int, dict[str, Any]]:
    """The status and JSON body a handler's answer will be sent with."""
    if isinstance(answer, Response):
        return answer.status_code, answer.get_json()
    payload, status, _headers = answer
    return status, AcceptedSchema().dump(payload)
