"""Who is calling: the process's services, the bearer token, the authenticated client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, g, request

from bridge import jobs, models
from bridge.errors import InvalidInput
from bridge.services import Services
from bridge.web import limits
from bridge.web.request import check_json_content_type, check_request_json


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
        # kept per process while no client changes (bridge/client_cache.py)
        g.api_client = services().clients.authenticate(token or bearer_token())
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


def authenticate_first(
    blueprint: Blueprint,
    find_client: Callable[[], models.ApiClient] = current_client,
    json_only: bool = True,
) -> None:
    """Authenticate every request of `blueprint` from its headers (or path token) before
    its view runs, so no body is read or parsed (flask-smorest's `@blp.arguments` parses
    before the view) for a caller without a valid token; then refuse a body not sent as
    JSON (`json_only`: REST; webhooks also take forms and text) and JSON nested too deep.

    Raises Unauthorized (401) without a valid token, UnsupportedMediaType (415) for a
    body that is not JSON, MalformedBody (400) for JSON nested too deep."""

    def before() -> None:
        if request.method == "OPTIONS":
            return
        find_client()
        if json_only:
            check_json_content_type()
        check_request_json()

    blueprint.before_request(before)
