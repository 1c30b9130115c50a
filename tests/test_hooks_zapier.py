"""Zapier webhooks: requests shaped like "Webhooks by Zapier" sends them, auth, scopes, limits."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import requests

from bridge import auth, logs, snapshots
from tests.conftest import wait_until

DOCS_PROFILE = "4eb854340acb04e870000010"  # @skinnyoteam: weekdays 12:00 17:00 18:00
OTHER_PROFILE = "596201eff3a433127f892d29"  # instagram:sunnygarden


def make_client(services: Any, name: str, **options: Any) -> str:
    """A new client's token."""
    if options.get("profile_refs"):  # scopes are resolved to ids: the cache must know them
        snapshots.take_account(services, "default")
    with services.db.session() as session:
        _client, token = auth.create_client(session, name, **options)
    return token


def test_form_with_flattened_keys_queues_a_change(client, auth_headers):
    form = {
        "schedule__profile": "@skinnyoteam",
        "schedule__days": "weekdays",
        "schedule__times": "9am, 12:30, 5pm",
        "zap_meta__id": "12345",  # anything else Zapier adds is ignored
    }
    response = client.post("/hooks/zapier", data=form, headers=auth_headers)
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["status"] == "queued"
    assert response.headers["Location"] == f"/v1/jobs/{body['job_id']}"
    assert body["profile"] == "twitter:skinnyoteam"
    assert body["profile_id"] == DOCS_PROFILE
    assert body["action"] == "set"
    assert body["days"] == ["mon", "tue", "wed", "thu", "fri"]
    assert body["times"] == ["09:00", "12:30", "17:00"]
    job = client.get(f"/v1/jobs/{body['job_id']}", headers=auth_headers).get_json()
    assert job["source"] == "zapier"
    assert job["client"] == "tests"


def test_json_with_repeated_and_list_times(client, auth_headers):
    payload = {"profile": "twitter:skinnyoteam", "action": "add", "days": ["sat", "sun"]}
    payload["times"] = ["10am", "16:00"]
    response = client.post("/hooks/zapier", json=payload, headers=auth_headers)
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["change"] == {
        "kind": "add",
        "days": ["sat", "sun"],
        "times": ["10:00", "16:00"],
    }


def test_form_fields_sent_twice_become_a_list(client, auth_headers):
    form = {"profile": "@skinnyoteam", "days": "mon", "times": ["9am", "5pm"]}
    response = client.post("/hooks/zapier", data=form, headers=auth_headers)
    assert response.get_json()["times"] == ["09:00", "17:00"]


def test_replace_replaces_the_whole_week(client, auth_headers):
    body = {"profile": "@skinnyoteam", "action": "replace", "days": "sat", "times": "10am"}
    change = client.post("/hooks/zapier", json=body, headers=auth_headers).get_json()["change"]
    assert change["kind"] == "replace"
    assert change["week"]["sat"] == ["10:00"] and change["week"]["mon"] == []


@pytest.mark.parametrize("action", ["set", "set_days", "Set-Days"])
def test_set_and_its_old_name_change_only_the_named_days(client, auth_headers, action):
    body = {"profile": "@skinnyoteam", "action": action, "days": "sat", "times": "10am"}
    answer = client.post("/hooks/zapier", json=body, headers=auth_headers).get_json()
    assert answer["action"] == "set"
    assert answer["change"] == {"kind": "set", "days": ["sat"], "times": ["10:00"]}


def test_x_bridge_token_and_path_token_authenticate(client, api_token):
    body = {"profile": "@skinnyoteam", "days": "mon", "times": "9am"}
    by_header = client.post("/hooks/zapier", json=body, headers={"X-Bridge-Token": api_token})
    assert by_header.status_code == 202
    by_path = client.put(f"/hooks/zapier/{api_token}", data=body)
    assert by_path.status_code == 202, by_path.get_json()


@pytest.mark.parametrize(
    ("headers", "path", "message"),
    [
        ({}, "/hooks/zapier", "a client token is required"),
        ({"Authorization": "Bearer bb_nope"}, "/hooks/zapier", "not valid"),
        ({}, "/hooks/zapier/bb_nope", "not valid"),
    ],
)
def test_missing_or_wrong_token_is_401(client, headers, path, message):
    response = client.post(path, json={"profile": "@skinnyoteam"}, headers=headers)
    assert response.status_code == 401
    assert message in response.get_json()["message"]


def test_revoked_token_is_401(client, services):
    token = make_client(services, "gone")
    with services.db.session() as session:
        auth.revoke(session, "gone")
    response = client.post(
        f"/hooks/zapier/{token}", json={"profile": "@skinnyoteam", "days": "mon", "times": "9am"}
    )
    assert response.status_code == 401
    assert response.get_json()["message"] == "the client token has been revoked"


def test_client_outside_the_profile_scope_is_404(client, services):
    token = make_client(services, "narrow", profile_refs=["@skinnyoteam"])
    body = {"profile": OTHER_PROFILE, "days": "mon", "times": "9am"}
    response = client.post("/hooks/zapier", json=body, headers={"X-Bridge-Token": token})
    assert response.status_code == 404
    assert response.get_json()["code"] == 404
    allowed = client.post(
        "/hooks/zapier", json={**body, "profile": "@skinnyoteam"}, headers={"X-Bridge-Token": token}
    )
    assert allowed.status_code == 202


def test_read_only_client_is_403(client, services):
    token = make_client(services, "reader", read_only=True)
    body = {"profile": "@skinnyoteam", "days": "mon", "times": "9am"}
    response = client.post("/hooks/zapier", json=body, headers={"X-Bridge-Token": token})
    assert response.status_code == 403


def test_body_over_64_kib_is_413(client, auth_headers):
    body = {"profile": "@skinnyoteam", "days": "mon", "times": "9am", "pad": "x" * 70_000}
    response = client.post("/hooks/zapier", json=body, headers=auth_headers)
    assert response.status_code == 413
    assert response.get_json()["message"].startswith("body too large")


def test_malformed_json_is_400_saying_where(client, auth_headers):
    response = client.post(
        "/hooks/zapier",
        data='{"profile": "@skinnyoteam",\n "days": mon}',
        content_type="application/json",
        headers=auth_headers,
    )
    assert response.status_code == 400
    body = response.get_json()
    assert body["message"].startswith("malformed JSON at line 2 column 10")
    assert "body" in body["errors"]


@pytest.mark.parametrize(
    ("payload", "field", "says"),
    [
        ({"days": "mon", "times": "9am"}, "profile", "needs a profile"),
        ({"profile": "@skinnyoteam", "times": "9am"}, "days", "needs days"),
        ({"profile": "@skinnyoteam", "days": "mon"}, "times", "needs times"),
        ({"profile": "@skinnyoteam", "days": "funday", "times": "9am"}, "days", "unknown day"),
        ({"profile": "@skinnyoteam", "days": "mon", "times": "25:00"}, "times", "invalid time"),
        ({"profile": "@sk", "days": "mon", "times": "9am", "action": "nuke"}, "action", "one of"),
        ({"profile": "skinnyoteam", "days": "mon", "times": "9am"}, "profile", "invalid profile"),
        ({"profile": "@skinnyoteam", "days": "mon", "times": 9}, "times", "string"),
        ({"profile": "@skinnyoteam", "action": "clear", "days": "mon", "times": "9"}, "times", ""),
        ({"profile": "@skinnyoteam", "action": "restore", "snapshot_id": "x"}, "snapshot_id", ""),
    ],
)
def test_invalid_fields_are_422_naming_the_field(client, auth_headers, payload, field, says):
    response = client.post("/hooks/zapier", json=payload, headers=auth_headers)
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert set(body) >= {"code", "status", "message", "errors"}
    assert field in body["errors"]
    assert says in json.dumps(body["errors"][field])


def test_unknown_profile_is_404(client, auth_headers):
    body = {"profile": "@nobody_here", "days": "mon", "times": "9am"}
    response = client.post("/hooks/zapier", json=body, headers=auth_headers)
    assert response.status_code == 404
    assert "unknown profile" in response.get_json()["message"]


def test_idempotency_key_in_body_or_header_gives_the_first_job(client, auth_headers):
    body = {"profile": "@skinnyoteam", "days": "mon", "times": "9am", "idempotency_key": "zap-1"}
    first = client.post("/hooks/zapier", json=body, headers=auth_headers).get_json()
    again = client.post("/hooks/zapier", json=body, headers=auth_headers).get_json()
    assert again["job_id"] == first["job_id"] and again["replayed"] is True
    headers = {**auth_headers, "Idempotency-Key": "zap-2"}
    one = client.post("/hooks/zapier", data={**body, "idempotency_key": ""}, headers=headers)
    two = client.post("/hooks/zapier", data={**body, "idempotency_key": ""}, headers=headers)
    assert one.get_json()["job_id"] == two.get_json()["job_id"] != first["job_id"]


@pytest.mark.parametrize("wait", ["26", "-1", "soon"])
def test_wait_out_of_range_is_422_and_stores_nothing(client, auth_headers, wait):
    body = {"profile": "@skinnyoteam", "days": "mon", "times": "9am"}
    response = client.post(f"/hooks/zapier?wait={wait}", json=body, headers=auth_headers)
    assert response.status_code == 422
    assert "wait" in response.get_json()["errors"]
    assert client.get("/v1/jobs", headers=auth_headers).get_json()["jobs"] == []


def test_wait_answers_with_the_outcome(client, auth_headers, celery_worker, buffer_sandbox):
    body = {"profile": "@skinnyoteam", "days": "weekdays", "times": "9am 12:30 5pm"}
    response = client.post("/hooks/zapier?wait=20", data=body, headers=auth_headers)
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert answer["status"] == "succeeded"
    assert answer["days"] == ["mon", "tue", "wed", "thu", "fri"]
    assert answer["result"]["diff"]["mon"]["before"] == ["12:00", "17:00", "18:00"]
    assert answer["outcome"].startswith(f"Done, job {answer['job_id']} (twitter:skinnyoteam)")
    assert "mon-fri: 12:00 17:00 18:00 → 09:00 12:30 17:00" in answer["outcome"]
    assert buffer_sandbox.sandbox.schedules(DOCS_PROFILE) == [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "times": ["09:00", "12:30", "17:00"]}
    ]


def test_wait_reports_buffer_refusing_as_502(client, auth_headers, celery_worker):
    # instagram allows 25 posting times a day: Buffer answers 403, code 1013
    times = [f"{hour:02d}:{minute}" for hour in range(13) for minute in ("00", "30")]
    body = {"profile": "instagram:sunnygarden", "days": "mon", "times": times}
    response = client.post("/hooks/zapier?wait=20", json=body, headers=auth_headers)
    assert response.status_code == 502, response.get_json()
    answer = response.get_json()
    assert (answer["code"], answer["status"]) == (502, "Bad Gateway")
    assert answer["error"]["code"] == 1013
    assert "does not allow this change" in answer["message"]
    assert "schedule limit of 25" in answer["message"]
    assert answer["outcome"].startswith(f"Failed, job {answer['job_id']} (instagram:sunnygarden)")


def test_wait_while_buffer_is_down_answers_202(client, auth_headers, celery_worker, buffer_sandbox):
    client.get("/v1/profiles", headers=auth_headers)  # fill the profile cache first
    buffer_sandbox.sandbox.set_faults(error_rate=1.0)  # every Buffer call answers 500
    body = {"profile": "@skinnyoteam", "days": "mon", "times": "9am"}
    # a job still retrying when the wait ends answers 202 like any accepted change
    response = client.post("/hooks/zapier?wait=2", json=body, headers=auth_headers)
    assert response.status_code == 202
    assert response.get_json()["status"] in ("queued", "running", "retrying")


def test_wait_without_a_worker_times_out_into_202(client, auth_headers):
    body = {"profile": "@skinnyoteam", "days": "mon", "times": "9am"}
    response = client.post("/hooks/zapier?wait=1", json=body, headers=auth_headers)
    assert response.status_code == 202
    assert response.get_json()["status"] == "queued"


def test_restore_and_snapshot_actions(client, auth_headers, celery_worker):
    body = {"profile": "@skinnyoteam", "days": "mon", "times": "9am"}
    assert client.post("/hooks/zapier?wait=20", json=body, headers=auth_headers).status_code == 200
    restore = {"profile": "@skinnyoteam", "action": "restore", "snapshot_id": "previous"}
    answer = client.post("/hooks/zapier?wait=20", json=restore, headers=auth_headers)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["kind"] == "restore"
    assert answer.get_json()["result"]["diff"]["mon"]["after"] == ["12:00", "17:00", "18:00"]
    snap = client.post("/hooks/zapier", json={"action": "snapshot"}, headers=auth_headers)
    assert snap.status_code == 202 and snap.get_json()["accounts"] == ["default"]


# --- tokens in paths never reach a log line --------------------------------------------------


def test_path_token_never_appears_in_logs(live_server, api_token, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    body = {"profile": "@skinnyoteam", "days": "mon", "times": "9am"}
    accepted = requests.post(f"{live_server}/hooks/zapier/{api_token}", data=body, timeout=10)
    assert accepted.status_code == 202, accepted.text
    refused = requests.post(f"{live_server}/hooks/ifttt/{api_token}x?wait=1", json={}, timeout=10)
    assert refused.status_code == 401
    logging.getLogger("bridge.test").warning("callback was %s", f"/hooks/zapier/{api_token}")
    wait_until(lambda: "/hooks/ifttt/[redacted]" in caplog.text, timeout=5)
    captured = capfd.readouterr()
    everything = caplog.text + captured.out + captured.err
    assert "/hooks/zapier/[redacted]" in caplog.text  # Werkzeug logged the request line
    assert api_token not in everything
    assert api_token[3:20] not in everything


def test_views_see_a_redacted_path(app, api_token):
    seen: dict[str, str] = {}

    @app.before_request
    def spy() -> None:
        from flask import request

        seen.update(path=request.path, url=request.url)

    body = {"profile": "@skinnyoteam", "days": "mon", "times": "9am"}
    response = app.test_client().post(f"/hooks/zapier/{api_token}", data=body)
    assert response.status_code == 202
    assert seen["path"] == "/hooks/zapier/[redacted]"
    assert api_token not in seen["url"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "POST /hooks/zapier/bb_abc?wait=3 HTTP/1.1",
            "POST /hooks/zapier/[redacted]?wait=3 HTTP/1.1",
        ),
        ('"/hooks/ifttt/secret"', '"/hooks/ifttt/[redacted]"'),
        ("/hooks/zapier", "/hooks/zapier"),
        ("/v1/profiles/abc", "/v1/profiles/abc"),
    ],
)
def test_redact(text, expected):
    assert logs.redact(text) == expected
