"""Posts and posting settings at the door: every field checked (422 naming it), scopes and
read-only clients as everywhere, nothing stored for a refusal."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from bridge import auth, models
from bridge.posting import posts

PATH = "/v1/profiles/@skinnyoteam/posts"


def job_count(services: Any) -> int:
    with services.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(models.Job)) or 0)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "text"),
        ({"text": ""}, "text"),
        ({"text": "x" * (posts.MAX_TEXT + 1)}, "text"),
        ({"text": "hi", "when": "tomorrow"}, "when"),
        ({"text": "hi", "when": "2027-03-01T09:00:00"}, "when"),  # no offset
        ({"text": "hi", "when": "2020-03-01T09:00:00Z"}, "when"),  # passed
        ({"text": "hi", "link": "javascript:alert(1)"}, "link"),
        ({"text": "hi", "link": "https://" + "a" * 3000}, "link"),
        ({"text": "hi", "image_url": "https://example.com/a.png"}, "image_url"),
        ({"text": "hi", "colour": "red"}, "colour"),
    ],
)
def test_a_bad_post_is_422_naming_the_field(client, services, auth_headers, body, field):
    response = client.post(PATH, json=body, headers=auth_headers)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]
    assert job_count(services) == 0


def test_a_post_is_202_with_a_job(client, auth_headers):
    response = client.post(PATH, json={"text": "Hello\nworld"}, headers=auth_headers)
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["status"] == "queued" and body["action"] == "post"
    assert body["post"] == {"text": "Hello\nworld", "when": "queue", "excerpt": "Hello world"}
    assert response.headers["Location"] == f"/v1/jobs/{body['job_id']}"


def test_an_idempotency_key_makes_one_post(client, services, auth_headers):
    headers = {**auth_headers, "Idempotency-Key": "post-1"}
    first = client.post(PATH, json={"text": "once"}, headers=headers).get_json()
    again = client.post(PATH, json={"text": "once"}, headers=headers).get_json()
    assert again["job_id"] == first["job_id"] and again["replayed"] is True
    other = client.post(PATH, json={"text": "twice"}, headers=headers)
    assert other.status_code == 409
    assert job_count(services) == 1


@pytest.mark.parametrize("extra_settings", ["v1"], indirect=True)
def test_an_account_without_a_graphql_key_cannot_post(client, services, auth_headers):
    response = client.post(PATH, json={"text": "hi"}, headers=auth_headers)
    assert response.status_code == 409
    assert "BUFFER_API_KEY" in response.get_json()["message"]
    assert job_count(services) == 0


def test_read_only_and_scoped_clients(client, services, auth_headers):
    client.get("/v1/profiles?refresh=1", headers=auth_headers)  # scopes name known profiles
    with services.db.session() as session:
        _ro, read_only = auth.create_client(session, "ro", read_only=True)
        _sc, scoped = auth.create_client(session, "scoped", ["@sunnygarden"])
    refused = client.post(
        PATH, json={"text": "hi"}, headers={"Authorization": f"Bearer {read_only}"}
    )
    assert refused.status_code == 403
    hidden = client.post(PATH, json={"text": "hi"}, headers={"Authorization": f"Bearer {scoped}"})
    assert hidden.status_code == 404
    listed = client.get(PATH, headers={"Authorization": f"Bearer {scoped}"})
    assert listed.status_code == 404
    settings = client.patch(
        "/v1/profiles/@skinnyoteam",
        json={"schedule_mode": "bridge"},
        headers={"Authorization": f"Bearer {scoped}"},
    )
    assert settings.status_code == 404
    assert job_count(services) == 0


def test_no_token_is_401_before_the_body_is_read(client):
    response = client.post(PATH, data="x" * 100, headers={"Content-Type": "application/json"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"schedule_mode": "sometimes"}, "schedule_mode"),
        ({"min_gap_minutes": -1}, "min_gap_minutes"),
        ({"min_gap_minutes": 1441}, "min_gap_minutes"),
        ({"excluded_dates": ["2026-02-30"]}, "excluded_dates"),
        ({"excluded_dates": ["2027-01-01"] * 367}, "excluded_dates"),
        ({"adopt_queue": "perhaps"}, "adopt_queue"),
        ({"nonsense": 1}, "nonsense"),
    ],
)
def test_bad_settings_are_422_naming_the_field(client, auth_headers, body, field):
    response = client.patch("/v1/profiles/@skinnyoteam", json=body, headers=auth_headers)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]


def test_settings_are_shown_and_changed(client, auth_headers):
    shown = client.get("/v1/profiles/@skinnyoteam", headers=auth_headers).get_json()
    assert shown["schedule_mode"] == "buffer" and shown["label"] == "twitter:skinnyoteam"
    changed = client.patch(
        "/v1/profiles/@skinnyoteam",
        json={
            "schedule_mode": "bridge",
            "min_gap_minutes": 30,
            "excluded_dates": ["2026-12-25", "2026-12-24", "2026-12-25"],
            "adopt_queue": True,
        },
        headers=auth_headers,
    )
    assert changed.status_code == 200, changed.get_json()
    body = changed.get_json()
    assert body["schedule_mode"] == "bridge" and body["adopt_queue"] is True
    assert body["excluded_dates"] == ["2026-12-24", "2026-12-25"]
    again = client.get("/v1/profiles/@skinnyoteam", headers=auth_headers).get_json()
    assert again["min_gap_minutes"] == 30 and again["schedule_mode_chosen"] == "bridge"


@pytest.mark.parametrize("extra_settings", ["graphql"], indirect=True)
def test_a_graphql_only_profile_cannot_go_back_to_buffer(client, auth_headers):
    response = client.patch(
        "/v1/profiles/@skinnyoteam", json={"schedule_mode": "buffer"}, headers=auth_headers
    )
    assert response.status_code == 409
    assert "kept by the bridge" in response.get_json()["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "post", "profile": "@skinnyoteam"}, "text"),
        ({"action": "post", "text": "hi"}, "profile"),
        ({"action": "post", "profile": "@skinnyoteam", "text": "hi", "when": "soon"}, "when"),
    ],
)
def test_a_bad_webhook_post_is_422_naming_the_field(client, auth_headers, body, field):
    response = client.post("/hooks/zapier", json=body, headers=auth_headers)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]


def test_webhooks_and_ifttt_post(client, auth_headers):
    zap = client.post(
        "/hooks/zapier",
        json={"action": "post", "profile": "@skinnyoteam", "text": "From a Zap"},
        headers=auth_headers,
    )
    assert zap.status_code == 202 and zap.get_json()["post"]["text"] == "From a Zap"
    ifttt = client.post(
        "/hooks/ifttt",
        json={"action": "post", "value1": "@skinnyoteam", "value2": "From IFTTT", "value3": "now"},
        headers=auth_headers,
    )
    assert ifttt.status_code == 202, ifttt.get_json()
    assert ifttt.get_json()["post"] == {
        "text": "From IFTTT",
        "when": "now",
        "excerpt": "From IFTTT",
    }
    plain = client.post(
        "/hooks/zapier",
        data="post @skinnyoteam Plain text post",
        headers={**auth_headers, "Content-Type": "text/plain"},
    )
    assert plain.status_code == 202, plain.get_json()
    assert plain.get_json()["post"]["text"] == "Plain text post"
