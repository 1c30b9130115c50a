"""Mattermost: `POST /chat/mattermost`, a custom slash command.

Mattermost has no request signature; it sends the slash command's token (in the form
and, in recent versions, as `Authorization: Token ...`). That token, hashed, maps to
an API client (`bridge clients create NAME --mattermost-token TOKEN`). Otherwise the
flow is Slack's: an ephemeral answer at once, the outcome later via `response_url`.
"""

from __future__ import annotations

import json

from flask import Response, request
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, fields

from bridge import identity
from bridge.hooks import chat
from bridge.hooks.chat import ChatMessageSchema, ResponseUrl, doc, ephemeral, load_form
from bridge.web import replay
from bridge.web.caller import services

# Mattermost puts no time in a request: a replay is refused for this long (each command
# carries a fresh trigger_id, so a user repeating a command is not one)
REPLAY_MEMORY = 60 * 60
blp = Blueprint(
    "mattermost", __name__, url_prefix="/chat/mattermost", description="Mattermost slash commands"
)


class MattermostCommandSchema(Schema):
    """The form Mattermost posts for a slash command; fields we do not use are ignored."""

    class Meta:
        unknown = EXCLUDE

    token = fields.String(load_default=None)
    team_id = fields.String(load_default=None)
    channel_id = fields.String(load_default=None)
    user_id = fields.String(load_default=None)
    command = fields.String(load_default="/buffer")
    text = fields.String(load_default="")
    response_url = ResponseUrl(load_default=None)


def command_token(form_token: str | None) -> str | None:
    """The slash command's token: the `Authorization: Token` header, else the form field."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "token" and value.strip():
        return value.strip()
    return form_token


@blp.before_request
def _header_token_first() -> None:
    """A token sent as `Authorization: Token` is checked before the form is read (401
    without reading it). A token sent only in the form can be checked only after."""
    token = command_token(None)
    if token is not None:
        identity.by_mattermost(services(), token)


@blp.route("", methods=["POST"])
@blp.response(200, ChatMessageSchema)
@blp.doc(**doc(MattermostCommandSchema))
def mattermost() -> Response:
    """Run a slash command (401 when the token is not a linked client's, 409 for a request
    seen before: a replay)."""
    form = load_form(MattermostCommandSchema())
    token = command_token(form["token"])
    client = identity.by_mattermost(services(), token)
    seen = json.dumps([token, sorted(request.form.items(multi=True))]).encode()
    replay.check_first(services(), "mattermost", seen, REPLAY_MEMORY)
    return ephemeral(chat.reply(form["text"], client, "mattermost", form["response_url"]))
