"""Issue 9 item 3 (reads cannot spend the account's Buffer budget) and the Redis-down part
of item 9 (reads answer from the cache, marked stale, instead of 500)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from bridge import create_app
from bridge.config import RateLimit
from bridge.ratelimit import RateLimiter, token_key
from bridge.services import Services
from bridge.sync import CALLS_PER_SYNC
from tests.conftest import (
    DOCS_PROFILE,
    PATCH_URL,
    SANDBOX_TOKEN,
    free_port,
    job_done,
    make_client,
    make_settings,
)


def slots_used(services: Services) -> int:
    """Buffer slots taken in the current window of the sandbox token."""
    return int(services.redis.zcard(token_key(SANDBOX_TOKEN)))


def test_reads_leave_the_write_reserve_to_syncs(redis_url: str) -> None:
    limiter = RateLimiter(redis.Redis.from_url(redis_url), RateLimit(5, 30.0), reserve=2)
    assert [limiter.acquire_read("tok") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire_read("tok") > 0  # only the reserve is left: no read
    assert limiter.acquire("tok", 2) == 0.0  # a sync takes the reserve


def test_a_read_only_client_cannot_spend_the_sync_budget(client, services) -> None:
    """The review's run: 70 refreshes and 70 schedule reads by a read-only client scoped
    to one profile. Afterwards a sync still gets its slots at once."""
    reader = make_client(services, "reader", profile_refs=["@skinnyoteam"], read_only=True)
    for _ in range(70):
        assert client.get("/v1/profiles?refresh=1", headers=reader).status_code == 200
        assert client.get(PATCH_URL, headers=reader).status_code == 200
    assert slots_used(services) <= 3  # one refresh, the cache fill, one live read
    assert services.limiter.acquire(SANDBOX_TOKEN, CALLS_PER_SYNC) == 0.0


def test_refresh_is_throttled_per_account(client, auth_headers, services) -> None:
    first = client.get("/v1/profiles?refresh=1", headers=auth_headers)
    used = slots_used(services)
    second = client.get("/v1/profiles?refresh=1", headers=auth_headers)
    assert slots_used(services) == used  # refreshed moments ago: the cache is that fresh
    assert second.get_json() == first.get_json()
    assert second.get_json()["stale"] is False


def test_live_schedules_are_cached_until_the_bridge_writes(
    client, auth_headers, services, celery_worker
) -> None:
    first = client.get(PATCH_URL, headers=auth_headers).get_json()
    used = slots_used(services)
    again = client.get(PATCH_URL, headers=auth_headers).get_json()
    assert slots_used(services) == used and again == first and again["stale"] is False
    change = client.patch(PATCH_URL, json={"days": "sun", "times": ["04:44"]}, headers=auth_headers)
    assert job_done(client, auth_headers, change.get_json()["job_id"])["status"] == "succeeded"
    after = client.get(PATCH_URL, headers=auth_headers).get_json()
    assert after["stale"] is False
    assert after["week"]["sun"] == ["04:44"]  # the write made the cached read unreachable


@pytest.mark.parametrize("extra_settings", [{"CLIENT_RATE_LIMIT": "5/60s"}])
def test_each_client_is_rate_limited_with_retry_after(client, services) -> None:
    greedy = make_client(services, "greedy")
    other = make_client(services, "other")
    answers = [client.get("/v1/me", headers=greedy) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    limited = answers[-1]
    assert limited.get_json()["code"] == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 61
    assert client.get("/v1/me", headers=other).status_code == 200  # per client


# ---- Redis down (item 9, part) -----------------------------------------------------------


@pytest.fixture
def redis_down_client(settings, services, client, auth_headers) -> Iterator[tuple[Any, Any]]:
    """A second app on the same (filled) store whose Redis does not answer."""
    assert client.get("/v1/profiles", headers=auth_headers).status_code == 200  # fill the cache
    down = make_settings(**{**settings.environ, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    down_services = Services(down)
    yield create_app(down, down_services).test_client(), auth_headers
    down_services.close()


def test_redis_down_schedules_are_served_from_the_cache_marked_stale(redis_down_client) -> None:
    client, headers = redis_down_client
    response = client.get(PATCH_URL, headers=headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["stale"] is True and "unavailable" in body["stale_reason"]
    assert body["profile_id"] == DOCS_PROFILE


def test_redis_down_refresh_answers_the_cache_marked_stale(redis_down_client) -> None:
    client, headers = redis_down_client
    response = client.get("/v1/profiles?refresh=1", headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["stale"] is True
    assert response.get_json()["profiles"]


def test_redis_down_unknown_ref_is_404(redis_down_client) -> None:
    client, headers = redis_down_client
    response = client.get("/v1/profiles/@nobody-here/schedules", headers=headers)
    assert response.status_code == 404, response.get_json()
