"""Who a request comes from, read through the service layer: a client token, a Slack
user, a Mattermost command token, a dashboard session. Each opens its own short session,
so the adapters (bridge/api, bridge/hooks, bridge/ui) never open one; the rules
themselves are bridge/auth.py's."""

from __future__ import annotations

import hmac

from sqlalchemy import update

from bridge import auth, models
from bridge.services import Services


def by_token(services: Services, token: str | None) -> models.ApiClient:
    """The live client of a client token; Unauthorized otherwise."""
    with services.db.session() as session:
        return auth.authenticate(session, token)


def by_slack(
    services: Services, team: str, channel: str | None, user: str | None
) -> models.ApiClient:
    """The client a Slack command acts as (auth.by_slack)."""
    with services.db.session() as session:
        return auth.by_slack(session, team, channel, user)


def by_mattermost(services: Services, token: str | None) -> models.ApiClient:
    """The client of a Mattermost slash-command token (auth.by_mattermost_token)."""
    with services.db.session() as session:
        return auth.by_mattermost_token(session, token)


def dashboard_client(
    services: Services, client_id: int, token_hash: str, generation: object
) -> models.ApiClient | None:
    """The client a dashboard session signed in as, while it is live with the same token
    and not signed out since (None otherwise)."""
    with services.db.session() as session:
        client = session.get(models.ApiClient, client_id)
    if (
        client is None
        or client.revoked
        or not hmac.compare_digest(client.token_hash, token_hash)
        or generation != client.ui_session  # signed out since (this cookie or a copy)
    ):
        return None
    return client


def end_dashboard_sessions(services: Services, client_id: int) -> None:
    """Sign every dashboard session of the client out, and any copy of their cookies."""
    table = models.ApiClient
    with services.db.session() as session:
        # one UPDATE (not read, add, write): two sign-outs at once both count
        session.execute(
            update(table).where(table.id == client_id).values(ui_session=table.ui_session + 1)
        )
