"""/v1/me: who the caller is (the authentication test of a Zapier app)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from bridge import auth
from bridge.api.schemas import MeSchema
from bridge.web.caller import authenticate_first, current_client, services

blp = Blueprint("me", __name__, url_prefix="/v1/me", description="The caller")
authenticate_first(blp)


@blp.route("")
class Me(MethodView):
    @blp.response(200, MeSchema)
    def get(self) -> dict[str, Any]:
        """The client's name, scopes and the Buffer accounts behind the bridge."""
        client = current_client()
        return {
            "client": client.name,
            "scopes": auth.scopes(client),
            "accounts": services().settings.account_names(),
            "signed_webhooks": client.signing_secret is not None,
        }
