"""Outbound events: stored with the outcome, signed, retried, re-sent, ordered, guarded."""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

import pytest
import redis
import requests
import responses

from bridge import events, models, reconcile, retry, snapshots, sync
from bridge.events import outbound
from bridge.models import utcnow
from bridge.services import Services
from tests.conftest import make_settings, wait_until
from tests.events.conftest import pending, subscribe

PROFILE = "4eb854340acb04e870000010"
FAST = (0.0, 0.2, 0.2)


@pytest.fixture
def extra_settings() -> dict[str, str]:
    return {"OUTBOUND_ALLOW_PRIVATE": "true"}


def cache_profiles(services: Services) -> None:
    snapshots.take_account(services, "default")


def send_all(services: Services) -> None:
    for delivery_id in pending(services):
        outbound.deliver(services, delivery_id)


def delivery(services: Services, delivery_id: int) -> models.EventDelivery:
    with services.db.session() as session:
        row = session.get(models.EventDelivery, delivery_id)
        assert row is not None
        return row


# -- end to end


def test_a_change_through_rest_reaches_a_verifying_receiver(
    client: Any, auth_headers: Any, services: Services, celery_worker: Any, signed_receiver: Any
) -> None:
    cache_profiles(services)
    subscribe(client, auth_headers, signed_receiver)
    answer = client.patch(
        f"/v1/profiles/{PROFILE}/schedules",
        json={"days": "mon", "times": ["06:15"]},
        headers=auth_headers,
    )
    assert answer.status_code == 202
    wait_until(
        lambda: signed_receiver.of("schedule.changed") and signed_receiver.of("job.succeeded")
    )
    changed = signed_receiver.of("schedule.changed")[0]
    assert changed["id"].startswith("evt_") and changed["profile"]["id"] == PROFILE
    data = changed["data"]
    assert data["profile_label"] == changed["profile"]["label"] and ":" in data["profile_label"]
    assert "06:15" in data["diff_text"] and "06:15" in data["summary"]
    assert data["source"] == "rest" and data["diff"]["mon"]["after"] == ["06:15"]
    assert {"before", "after", "job_id"} <= set(data)
    listing = client.get("/v1/deliveries?status=delivered", headers=auth_headers).get_json()
    assert {d["event_type"] for d in listing["deliveries"]} >= {"schedule.changed", "job.succeeded"}


def test_drift_found_by_a_snapshot_is_told_as_schedule_drifted(
    client: Any, auth_headers: Any, services: Services, buffer_sandbox: Any, signed_receiver: Any
) -> None:
    cache_profiles(services)
    subscribe(client, auth_headers, signed_receiver, events=["schedule.drifted"])
    buffer_sandbox.sandbox.set_schedules(PROFILE, [{"days": ["sat"], "times": ["11:11"]}])
    outcome = snapshots.take_account(services, "default")
    assert PROFILE in outcome.changed
    send_all(services)
    drifted = signed_receiver.of("schedule.drifted")
    assert len(drifted) == 1 and drifted[0]["data"]["source"] == "buffer"
    assert "11:11" in drifted[0]["data"]["diff_text"]
    assert drifted[0]["data"]["after"] == [{"days": ["sat"], "times": ["11:11"]}]


def test_a_failed_job_says_why_in_words(
    client: Any, auth_headers: Any, services: Services, buffer_sandbox: Any, signed_receiver: Any
) -> None:
    cache_profiles(services)
    subscribe(client, auth_headers, signed_receiver, events=["job.failed"])
    buffer_sandbox.sandbox.set_faults(error_rate=1.0)  # 500s until the attempts run out
    client.patch(
        f"/v1/profiles/{PROFILE}/schedules",
        json={"days": "mon", "times": ["07:00"]},
        headers=auth_headers,
    )
    for _ in range(services.settings.sync_max_attempts):
        sync.sync_profile(services, PROFILE)
    send_all(services)
    failed = signed_receiver.of("job.failed")
    assert len(failed) == 1
    assert "Buffer could not be reached" in failed[0]["data"]["error"]
    assert failed[0]["data"]["error_status"] == 500


# -- delivery guarantees


def test_retries_reach_a_receiver_that_fails_then_recovers(
    client: Any,
    auth_headers: Any,
    services: Services,
    celery_worker: Any,
    signed_receiver: Any,
    monkeypatch: Any,
) -> None:
    monkeypatch.setattr(retry, "DELIVERY_SCHEDULE", FAST)
    signed_receiver.failures = 2
    subscription = subscribe(client, auth_headers, signed_receiver)
    sent = client.post(f"/v1/subscriptions/{subscription}/test", headers=auth_headers).get_json()
    wait_until(lambda: signed_receiver.of("ping"))
    (delivery_id,) = sent["delivery_ids"]
    row = wait_until(lambda: (r := delivery(services, delivery_id)).status == "delivered" and r)
    assert row.attempts == 3
    # every attempt carried the same webhook-id: the receiver can tell repeats
    assert signed_receiver.ids == [sent["event_id"]] * 3


def test_after_the_last_attempt_the_delivery_fails_and_is_counted(
    client: Any, auth_headers: Any, services: Services, signed_receiver: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(retry, "DELIVERY_SCHEDULE", (0.0, 0.0))
    signed_receiver.failures = 10
    subscription = subscribe(client, auth_headers, signed_receiver)
    client.post(f"/v1/subscriptions/{subscription}/test", headers=auth_headers)
    (delivery_id,) = pending(services)
    assert outbound.deliver(services, delivery_id).state == "retrying"
    assert outbound.deliver(services, delivery_id).state == "failed"
    listing = client.get(f"/v1/deliveries?subscription={subscription}", headers=auth_headers)
    assert listing.get_json()["deliveries"][0]["last_status"] == 503
    item = client.get(f"/v1/subscriptions/{subscription}", headers=auth_headers).get_json()
    assert item["failures"] == 1 and item["enabled"]
    # retried by hand, it is delivered once the receiver is back
    signed_receiver.failures = 0
    retried = client.post(f"/v1/deliveries/{delivery_id}/retry", headers=auth_headers)
    assert retried.status_code == 202
    assert outbound.deliver(services, delivery_id).state == "delivered"
    since = (utcnow() - dt.timedelta(hours=1)).isoformat()
    bulk = client.post("/v1/deliveries/retry", json={"since": since}, headers=auth_headers)
    assert bulk.status_code == 202 and bulk.get_json()["retried"] == []


def test_410_unsubscribes_and_five_failing_days_disable(
    client: Any, auth_headers: Any, services: Services, signed_receiver: Any, caplog: Any
) -> None:
    subscription = subscribe(client, auth_headers, signed_receiver)
    signed_receiver.status = 410
    client.post(f"/v1/subscriptions/{subscription}/test", headers=auth_headers)
    send_all(services)
    item = client.get(f"/v1/subscriptions/{subscription}", headers=auth_headers).get_json()
    assert not item["enabled"] and "410" in item["disabled_reason"]
    assert client.post(f"/v1/subscriptions/{subscription}/test", headers=auth_headers)
    client.patch(f"/v1/subscriptions/{subscription}", json={"enabled": True}, headers=auth_headers)
    signed_receiver.failures = 1
    with services.db.session() as session:
        row = session.get(models.EventSubscription, subscription)
        assert row is not None
        row.failing_since = utcnow() - dt.timedelta(days=5, minutes=1)
    client.post(f"/v1/subscriptions/{subscription}/test", headers=auth_headers)
    send_all(services)
    item = client.get(f"/v1/subscriptions/{subscription}", headers=auth_headers).get_json()
    assert not item["enabled"] and "5 days" in item["disabled_reason"]
    assert "disabled" in caplog.text


def test_stored_events_survive_a_flushed_redis_and_a_killed_worker(
    client: Any,
    auth_headers: Any,
    services: Services,
    settings: Any,
    signed_receiver: Any,
    monkeypatch: Any,
) -> None:
    """Stored, then the task lost (Redis flushed, no worker ran it), and another delivery
    claimed by a worker killed mid-send: the reconciler re-sends both, each once."""
    subscription = subscribe(client, auth_headers, signed_receiver)
    client.post(f"/v1/subscriptions/{subscription}/test", headers=auth_headers)
    client.post(f"/v1/subscriptions/{subscription}/test", headers=auth_headers)
    lost, killed = pending(services)
    redis.Redis.from_url(settings.redis_url).flushall()
    monkeypatch.setattr(outbound, "CLAIM", 0.0)  # the killed worker's claim has lapsed
    claimed = outbound._claim(services, killed)  # a worker claimed it, then died
    assert not isinstance(claimed, outbound.Attempt)
    later = utcnow() + dt.timedelta(seconds=5)
    assert sorted(outbound.overdue(services, now=later)) == [lost, killed]
    sent: list[int] = []
    monkeypatch.setattr(services.queue, "send", lambda name, *args: sent.append(args[0]) or True)
    monkeypatch.setattr(outbound, "utcnow", lambda: later)
    reconcile.rewake(services)
    assert sorted(sent) == [lost, killed]
    for delivery_id in sent:
        outbound.deliver(services, delivery_id)
    assert len(signed_receiver.of("ping")) == 2
    assert all(delivery(services, i).status == "delivered" for i in sent)
    assert outbound.deliver(services, lost).state == "skipped"  # never sent twice


def test_per_profile_sequence_numbers_hold_under_concurrency(
    any_database_url: str, redis_url: str
) -> None:
    services = Services(make_settings(DATABASE_URL=any_database_url, REDIS_URL=redis_url))
    with services.db.session() as session:
        session.add(models.Account(name="default", token_var="BUFFER_ACCESS_TOKEN"))
        session.add(
            models.Profile(id=PROFILE, account="default", service="twitter", service_username="b")
        )
    seen: dict[int, list[int]] = {}

    def writer(n: int) -> None:
        mine = seen.setdefault(n, [])
        for _ in range(10):
            with services.db.session() as session:
                event = events.emit(session, events.SCHEDULE_CHANGED, "default", PROFILE, {})
                mine.append(int(event.sequence or 0))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    numbers = sorted(s for mine in seen.values() for s in mine)
    assert numbers == list(range(1, 61))
    assert all(mine == sorted(mine) for mine in seen.values())
    services.close()


def test_a_burst_of_changes_arrives_with_increasing_sequences(
    client: Any,
    auth_headers: Any,
    services: Services,
    celery_worker: Any,
    signed_receiver: Any,
    buffer_sandbox: Any,
) -> None:
    cache_profiles(services)
    subscribe(client, auth_headers, signed_receiver, events=["schedule.changed"])
    for minute in range(10, 20):
        client.patch(
            f"/v1/profiles/{PROFILE}/schedules",
            json={"days": "tue", "times": [f"08:{minute}"]},
            headers=auth_headers,
        )
    wait_until(
        lambda: any(
            e["data"]["after"]
            for e in signed_receiver.of("schedule.changed")
            if "08:19" in json.dumps(e["data"]["after"])
        ),
        timeout=20,
    )
    changed = signed_receiver.of("schedule.changed")
    numbers = [e["sequence"] for e in changed]
    assert len(set(numbers)) == len(numbers)
    # what a receiver keeps (the highest sequence) is what Buffer holds
    last = max(changed, key=lambda e: e["sequence"])
    assert last["data"]["after"] == buffer_sandbox.sandbox.schedules(PROFILE) or "08:19" in (
        json.dumps(last["data"]["after"])
    )


# -- where events may go, and who gets them


@pytest.mark.parametrize(
    ("url", "kind", "why"),
    [
        ("https://169.254.169.254/latest/meta-data", None, "link-local"),
        ("http://[fe80::1]/x", None, "link-local"),
        ("https://user:pw@example.com/x", None, "credentials"),
        ("ftp://example.com/x", None, "https"),
        ("https://example.com/services/x", "slack", "hooks.slack.com"),
        ("not a url", None, "https"),
    ],
)
def test_refused_urls_even_with_private_addresses_allowed(
    client: Any, auth_headers: Any, url: str, kind: str | None, why: str
) -> None:
    body = {"url": url, "events": ["*"], **({"kind": kind} if kind else {})}
    answer = client.post("/v1/subscriptions", json=body, headers=auth_headers)
    assert answer.status_code == 422 and why in json.dumps(answer.get_json())


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://[::1]/hook",
        "https://169.254.169.254/",
    ],
)
def test_production_refuses_plain_http_and_private_addresses(url: str) -> None:
    from bridge import safehttp
    from bridge.events import subscriptions

    with pytest.raises(safehttp.RefusedTarget):
        subscriptions.check_url("webhook", url, allow_private=False)


def test_a_name_resolving_to_loopback_is_refused_at_delivery(
    services: Services, signed_receiver: Any
) -> None:
    from bridge import safehttp

    session = safehttp.guarded_session(allow_private=False)
    with pytest.raises(safehttp.RefusedTarget):
        session.post(f"https://localhost:{signed_receiver.server.server_port}/", timeout=2)
    link_local = safehttp.guarded_session(allow_private=True)
    with pytest.raises((safehttp.RefusedTarget, requests.RequestException)):
        link_local.post("http://169.254.169.254/", timeout=1, allow_redirects=False)


def test_scoped_clients_only_get_their_profiles_events(
    client: Any, services: Services, signed_receiver: Any
) -> None:
    from bridge import auth

    cache_profiles(services)
    with services.db.session() as session:
        other = next(p.id for p in session.query(models.Profile) if p.id != PROFILE)
        _c, token = auth.create_client(session, "scoped", [PROFILE])
    headers = {"Authorization": f"Bearer {token}"}
    refused = client.post(
        "/v1/subscriptions",
        json={"url": signed_receiver.url, "events": ["*"], "profiles": [other]},
        headers=headers,
    )
    assert refused.status_code == 422
    subscribe(client, headers, signed_receiver)
    with services.db.session() as session:
        events.emit(session, events.SCHEDULE_CHANGED, "default", other, {})
        events.emit(session, events.SCHEDULE_CHANGED, "default", PROFILE, {})
        events.account_degraded(session, "default", "test")
    send_all(services)
    assert [e["profile"]["id"] for e in signed_receiver.events] == [PROFILE]
    listed = client.get("/v1/events", headers=headers).get_json()["events"]
    assert {e["profile"]["id"] for e in listed} == {PROFILE}


def test_account_degraded_is_told_once_an_hour_per_reason(services: Services) -> None:
    with services.db.session() as session:
        assert events.account_degraded(session, "default", "401", 401) is not None
        assert events.account_degraded(session, "default", "401", 401) is None
        assert events.account_degraded(session, "default", "no writes") is not None


# -- Zapier and Slack


def test_zapier_rest_hooks_subscribe_list_and_unsubscribe(
    client: Any, auth_headers: Any, services: Services, signed_receiver: Any
) -> None:
    samples = client.get("/v1/zapier/samples?event=schedule.drifted", headers=auth_headers)
    assert samples.status_code == 200 and samples.get_json()[0]["data"]["example"] is True
    made = client.post(
        "/v1/zapier/hooks",
        json={"hookUrl": signed_receiver.url, "event": "schedule.changed", "zap": "x"},
        headers=auth_headers,
    )
    assert made.status_code == 201
    hook_id = made.get_json()["id"]
    signed_receiver.secret = _secret(services, hook_id)
    cache_profiles(services)
    with services.db.session() as session:
        events.emit(session, events.SCHEDULE_CHANGED, "default", PROFILE, {"summary": "s"})
        events.emit(session, events.JOB_SUCCEEDED, "default", PROFILE, {})
    send_all(services)
    assert [e["type"] for e in signed_receiver.events] == ["schedule.changed"]
    listed = client.get("/v1/zapier/samples?event=schedule.changed", headers=auth_headers)
    assert listed.get_json()[0]["data"]["summary"] == "s"
    assert client.delete(f"/v1/zapier/hooks/{hook_id}", headers=auth_headers).status_code == 204
    assert client.delete(f"/v1/zapier/hooks/{hook_id}", headers=auth_headers).status_code == 404


def test_zapier_hook_answers_its_signing_secret_once(
    client: Any, auth_headers: Any, services: Services, signed_receiver: Any
) -> None:
    """Issue 20: a REST hook's deliveries are signed, so its subscribe answer carries the
    secret (once: no read shows it again), and that secret verifies a delivery."""
    made = client.post(
        "/v1/zapier/hooks",
        json={"hookUrl": signed_receiver.url, "event": "schedule.changed"},
        headers=auth_headers,
    )
    assert made.status_code == 201
    body = made.get_json()
    assert body["secret"].startswith("whsec_")
    assert body["secret"] == _secret(services, body["id"])
    shown = client.get(f"/v1/subscriptions/{body['id']}", headers=auth_headers).get_json()
    listed = client.get("/v1/subscriptions", headers=auth_headers).get_json()
    assert "secret" not in shown
    assert all("secret" not in sub for sub in listed["subscriptions"])
    assert body["secret"] not in json.dumps([shown, listed])
    signed_receiver.secret = body["secret"]
    cache_profiles(services)
    with services.db.session() as session:
        events.emit(session, events.SCHEDULE_CHANGED, "default", PROFILE, {"summary": "s"})
    send_all(services)
    assert [e["type"] for e in signed_receiver.events] == ["schedule.changed"]


def _secret(services: Services, subscription_id: int) -> str:
    with services.db.session() as session:
        row = session.get(models.EventSubscription, subscription_id)
        assert row is not None
        return row.secret


def test_slack_subscriptions_get_a_readable_message(
    client: Any, auth_headers: Any, services: Services
) -> None:
    url = "https://hooks.slack.com/services/T0/B0/xyz"
    made = client.post(
        "/v1/subscriptions", json={"url": url, "events": ["schedule.changed"]}, headers=auth_headers
    ).get_json()
    assert made["kind"] == "slack"
    cache_profiles(services)
    diff = {"mon": {"before": [], "after": ["09:00"], "added": ["09:00"], "removed": []}}
    with services.db.session() as session:
        events.emit(
            session,
            events.SCHEDULE_CHANGED,
            "default",
            PROFILE,
            {"summary": "mon 09:00", "diff_text": "mon: none → 09:00", "diff": diff},
        )
    (delivery_id,) = pending(services)
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, url, status=200)
        attempt = outbound.deliver(services, delivery_id, http=requests.Session())
        text = json.loads(mock.calls[0].request.body)["text"]
    assert attempt.state == "delivered"
    assert text.startswith("*schedule.changed* ") and "mon: none → 09:00" in text


def test_a_rotation_run_is_told_as_rotation_fired(
    client: Any, auth_headers: Any, services: Services, signed_receiver: Any
) -> None:
    from tests.rotation.conftest import make_plan, make_presets

    cache_profiles(services)
    subscribe(client, auth_headers, signed_receiver, events=["rotation.fired"])
    make_presets(client, auth_headers)
    assert (
        make_plan(client, auth_headers, [{"preset": "weekend", "at": "sat 00:00"}]).status_code
        == 201
    )
    ran = client.post("/v1/rotations/plan/run", headers=auth_headers).get_json()
    send_all(services)
    (fired,) = signed_receiver.of("rotation.fired")
    data = fired["data"]
    assert data["job_id"] == ran["jobs"][0]["job_id"]
    assert data["rotation"]["plan"] == "plan" and data["rotation"]["preset"] == "weekend"
    assert "rotation plan applied preset weekend" in data["summary"]
    assert fired["profile"]["label"] == data["profile_label"]
