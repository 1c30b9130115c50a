"""/v1/accounts: the Buffer accounts behind the bridge, which API each uses, and whether it
can still change posting schedules (Buffer retires v1 on BUFFER_V1_SUNSET)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from bridge import accounts
from bridge.api.schemas import AccountListSchema
from bridge.web.caller import current_client, services

blp = Blueprint("accounts", __name__, url_prefix="/v1/accounts", description="Buffer accounts")


@blp.route("")
class AccountList(MethodView):
    @blp.response(200, AccountListSchema)
    def get(self) -> dict[str, Any]:
        """Each account: its API (`v1`, `graphql`, `both`), whether it can read and write
        schedules and why not, its organizations and profile count, and the v1 sunset date
        with the days left. A scoped client sees only the accounts of its profiles."""
        return {"accounts": accounts.overview(services(), current_client())}
