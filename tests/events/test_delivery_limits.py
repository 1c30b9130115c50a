"""Issue 20: outbound deliveries cannot be turned into bursts. Pings to a disabled
subscription are refused (nothing stored to release later), pings have a tight limit per
client, and a bulk retry puts back one page at a time, never pings."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from bridge import events, models
from bridge.events import delivery_log, outbound
from bridge.models import utcnow
from bridge.services import Services
from tests.events.conftest import SignedReceiver, pending, subscribe


@pytest.fixture
def extra_settings() -> dict[str, str]:
    return {"OUTBOUND_ALLOW_PRIVATE": "true", "PING_RATE_LIMIT": "3/60s"}


def test_a_ping_to_a_disabled_subscription_is_refused_and_nothing_is_stored(
    client: Any, auth_headers: Any, services: Services, signed_receiver: SignedReceiver
) -> None:
    subscription = subscribe(client, auth_headers, signed_receiver)
    off = client.patch(
        f"/v1/subscriptions/{subscription}", json={"enabled": False}, headers=auth_headers
    )
    assert off.status_code == 200
    refused = client.post(f"/v1/subscriptions/{subscription}/test", headers=auth_headers)
    assert refused.status_code == 409
    assert refused.get_json()["message"] == (
        f"subscription {subscription} is disabled (disabled by its client): nothing is sent "
        "to it; enable it first (PATCH with enabled true)"
    )
    with services.db.session() as session:
        assert session.query(models.EventDelivery).count() == 0
        assert session.query(models.Event).count() == 0


def test_pings_have_a_tight_limit_per_client(
    client: Any, auth_headers: Any, services: Services, signed_receiver: SignedReceiver
) -> None:
    subscription = subscribe(client, auth_headers, signed_receiver)
    answers = [
        client.post(f"/v1/subscriptions/{subscription}/test", headers=auth_headers)
        for _ in range(4)
    ]
    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    assert answers[-1].get_json()["message"].startswith("ping limit of 3/60s per client")
    assert int(answers[-1].headers["Retry-After"]) >= 1
    assert len(pending(services)) == 3


def _failed_deliveries(services: Services, subscription: int, count: int, type_: str) -> None:
    """`count` failed deliveries of `type_` events to the subscription, finished now."""
    with services.db.session() as session:
        for _ in range(count):
            event = events.emit(session, type_, "default", None, {}, only=None)
            session.add(
                models.EventDelivery(
                    event_id=event.id,
                    subscription_id=subscription,
                    status=models.DELIVERY_FAILED,
                    attempts=8,
                    created_at=utcnow(),
                    finished_at=utcnow(),
                )
            )
        session.info.pop(events.OUTBOX, None)


def test_bulk_retry_is_paged_and_leaves_pings_alone(
    client: Any, auth_headers: Any, services: Services, signed_receiver: SignedReceiver
) -> None:
    subscription = subscribe(client, auth_headers, signed_receiver, events=["job.failed"])
    _failed_deliveries(services, subscription, 51, events.PING)
    _failed_deliveries(services, subscription, 120, events.JOB_FAILED)
    since = (utcnow() - dt.timedelta(hours=1)).isoformat()

    first = client.post("/v1/deliveries/retry", json={"since": since}, headers=auth_headers)
    assert first.status_code == 202, first.get_json()
    page = first.get_json()
    assert len(page["retried"]) == delivery_log.RETRY_PAGE == 50
    rest: list[int] = []
    after = page["next_after"]
    while after is not None:
        answer = client.post(
            "/v1/deliveries/retry",
            json={"since": since, "after": after, "limit": 100},
            headers=auth_headers,
        ).get_json()
        rest += answer["retried"]
        after = answer["next_after"]
    assert len(page["retried"]) + len(rest) == 120
    with services.db.session() as session:
        pings = (
            session.query(models.EventDelivery)
            .join(models.Event)
            .filter(models.Event.type == events.PING)
        )
        assert {row.status for row in pings} == {models.DELIVERY_FAILED}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"after": -1}, "after"),
        ({"after": "x"}, "after"),
    ],
)
def test_bulk_retry_paging_input_is_422_naming_the_field(
    client: Any, auth_headers: Any, body: dict[str, Any], field: str
) -> None:
    since = utcnow().isoformat()
    answer = client.post(
        "/v1/deliveries/retry", json={"since": since, **body}, headers=auth_headers
    )
    assert answer.status_code == 422
    assert field in answer.get_json()["errors"]


def test_one_delivery_at_a_time_per_subscription(
    client: Any, auth_headers: Any, services: Services, signed_receiver: SignedReceiver
) -> None:
    subscription = subscribe(client, auth_headers, signed_receiver)
    client.post(f"/v1/subscriptions/{subscription}/test", headers=auth_headers)
    (delivery_id,) = pending(services)
    sending = services.redis.lock(outbound.sending_key(subscription), timeout=60)
    assert sending.acquire(blocking=False)  # another worker is sending to it
    busy = outbound.deliver(services, delivery_id)
    assert (busy.state, busy.retry_in) == (outbound.BUSY, outbound.BUSY_WAIT)
    with services.db.session() as session:
        row = session.get(models.EventDelivery, delivery_id)
        assert row is not None and row.attempts == 0 and row.status == "pending"
    sending.release()
    assert outbound.deliver(services, delivery_id).state == "delivered"


@pytest.mark.parametrize(
    ("queue", "concurrency", "argv"),
    [
        ("bridge", None, ["-Q", "bridge", "--concurrency=2"]),
        ("bridge", 4, ["-Q", "bridge", "--concurrency=4"]),
        (
            "bridge-deliveries",
            None,
            ["-Q", "bridge-deliveries", "--pool=threads", "--concurrency=8"],
        ),
    ],
)
def test_bridge_worker_runs_the_queue_it_is_given(
    queue: str, concurrency: int | None, argv: list[str]
) -> None:
    from bridge.cli.run import _pool
    from tests.conftest import make_settings

    assert _pool(make_settings(WORKER_QUEUE=queue), concurrency) == argv


def test_an_unknown_worker_queue_is_refused_naming_the_variable() -> None:
    from bridge.config import ConfigError
    from tests.conftest import make_settings

    with pytest.raises(ConfigError) as refused:
        make_settings(WORKER_QUEUE="deliveries")
    assert str(refused.value) == (
        "WORKER_QUEUE='deliveries': expected one of bridge, bridge-deliveries"
    )
