"""Slack: `POST /chat/slack`, the slash command (e.g. `/buffer set @brand weekdays 9am 5pm`).

The signature (`X-Slack-Signature`, `X-Slack-Request-Timestamp`) is checked over the
raw body with slack_sdk's verifier (5 minute tolerance) before the form is read. The
answer is an ephemeral message within Slack's 3 seconds; the outcome of a change is
posted to `response_url` by a worker when the job ends. The Slack team (optionally
channel or user) maps to an API client, whose scopes the command carries.
Set-up for users: docs/slack.md.
"""

from __future__ import annotations

import html
import re
from typing import Any

from flask import Response, jsonify, request
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate
from slack_sdk.signature import SignatureVerifier

from bridge import auth
from bridge.api.common import services
from bridge.errors import BridgeError, ServiceUnavailable, Unauthorized
from bridge.hooks import changes, chat

blp = Blueprint("slack", __name__, url_prefix="/chat/slack", description="Slack slash commands")
# Slack's link markup: <@U123|brand>, <#C123|general>, <https://x|label>, <https://x>
_MENTION = re.compile(r"<@[A-Z0-9]+\|([^>]+)>")
_LINK = re.compile(r"<[^<>|]+\|([^<>]+)>|<([^<>|]+)>")


class ResponseUrl(fields.Url):
    """A follow-up URL: http(s), any host (Slack's, or a local receiver in tests)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(require_tld=False, schemes={"http", "https"}, **kwargs)


class SlashCommandSchema(Schema):
    """The form Slack posts for a slash command; fields we do not use are ignored."""

    class Meta:
        unknown = EXCLUDE

    team_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    channel_id = fields.String(load_default=None)
    user_id = fields.String(load_default=None)
    command = fields.String(load_default="/buffer")
    text = fields.String(load_default="")
    response_url = ResponseUrl(load_default=None)


def load_form(schema: Schema) -> dict[str, Any]:
    """The request's form through `schema` (422 naming the field)."""
    try:
        return dict(schema.load(request.form.to_dict()))
    except ValidationError as error:
        raise changes.InvalidBody(dict(error.messages)) from None  # type: ignore[arg-type]


def verify() -> None:
    """401 unless Slack signed this raw body within the last 5 minutes; 503 without a secret."""
    secret = services().settings.slack_signing_secret
    if not secret:
        raise ServiceUnavailable("Slack commands are off: set SLACK_SIGNING_SECRET to enable them")
    raw = request.get_data(cache=True)  # the exact bytes Slack signed, before any parsing
    try:
        valid = SignatureVerifier(secret).is_valid_request(raw, dict(request.headers))
    except ValueError:  # a timestamp that is not a number, a body that is not UTF-8
        valid = False
    if not valid:
        raise Unauthorized("the Slack signature is missing, wrong or older than 5 minutes")


def plain_text(text: str) -> str:
    """Slack's escaped text as typed: entities decoded, mentions and links unwrapped."""
    text = _MENTION.sub(r"@\1", text)
    text = _LINK.sub(lambda m: m.group(1) or m.group(2), text)
    return html.unescape(text)


def ephemeral(text: str) -> Response:
    """A message only the person who typed the command sees."""
    return jsonify({"response_type": "ephemeral", "text": text})


@blp.route("", methods=["POST"])
@blp.doc(responses={"200": {"description": "An ephemeral Slack message"}})
def slack() -> Response:
    """Run a slash command; a change answers 'Queued' and its outcome follows."""
    verify()
    if request.form.get("ssl_check"):
        return Response(status=200)  # Slack checking the certificate: nothing to run
    form = load_form(SlashCommandSchema())
    try:
        with services().db.session() as session:
            client = auth.by_slack(session, form["team_id"], form["channel_id"], form["user_id"])
    except BridgeError as error:
        return ephemeral(f"Sorry: {error.message}")
    return ephemeral(chat.reply(plain_text(form["text"]), client, "slack", form["response_url"]))
