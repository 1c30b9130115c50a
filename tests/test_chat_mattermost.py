"""Mattermost slash commands: the token check, the same grammar, the same follow-up."""

from __future__ import annotations

from typing import Any

import pytest

from bridge import auth
from tests.conftest import MM_TOKEN as TOKEN
from tests.conftest import mm_form, wait_until

DOCS_PROFILE = "4eb854340acb04e870000010"


def test_set_queues_and_follows_up(client, linked, receiver, celery_worker, buffer_sandbox):
    form = mm_form("set @skinnyoteam sat,sun 10am", response_url=receiver.url)
    response = client.post("/chat/mattermost", data=form)
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["response_type"] == "ephemeral"
    assert answer["text"].startswith("Queued: @skinnyoteam sat-sun 10:00 (job ")
    wait_until(lambda: receiver.received, timeout=20)
    assert "sat-sun: none → 10:00" in receiver.received[0]["json"]["text"]
    assert {"days": ["sat", "sun"], "times": ["10:00"]} in buffer_sandbox.sandbox.schedules(
        DOCS_PROFILE
    )


def test_token_in_authorization_header(client, linked):
    form = mm_form("help", token="")
    response = client.post(
        "/chat/mattermost", data=form, headers={"Authorization": f"Token {TOKEN}"}
    )
    assert response.status_code == 200
    assert "commands:" in response.get_json()["text"]


@pytest.mark.parametrize("token", ["", "wrong-token"])
def test_missing_or_unknown_token_is_401(client, linked, token):
    response = client.post("/chat/mattermost", data=mm_form("help", token=token))
    assert response.status_code == 401
    assert response.get_json()["code"] == 401


def test_revoked_client_is_401(client, services, linked):
    with services.db.session() as session:
        auth.revoke(session, linked)
    response = client.post("/chat/mattermost", data=mm_form("help"))
    assert response.status_code == 401
    assert "revoked" in response.get_json()["message"]


def test_grammar_mistake_is_200_with_usage(client, linked):
    response = client.post("/chat/mattermost", data=mm_form("remove @skinnyoteam mon"))
    assert response.status_code == 200
    assert response.get_json()["text"].endswith(
        "usage: remove <profile> <days> <times...>   e.g. remove @brand fri 5pm"
    )


def test_change_without_response_url_is_queued_without_follow_up(client, linked, auth_headers):
    text = client.post("/chat/mattermost", data=mm_form("add @skinnyoteam mon 8am")).get_json()[
        "text"
    ]
    assert "I'll post the outcome" not in text
    job_id = text.split("(job ")[1].split(")")[0]
    job = client.get(f"/v1/jobs/{job_id}", headers=auth_headers).get_json()
    assert job["source"] == "mattermost" and job["client"] == "mattermost"


def _production(services: Any) -> Any:
    """Switch `services` to the production default (no private-host allowance)."""
    import dataclasses

    real = services.settings
    services.settings = dataclasses.replace(real, followup_private_hosts=frozenset())
    return real


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/internal-admin",
        "https://169.254.169.254/latest/meta-data",
        "https://other.example.com/hooks/x",
    ],
)
def test_a_response_url_off_the_clients_server_queues_nothing(client, services, url):
    """Issue 9, item 5: Mattermost follow-ups go only to the client's configured server."""
    with services.db.session() as session:
        auth.create_client(
            session, "mm-prod", mattermost_token=TOKEN, mattermost_url="https://chat.example.com"
        )
    real = _production(services)
    try:
        response = client.post(
            "/chat/mattermost", data=mm_form("set @skinnyoteam sat 10am", response_url=url)
        )
    finally:
        services.settings = real
    assert response.status_code == 200
    text = response.get_json()["text"]
    assert text.startswith("Sorry:") and "nothing was queued" in text


def test_a_client_without_a_mattermost_url_is_told_there_is_no_follow_up(client, services):
    with services.db.session() as session:
        auth.create_client(session, "mm-bare", mattermost_token=TOKEN)
    form = mm_form("set @skinnyoteam sat 10am", response_url="https://chat.example.com/hooks/x")
    response = client.post("/chat/mattermost", data=form)
    text = response.get_json()["text"]
    assert text.startswith("Queued:")
    assert "will not be posted here" in text and "--mattermost-url" in text


def test_a_request_cannot_be_replayed(client, linked) -> None:
    """Issue 9 item 14: Mattermost signs nothing, so the same request (token, body and its
    trigger_id) again is refused (409); a new command (new trigger_id) is accepted."""
    form = mm_form("help")
    assert client.post("/chat/mattermost", data=form).status_code == 200
    replayed = client.post("/chat/mattermost", data=form)
    assert replayed.status_code == 409
    again = {**form, "trigger_id": "bm90LXRoZS1zYW1lLXRyaWdnZXI="}
    assert client.post("/chat/mattermost", data=again).status_code == 200
