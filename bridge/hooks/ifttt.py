"""IFTTT: `POST /hooks/ifttt` (the "Make a web request" action of Webhooks).

The body is whatever the user typed: JSON, a form, or plain text in the chat grammar.
Applets built on IFTTT's `value1`..`value3` ingredients map by convention:
value1 = profile, value2 = days, value3 = times; with `action: post`, value1 = profile,
value2 = text, value3 = when. Set-up for users: docs/ifttt.md.
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask_smorest import Blueprint

from bridge.hooks import body, webhook
from bridge.web.caller import authenticate_first

blp = Blueprint("ifttt", __name__, url_prefix="/hooks/ifttt", description="IFTTT webhooks")
authenticate_first(blp, webhook.authenticated, json_only=False)  # forms and text too
VALUES = {"value1": "profile", "value2": "days", "value3": "times"}
POST_VALUES = {"value1": "profile", "value2": "text", "value3": "when"}


def map_values(data: dict[str, Any]) -> dict[str, Any]:
    """IFTTT's value1..3 as profile, days, times, or for a post profile, text, when (named
    fields win when both are sent)."""
    mapped = dict(data)
    names = POST_VALUES if webhook.is_post(data) else VALUES
    for value, name in names.items():
        if value in data:
            mapped.setdefault(name, data[value])
    return mapped


@blp.route("", methods=["POST", "PUT"])
@blp.route("/<token>", methods=["POST", "PUT"], endpoint="with_token")
@webhook.documented(blp)
def ifttt(token: str | None = None) -> Any:
    """Change a schedule from an IFTTT applet."""
    client = webhook.authenticated()
    return webhook.handle("ifttt", map_values(body.read(request)), client)
