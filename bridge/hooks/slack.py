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

from flask import Response, request
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, fields, validate
from slack_sdk.signature import SignatureVerifier

from bridge import identity
from bridge.errors import BridgeError, ServiceUnavailable, Unauthorized
from bridge.hooks import chat
from bridge.hooks.chat import ChatMessageSchema, ResponseUrl, doc, ephemeral, load_form
from bridge.web import replay
from bridge.web.caller import services

# slack_sdk accepts a timestamp up to 5 minutes either side of now: remember that long
REPLAY_MEMORY = 2 * 5 * 60
blp = Blueprint("slack", __name__, url_prefix="/chat/slack", description="Slack slash commands")
# Slack's link markup: <@U123|brand>, <#C123|general>, <https://x|label>, <https://x>.
# No class may cross a '<': each match attempt then stops at the next one, so a text
# of many unclosed '<@U1|' scans linearly instead of once per '<' to the end.
_MENTION = re.compile(r"<@[A-Z0-9]+\|([^<>]+)>")
_LINK = re.compile(r"<[^<>|]+\|([^<>]+)>|<([^<>|]+)>")


class SlashCommandSchema(Schema):
    """The form Slack posts for a slash command; fields we do not use are ignored."""

    class Meta:
        unknown = EXCLUDE

    team_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    channel_id = fields.String(load_default=None)
    user_id = fields.String(load_default=None)
    command = fields.String(load_default="/buffer")
    text = fields.String(load_default="")
    response_url = ResponseUrl(kind="slack", load_default=None)


def verify() -> None:
    """401 unless Slack signed this raw body within the last 5 minutes; 503 without a secret."""
    secret = services().settings.slack_signing_secret
    if not secret:
        raise ServiceUnavailable("Slack commands are off: set SLACK_SIGNING_SECRET to enable them")
    raw = request.get_data(cache=True)  # the exact bytes Slack signed, before any parsing
    signature = request.headers.get("X-Slack-Signature", "")
    stamp = request.headers.get("X-Slack-Request-Timestamp", "")
    if not (signature.isascii() and stamp.isascii()):  # hmac cannot compare them: not Slack's
        raise Unauthorized("the Slack signature is missing, wrong or older than 5 minutes")
    try:
        valid = SignatureVerifier(secret).is_valid_request(raw, dict(request.headers))
    except (ValueError, TypeError):  # a timestamp that is not a number, a body not UTF-8
        valid = False
    if not valid:
        raise Unauthorized("the Slack signature is missing, wrong or older than 5 minutes")


def plain_text(text: str) -> str:
    """Slack's escaped text as typed: entities decoded, mentions and links unwrapped."""
    text = _MENTION.sub(r"@\1", text)
    text = _LINK.sub(lambda m: m.group(1) or m.group(2), text)
    return html.unescape(text)


@blp.route("", methods=["POST"])
@blp.response(200, ChatMessageSchema)
@blp.doc(**doc(SlashCommandSchema))
def slack() -> Response:
    """Run a slash command; a change answers 'Queued' and its outcome follows (409 for a
    signed request seen before: a replay)."""
    verify()
    signature = request.headers.get("X-Slack-Signature", "").encode("utf-8", "replace")
    replay.check_first(services(), "slack", signature, REPLAY_MEMORY)
    if request.form.get("ssl_check"):
        return Response(status=200)  # Slack checking the certificate: nothing to run
    form = load_form(SlashCommandSchema())
    try:
        client = identity.by_slack(services(), form["team_id"], form["channel_id"], form["user_id"])
    except BridgeError as error:
        return ephemeral(f"Sorry: {error.message}")
    return ephemeral(chat.reply(plain_text(form["text"]), client, "slack", form["response_url"]))
