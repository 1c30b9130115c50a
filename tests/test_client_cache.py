"""Issue 13 (intake): bearer-token clients kept per process (bridge/client_cache.py), and
what must still hold: a revocation anywhere ends a kept token at the next request, Redis
down means the database answers, entries end after MAX_AGE, bad tokens are never kept."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from sqlalchemy import update

from bridge import auth, client_cache, models
from bridge.client_cache import ClientCache
from bridge.config import Settings
from bridge.errors import Unauthorized
from bridge.services import Services
from tests.conftest import Checkouts, free_port


def new_token(services: Services, name: str) -> str:
    with services.db.session() as session:
        _client, token = auth.create_client(session, name)
    return token


@pytest.fixture
def other_process(settings: Settings) -> Iterator[Services]:
    """Another process's Services on the same store and Redis (the CLI, another worker)."""
    other = Services(settings)
    yield other
    other.close()


def test_a_kept_token_costs_no_database_transaction(services: Services) -> None:
    token = new_token(services, "zap")
    checkouts = Checkouts(services)
    assert services.clients.authenticate(token).name == "zap"
    assert checkouts.take() == 1
    assert services.clients.authenticate(token).name == "zap"
    assert checkouts.take() == 0


def test_a_revocation_in_another_process_ends_a_kept_token_at_once(
    client: Any, services: Services, other_process: Services
) -> None:
    headers = {"Authorization": f"Bearer {new_token(services, 'zap')}"}
    assert client.get("/v1/me", headers=headers).status_code == 200  # now kept
    with other_process.db.session() as session:
        auth.revoke(session, "zap")
    refused = client.get("/v1/me", headers=headers)
    assert refused.status_code == 401
    assert refused.get_json()["message"] == "the client token has been revoked"


def test_a_change_the_generation_cannot_report_ends_within_max_age(
    services: Services, settings: Settings
) -> None:
    """A revocation written past the ORM (by hand, in SQL) bumps nothing: the entry still
    ends MAX_AGE after it was read."""
    now = [100.0]
    cache = ClientCache(services.db, services.redis, max_age=10.0, clock=lambda: now[0])
    token = new_token(services, "zap")
    cache.authenticate(token)
    with services.db.session() as session:
        session.execute(
            update(models.ApiClient)
            .values(revoked_at=models.utcnow())
            .where(models.ApiClient.name == "zap")
        )
    now[0] += 9.0
    assert cache.authenticate(token).name == "zap"  # kept, as documented
    now[0] += 1.5
    with pytest.raises(Unauthorized, match="revoked"):
        cache.authenticate(token)


def test_with_redis_down_the_database_answers_every_time(services: Services) -> None:
    # built as Services builds its client (from a URL): a refused connection fails at once
    dead = redis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.2)
    cache = ClientCache(services.db, dead)
    token = new_token(services, "zap")
    checkouts = Checkouts(services)
    for _ in range(3):
        assert cache.authenticate(token).name == "zap"
    assert checkouts.take() == 3
    with services.db.session() as session:  # the bump cannot reach Redis: only logged
        auth.revoke(session, "zap")
    with pytest.raises(Unauthorized, match="revoked"):
        cache.authenticate(token)


@pytest.mark.parametrize("token", [None, "", "not-a-token"])
def test_bad_tokens_are_refused_and_never_kept(services: Services, token: str | None) -> None:
    for _ in range(2):
        with pytest.raises(Unauthorized):
            services.clients.authenticate(token)
    assert services.clients._kept == {}


def test_at_most_max_entries_are_kept_the_oldest_go_first(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_cache, "MAX_ENTRIES", 2)
    tokens = [new_token(services, f"zap{i}") for i in range(3)]
    for token in tokens:
        services.clients.authenticate(token)
    assert list(services.clients._kept) == [auth.hash_token(t) for t in tokens[1:]]


def test_a_rolled_back_change_bumps_nothing(services: Services) -> None:
    new_token(services, "zap")
    before = services.redis.get(client_cache.GENERATION_KEY)
    with pytest.raises(RuntimeError), services.db.session() as session:
        auth.revoke(session, "zap")
        session.flush()
        raise RuntimeError("changed my mind")
    assert services.redis.get(client_cache.GENERATION_KEY) == before
