"""Who is calling: the process's services, the bearer token, the authenticated client."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request

from bridge import auth, jobs, models
from bridge.errors import InvalidInput
from bridge.services import Services
from bridge.web import limits


def services() -> Services:
    """The process's Services, built by create_app()."""
    return current_app.extensions["bridge"]


def bearer_token() -> str | None:
    """The client token from `Authorization: Bearer` or `X-Bridge-Token`, if either is sent."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("X-Bridge-Token") or None


def current_client(token: str | None = None) -> models.ApiClient:
    """The client this request authenticates as (`token`, else the bearer token).

    Raises Unauthorized (401) without a valid, unrevoked token, TooManyRequests (429) over
    the client's rate limit (counted once per request). Cached for the request."""
    if "api_client" not in g:
        with services().db.session() as session:
            g.api_client = auth.authenticate(session, token or bearer_token())
        g.client_name = g.api_client.name
        limits.check_client_rate(services(), g.api_client)
    return g.api_client


def idempotency_key(body_key: Any = None) -> str | None:
    """The `Idempotency-Key` header, else a key sent in the body; None when neither.

    Raises InvalidInput (422) for a key that is not a short printable string."""
    key = request.headers.get("Idempotency-Key") or body_key
    if key is not None and not isinstance(key, str):
        raise InvalidInput("must be a string", "idempotency_key")
    return jobs.check_idempotency_key(key)
