"""API clients: tokens (only their hash is stored), scopes, and the checks on them."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge import models, profiles, safehttp
from bridge.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    ProfileNotFound,
    Unauthorized,
)
from bridge.models import utcnow

TOKEN_PREFIX = "bb_"
SIGNING_SECRET_PREFIX = "whsec_"


def hash_token(token: str) -> str:
    """SHA-256 of a token: tokens are long and random, so a fast hash is enough."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh client token."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_signing_secret() -> str:
    """A fresh Standard Webhooks secret (`whsec_` + base64 of 32 random bytes)."""
    import base64

    return SIGNING_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def create_client(
    session: Session,
    name: str,
    profile_refs: Sequence[str] | None = None,
    read_only: bool = False,
    signing_secret: bool = False,
    slack_team: str | None = None,
    slack_channel: str | None = None,
    slack_user: str | None = None,
    mattermost_token: str | None = None,
    mattermost_url: str | None = None,
) -> tuple[models.ApiClient, str]:
    """Create a client; returns it and its token (shown once, never stored).

    `profile_refs` (ids, `service:username`, `@username`) are resolved against the profile
    cache and stored as profile ids, so a profile that later takes a name in scope does
    not fall into it. Raises InvalidInput naming a reference that names no profile.
    `mattermost_url` is the Mattermost server's base URL: the only place its follow-ups
    may go (InvalidInput unless http(s) with a host, no credentials, query or fragment)."""
    name = name.strip()
    if not name or len(name) > 128 or not name.isprintable():
        raise InvalidInput("a client name of 1 to 128 printable characters is required", "name")
    if session.scalars(select(models.ApiClient).where(models.ApiClient.name == name)).first():
        raise Conflict(f"a client named {name!r} already exists")
    refs = [profiles.check_ref(ref, "profiles") for ref in profile_refs or [] if ref.strip()]
    ids = list(dict.fromkeys(_scope_id(session, ref) for ref in refs))
    if mattermost_url:
        try:
            mattermost_url = safehttp.check_base_url(mattermost_url)
        except ValueError as error:
            raise InvalidInput(f"--mattermost-url: {error}", "mattermost_url") from None
    token = new_token()
    client = models.ApiClient(
        name=name,
        token_hash=hash_token(token),
        profiles=ids or None,
        read_only=read_only,
        signing_secret=new_signing_secret() if signing_secret else None,
        slack_team=slack_team or None,
        slack_channel=slack_channel or None,
        slack_user=slack_user or None,
        mattermost_token_hash=hash_token(mattermost_token) if mattermost_token else None,
        mattermost_url=mattermost_url or None,
    )
    session.add(client)
    session.flush()
    return client, token


def reissue_token(client: models.ApiClient) -> str:
    """Give `client` a fresh token and return it (shown once, never stored); the old token
    stops working, and so do the dashboard sessions signed in with it. Everything else
    the client has (scopes, subscriptions, jobs) is kept."""
    token = new_token()
    client.token_hash = hash_token(token)
    return token


def _scope_id(session: Session, ref: str) -> str:
    """The id of the cached profile `ref` names (InvalidInput naming it otherwise)."""
    try:
        return profiles.resolve(session, ref).id
    except ProfileNotFound as error:
        raise InvalidInput(
            f"{error.message}: a scope must name one known profile (refresh the cache "
            "with `bridge profiles`, or give its id)",
            "profiles",
        ) from None


def authenticate(session: Session, token: str | None) -> models.ApiClient:
    """The live client that owns `token`; Unauthorized otherwise."""
    if not token:
        raise Unauthorized("a client token is required: Authorization: Bearer <token>")
    digest = hash_token(token)
    client = session.scalars(
        select(models.ApiClient).where(models.ApiClient.token_hash == digest)
    ).first()
    if client is None or not hmac.compare_digest(client.token_hash, digest):
        raise Unauthorized("the client token is not valid")
    if client.revoked:
        raise Unauthorized("the client token has been revoked")
    return client


def revoke(session: Session, name: str) -> models.ApiClient:
    """Revoke the client `name`."""
    client = by_name(session, name)
    client.revoked_at = client.revoked_at or utcnow()
    return client


def by_name(session: Session, name: str) -> models.ApiClient:
    """The client called `name`, or NotFound."""
    client = session.scalars(select(models.ApiClient).where(models.ApiClient.name == name)).first()
    if client is None:
        raise NotFound(f"no client named {name!r}")
    return client


def listing(session: Session) -> list[models.ApiClient]:
    """Every client, oldest first."""
    return list(session.scalars(select(models.ApiClient).order_by(models.ApiClient.id)))


def can_see(client: models.ApiClient, profile: models.Profile) -> bool:
    """True when `profile` is within the client's scopes."""
    return client.profiles is None or profiles.matches(profile, client.profiles)


def can_see_id(session: Session, client: models.ApiClient, profile_id: str | None) -> bool:
    """True when the profile with `profile_id` is within the client's scopes (an account-wide
    record, with no profile, only for clients scoped to everything)."""
    if client.profiles is None:
        return True
    profile = session.get(models.Profile, profile_id) if profile_id else None
    return profile is not None and can_see(client, profile)


def visible_ids(session: Session, client: models.ApiClient) -> list[str] | None:
    """The ids of the cached profiles `client` may see; None for a client scoped to every
    profile. Lists filter on these in SQL, before their limit, so a page is never short."""
    if client.profiles is None:
        return None
    return [p.id for p in profiles.list_cached(session) if can_see(client, p)]


def check_read(client: models.ApiClient, profile: models.Profile) -> None:
    """ProfileNotFound unless the client may read `profile`: outside its scopes is
    answered as "unknown", so a scoped caller learns nothing of what else exists."""
    if not can_see(client, profile):
        raise ProfileNotFound(f"unknown profile {profile.id!r}")


def check_write(client: models.ApiClient, profile: models.Profile | None = None) -> None:
    """Forbidden unless the client may change anything (a read-only client: saying so
    reveals nothing); ProfileNotFound for a `profile` outside its scopes."""
    if client.read_only:
        raise Forbidden(f"client {client.name!r} is read-only")
    if profile is not None:
        check_read(client, profile)


def scopes(client: models.ApiClient) -> dict[str, object]:
    """The client's scopes, for /v1/me and `bridge clients list`."""
    return {"profiles": client.profiles or "all", "read_only": client.read_only}


def by_slack(
    session: Session, team: str, channel: str | None, user: str | None
) -> models.ApiClient:
    """The client a Slack command acts as: the most specific mapping (user, channel, team)."""
    query = select(models.ApiClient).where(models.ApiClient.slack_team == team)
    fitting = [
        client
        for client in session.scalars(query)
        if client.slack_channel in (None, channel) and client.slack_user in (None, user)
    ]
    if not fitting:
        raise Unauthorized(
            f"Slack team {team} is not linked to a buffer-bridge client "
            f"(bridge clients create NAME --slack-team {team})"
        )
    # a revoked specific mapping must not silently fall back to a broader one
    chosen = max(fitting, key=lambda c: (c.slack_user is not None, c.slack_channel is not None))
    if chosen.revoked:
        raise Unauthorized(f"the client {chosen.name!r} linked to this Slack team is revoked")
    return chosen


def by_mattermost_token(session: Session, token: str | None) -> models.ApiClient:
    """The live client whose Mattermost slash-command token is `token`; Unauthorized otherwise."""
    if not token:
        raise Unauthorized("the Mattermost command token is missing")
    digest = hash_token(token)
    query = select(models.ApiClient).where(models.ApiClient.mattermost_token_hash == digest)
    client = session.scalars(query).first()
    if client is None:
        raise Unauthorized("the Mattermost command token is not linked to a buffer-bridge client")
    if client.revoked:
        raise Unauthorized(f"the client {client.name!r} linked to this token is revoked")
    return client
