"""Signed webhooks (Standard Webhooks): valid, missing, wrong and stale signatures; replays."""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from bridge import auth

BODY = {"profile": "@skinnyoteam", "days": "sat", "times": "10am"}


@pytest.fixture
def signer(services: Any) -> dict[str, Any]:
    """A client with a signing secret: its token, its secret and a Webhook to sign with."""
    with services.db.session() as session:
        client, token = auth.create_client(session, "signer", signing_secret=True)
        secret = client.signing_secret
    assert secret is not None and secret.startswith("whsec_")
    return {"token": token, "secret": secret, "webhook": Webhook(secret)}


def signed_headers(
    signer: dict[str, Any], payload: str, webhook_id: str = "msg_1", age: float = 0.0
) -> dict[str, str]:
    """The three Standard Webhooks headers (and the client token) for `payload`."""
    moment = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=age)
    signature = signer["webhook"].sign(webhook_id, moment, payload)
    return {
        "X-Bridge-Token": signer["token"],
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signature,
        "Content-Type": "application/json",
    }


def post(client: Any, payload: str, headers: dict[str, str], path: str = "/hooks/signed") -> Any:
    """POST raw JSON text (signatures are over the exact bytes)."""
    return client.post(path, data=payload, headers=headers)


def test_signed_webhook_queues_a_change(client, signer):
    payload = json.dumps(BODY)
    response = post(client, payload, signed_headers(signer, payload))
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["days"] == ["sat"]


def test_token_in_path_works_too(client, signer):
    payload = json.dumps(BODY)
    headers = signed_headers(signer, payload)
    del headers["X-Bridge-Token"]
    response = post(client, payload, headers, f"/hooks/signed/{signer['token']}")
    assert response.status_code == 202, response.get_json()


def test_any_of_several_signatures_may_match_during_key_rotation(client, signer):
    payload = json.dumps(BODY)
    headers = signed_headers(signer, payload)
    old = Webhook("whsec_" + base64.b64encode(secrets.token_bytes(32)).decode())
    moment = dt.datetime.fromtimestamp(int(headers["webhook-timestamp"]), dt.UTC)
    stale_key = old.sign("msg_1", moment, payload)
    headers["webhook-signature"] = f"{stale_key} {headers['webhook-signature']}"
    assert post(client, payload, headers).status_code == 202


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda h: h.pop("webhook-signature"), "missing webhook-signature header"),
        (lambda h: h.pop("webhook-id"), "missing webhook-id header"),
        (lambda h: h.update({"webhook-signature": "v1,AAAA"}), "malformed webhook-signature"),
        (lambda h: h.update({"webhook-signature": "v1,not base64!"}), "malformed"),
        (lambda h: h.update({"webhook-signature": "garbage"}), "malformed"),
        (lambda h: h.update({"webhook-timestamp": "yesterday"}), "not a Unix time"),
        (lambda h: h.update({"webhook-id": "msg_2"}), "no matching signature"),
        (lambda h: h.update({"webhook-signature": "v1," + "A" * 43 + "="}), "no matching"),
    ],
)
def test_missing_or_wrong_signatures_are_401(client, signer, change, says):
    payload = json.dumps(BODY)
    headers = signed_headers(signer, payload)
    change(headers)
    response = post(client, payload, headers)
    assert response.status_code == 401
    assert says in response.get_json()["message"]


def test_altered_body_is_401(client, signer):
    payload = json.dumps(BODY)
    headers = signed_headers(signer, payload)
    response = post(client, payload.replace("10am", "11am"), headers)
    assert response.status_code == 401


@pytest.mark.parametrize(("age", "says"), [(301, "too old"), (-301, "too new")])
def test_signatures_outside_five_minutes_are_401(client, signer, age, says):
    payload = json.dumps(BODY)
    response = post(client, payload, signed_headers(signer, payload, age=age))
    assert response.status_code == 401
    assert says in response.get_json()["message"]


def test_signature_within_tolerance_is_accepted(client, signer):
    payload = json.dumps(BODY)
    assert post(client, payload, signed_headers(signer, payload, age=240)).status_code == 202


def test_client_without_a_secret_is_403(client, api_token, signer):
    payload = json.dumps(BODY)
    headers = {**signed_headers(signer, payload), "X-Bridge-Token": api_token}
    response = post(client, payload, headers)
    assert response.status_code == 403
    assert "--signing-secret" in response.get_json()["message"]


def test_without_a_token_is_401(client, signer):
    payload = json.dumps(BODY)
    headers = signed_headers(signer, payload)
    del headers["X-Bridge-Token"]
    assert post(client, payload, headers).status_code == 401


def test_replayed_webhook_id_gets_the_first_answer_and_changes_nothing(
    client, signer, auth_headers
):
    payload = json.dumps(BODY)
    first = post(client, payload, signed_headers(signer, payload, "msg_replay"))
    assert first.status_code == 202
    again = post(client, payload, signed_headers(signer, payload, "msg_replay"))
    assert again.status_code == 202
    assert again.get_json() == first.get_json()
    assert again.headers["Webhook-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    jobs = client.get("/v1/jobs", headers=auth_headers).get_json()["jobs"]
    assert len(jobs) == 1


def test_a_refused_delivery_is_answered_the_same_way_again(client, signer):
    payload = json.dumps({"profile": "@skinnyoteam", "days": "funday", "times": "9am"})
    first = post(client, payload, signed_headers(signer, payload, "msg_bad"))
    assert first.status_code == 422
    again = post(client, payload, signed_headers(signer, payload, "msg_bad"))
    assert (again.status_code, again.get_json()) == (422, first.get_json())
    assert again.headers["Webhook-Replayed"] == "true"


def test_new_webhook_ids_are_new_changes(client, signer):
    payload = json.dumps(BODY)
    one = post(client, payload, signed_headers(signer, payload, "msg_a")).get_json()
    two = post(client, payload, signed_headers(signer, payload, "msg_b")).get_json()
    assert one["job_id"] != two["job_id"]


def test_malformed_json_is_400(client, signer):
    payload = '{"profile": '
    response = post(client, payload, signed_headers(signer, payload))
    assert response.status_code == 400
    assert "malformed JSON at line 1" in response.get_json()["message"]
