"""API clients: tokens (only their hash is stored), scopes, and the checks on them."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge import models, profiles
from bridge.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
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
) -> tuple[models.ApiClient, str]:
    """Create a client; returns it and its token (shown once, never stored)."""
    name = name.strip()
    if not name or len(name) > 128 or not name.isprintable():
        raise InvalidInput("a client name of 1 to 128 printable characters is required", "name")
    if session.scalars(select(models.ApiClient).where(models.ApiClient.name == name)).first():
        raise Conflict(f"a client named {name!r} already exists")
    refs = [profiles.check_ref(ref, "profiles") for ref in profile_refs or [] if ref.strip()]
    token = new_token()
    client = models.ApiClient(
        name=name,
        token_hash=hash_token(token),
        profiles=refs or None,
        read_only=read_only,
        signing_secret=new_signing_secret() if signing_secret else None,
        slack_team=slack_team or None,
        slack_channel=slack_channel or None,
        slack_user=slack_user or None,
        mattermost_token_hash=hash_token(mattermost_token) if mattermost_token else None,
    )
    session.add(client)
    session.flush()
    return client, token


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


def check_read(client: models.ApiClient, profile: models.Profile) -> None:
    """Forbidden unless the client may read `profile`."""
    if not can_see(client, profile):
        raise Forbidden(f"client {client.name!r} may not use profile {profiles.label(profile)}")


def check_write(client: models.ApiClient, profile: models.Profile | None = None) -> None:
    """Forbidden unless the client may change `profile` (or anything, when None)."""
    if client.read_only:
        raise Forbidden(f"client {client.name!r} is read-only")
    if profile is not None:
        check_read(client, profile)


def scopes(client: models.ApiClient) -> dict[str, object]:
    """The client's scopes, for /v1/me and `bridge clients list`."""
    return {"profiles": client.profiles or "all", "read_only": client.read_only}
