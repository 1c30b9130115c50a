"""Zapier: `POST /hooks/zapier` ("Webhooks by Zapier" POST, PUT or Custom Request).

JSON or form bodies, flattened or not; the token as `Authorization: Bearer`,
`X-Bridge-Token`, or in the path (`/hooks/zapier/<token>`) for Zaps that cannot set
headers. Set-up for users: docs/zapier.md.
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask_smorest import Blueprint

from bridge.hooks import body, webhook
from bridge.web.caller import authenticate_first

blp = Blueprint("zapier", __name__, url_prefix="/hooks/zapier", description="Zapier webhooks")
authenticate_first(blp, webhook.authenticated, json_only=False)  # forms and text too


@blp.route("", methods=["POST", "PUT"])
@blp.route("/<token>", methods=["POST", "PUT"], endpoint="with_token")
@webhook.documented(blp)
def zapier(token: str | None = None) -> Any:
    """Change a schedule from a Zap; `?wait=N` (up to 25 s) answers with the outcome."""
    client = webhook.authenticated()
    return webhook.handle("zapier", body.read(request), client)
