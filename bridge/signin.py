"""One-time sign-in codes for the dashboard: `bridge dev` prints a link with one, so a new
user is signed in by opening it, without pasting a token.

A code is random (256 bits), good for CODE_TTL seconds and for one use, and only its
SHA-256 is kept (in Redis, with the client's id and token hash): reading Redis does not
give a usable link, and a code whose client was revoked (or given a new token) since
signs nobody in.

Opening a link only looks a code up (`peek`); a POST from the page it shows spends it
(`redeem`), so a link-preview bot, a mail scanner or a HEAD request never uses it up.
"""

from __future__ import annotations

import hmac
import json
import secrets

import redis

from bridge import auth, models
from bridge.errors import ServiceUnavailable, Unauthorized
from bridge.services import Services

CODE_TTL = 600  # seconds a sign-in link works
MAX_CODE = 128  # characters; longer is refused before any hashing or lookup
_KEY = "bridge:ui-signin:"


def issue(services: Services, client: models.ApiClient) -> str:
    """A fresh one-time code that signs in as `client` (an unrevoked, stored client)."""
    code = secrets.token_urlsafe(32)
    value = json.dumps({"client_id": client.id, "token_hash": client.token_hash})
    services.redis.set(_KEY + auth.hash_token(code), value, ex=CODE_TTL)
    return code


def peek(services: Services, code: str) -> models.ApiClient:
    """The client a code would sign in as, leaving the code unspent; raises as `redeem`."""
    key = _key(code)
    try:
        raw = services.redis.get(key)
    except redis.RedisError:
        raise _redis_down() from None
    return _client_of(services, raw)


def redeem(services: Services, code: str) -> models.ApiClient:
    """The client a code signs in as; the code is spent whatever the outcome.

    Raises Unauthorized for a malformed, unknown, used or expired code, and for a client
    revoked or given another token since the code was made; ServiceUnavailable without
    Redis."""
    key = _key(code)
    try:
        pipe = services.redis.pipeline(transaction=True)  # read and delete at once: one use
        pipe.get(key)
        pipe.delete(key)
        raw, _deleted = pipe.execute()
    except redis.RedisError:
        raise _redis_down() from None
    return _client_of(services, raw)


def _key(code: str) -> str:
    """The Redis key of a well-formed code; Unauthorized for a malformed one."""
    if not code or len(code) > MAX_CODE or not code.isascii() or not code.isprintable():
        raise Unauthorized("this sign-in link is not valid")
    return _KEY + auth.hash_token(code)


def _redis_down() -> ServiceUnavailable:
    """What a person is told when Redis, where the codes live, cannot be reached."""
    return ServiceUnavailable(
        "sign-in links need Redis, which is unavailable; sign in with the token"
    )


def _client_of(services: Services, raw: bytes | str | None) -> models.ApiClient:
    """The live client a stored code names; Unauthorized when none is stored or the
    client was revoked or given another token since."""
    if raw is None:
        raise Unauthorized("this sign-in link was used already or has expired")
    found = json.loads(raw)
    with services.db.session() as session:
        client = session.get(models.ApiClient, int(found["client_id"]))
    if (
        client is None
        or client.revoked
        or not hmac.compare_digest(client.token_hash, str(found["token_hash"]))
    ):
        raise Unauthorized("the client of this sign-in link has been revoked")
    return client
