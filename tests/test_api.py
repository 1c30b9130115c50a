"""The REST API's contract: validation, auth and scopes, idempotency, errors, docs."""

from __future__ import annotations

from typing import Any

import pytest

from bridge import auth
from tests.conftest import DOCS_PROFILE, PATCH_URL, job_done, make_client


def assert_error_shape(body: dict[str, Any], status: int) -> None:
    assert body["code"] == status
    assert isinstance(body["status"], str) and isinstance(body["message"], str)


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"days": "funday", "times": ["09:00"]}, "days", "funday"),
        ({"days": "mon", "times": ["24:00"]}, "times", "24:00"),
        ({"days": "mon", "times": ["9:75"]}, "times", "9:75"),
        ({"days": "mon", "times": ["13pm"]}, "times", "13pm"),
        ({"days": "mon", "times": 9}, "times", "string"),
        ({"times": ["09:00"]}, "days", "required"),
        ({"days": "mon", "times": ["09:00"], "mode": "toggle"}, "mode", "one of"),
        ({"days": "mon", "mode": "add"}, "times", "at least one"),
        ({"days": "mon", "times": ["09:00"], "mode": "clear"}, "times", "no times"),
        ({"days": "mon", "times": ["09:00"], "colour": "red"}, "colour", "Unknown"),
    ],
)
def test_patch_validation_names_the_field(client, auth_headers, body, field, fragment) -> None:
    response = client.patch(PATCH_URL, json=body, headers=auth_headers)
    assert response.status_code == 422
    payload = response.get_json()
    assert_error_shape(payload, 422)
    assert field in payload["errors"], payload
    assert fragment in str(payload["errors"][field]), payload


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "schedules"),
        ({"schedules": [{"days": ["mon"]}]}, "times"),
        ({"schedules": [{"days": ["xyz"], "times": []}]}, "xyz"),
        (
            {
                "schedules": [
                    {"days": ["mon"], "times": ["09:00"]},
                    {"days": ["mon-tue"], "times": ["10:00"]},
                ]
            },
            "mon already appears",
        ),
        ({"schedules": "mon 9am"}, "schedules"),
    ],
)
def test_put_validation(client, auth_headers, body, fragment) -> None:
    response = client.put(PATCH_URL, json=body, headers=auth_headers)
    assert response.status_code == 422
    assert fragment in str(response.get_json()["errors"])


def test_malformed_json_is_400(client, auth_headers) -> None:
    response = client.patch(
        PATCH_URL, data='{"days": "mon",', headers=auth_headers, content_type="application/json"
    )
    assert response.status_code == 400
    assert_error_shape(response.get_json(), 400)
    assert "line 1 column" in response.get_json()["message"]


def test_body_over_64k_is_413(client, auth_headers) -> None:
    big = {"days": "mon", "times": ["09:00"], "pad": "x" * 70_000}
    response = client.patch(PATCH_URL, json=big, headers=auth_headers)
    assert response.status_code == 413
    assert_error_shape(response.get_json(), 413)


def test_unknown_profile_is_404(client, auth_headers) -> None:
    for ref in ("@nobody", "twitter:nobody", "0123456789abcdef01234567"):
        response = client.patch(
            f"/v1/profiles/{ref}/schedules", json={"days": "mon", "times": []}, headers=auth_headers
        )
        assert response.status_code == 404, ref
        assert_error_shape(response.get_json(), 404)


def test_bad_profile_reference_is_422(client, auth_headers) -> None:
    response = client.get("/v1/profiles/not a ref/schedules", headers=auth_headers)
    assert response.status_code == 422
    assert "profile" in response.get_json()["errors"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer bb_wrong"}, {"Authorization": "Basic abc"}],
)
def test_missing_or_bad_token_is_401(client, headers) -> None:
    response = client.get("/v1/profiles", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert_error_shape(response.get_json(), 401)


def test_scopes_and_read_only(client, services) -> None:
    scoped = make_client(services, "scoped", profile_refs=["@skinnyoteam"])
    reader = make_client(services, "reader", read_only=True)
    assert client.get("/v1/profiles/@skinnyoteam", headers=scoped).status_code == 200
    listed = client.get("/v1/profiles", headers=scoped).get_json()["profiles"]
    assert [p["id"] for p in listed] == [DOCS_PROFILE]
    others = client.get("/v1/profiles?refresh=1", headers=reader).get_json()["profiles"]
    other = next(p for p in others if p["id"] != DOCS_PROFILE)
    denied = client.patch(
        f"/v1/profiles/{other['id']}/schedules",
        json={"days": "mon", "times": ["09:00"]},
        headers=scoped,
    )
    assert denied.status_code == 404  # outside the scopes answers as unknown
    read_only = client.patch(PATCH_URL, json={"days": "mon", "times": ["09:00"]}, headers=reader)
    assert read_only.status_code == 403 and "read-only" in read_only.get_json()["message"]
    assert client.post("/v1/snapshots", json={}, headers=reader).status_code == 403


def test_revoked_client_is_401(client, services) -> None:
    headers = make_client(services, "gone")
    with services.db.session() as session:
        auth.revoke(session, "gone")
    assert client.get("/v1/profiles", headers=headers).status_code == 401


def test_idempotency_key_returns_the_same_job_or_409(client, auth_headers) -> None:
    headers = {**auth_headers, "Idempotency-Key": "zap-123"}
    body = {"days": "mon", "times": ["09:00"]}
    first = client.patch(PATCH_URL, json=body, headers=headers)
    again = client.patch(PATCH_URL, json=body, headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.get_json()["job_id"] == again.get_json()["job_id"]
    other = client.patch(PATCH_URL, json={"days": "tue", "times": ["09:00"]}, headers=headers)
    assert other.status_code == 409
    assert_error_shape(other.get_json(), 409)


def test_database_down_is_503_not_500(app, client, auth_headers, services) -> None:
    from bridge.db import Database

    client.get("/v1/profiles", headers=auth_headers)  # authenticated while the store is up
    services.db = Database("postgresql+psycopg://nobody@127.0.0.1:1/none")
    response = client.get("/v1/profiles", headers=auth_headers)
    assert response.status_code == 503
    assert_error_shape(response.get_json(), 503)


def test_jobs_listing_and_filters(client, auth_headers, celery_worker) -> None:
    accepted = client.patch(
        PATCH_URL, json={"days": "sun", "times": ["10:00"]}, headers=auth_headers
    )
    job_done(client, auth_headers, accepted.get_json()["job_id"])
    listed = client.get(
        "/v1/jobs?profile=@skinnyoteam&status=succeeded", headers=auth_headers
    ).get_json()
    assert [j["job_id"] for j in listed["jobs"]] == [accepted.get_json()["job_id"]]
    assert client.get("/v1/jobs?status=bogus", headers=auth_headers).status_code == 422
    assert client.get("/v1/jobs/999999", headers=auth_headers).status_code == 404


def test_snapshot_then_restore(client, auth_headers, celery_worker, buffer_sandbox) -> None:
    original = buffer_sandbox.sandbox.schedules(DOCS_PROFILE)
    snap = client.post("/v1/snapshots", json={}, headers=auth_headers)
    assert snap.status_code == 202
    assert job_done(client, auth_headers, snap.get_json()["job_id"])["status"] == "succeeded"
    snapshot_id = client.get("/v1/snapshots?profile=@skinnyoteam", headers=auth_headers).get_json()[
        "snapshots"
    ][0]["id"]

    change = client.put(
        PATCH_URL,
        json={"schedules": [{"days": "daily", "times": ["07:00"]}]},
        headers=auth_headers,
    )
    assert job_done(client, auth_headers, change.get_json()["job_id"])["status"] == "succeeded"
    assert buffer_sandbox.sandbox.schedules(DOCS_PROFILE) == [
        {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "times": ["07:00"]}
    ]
    restore = client.post(
        "/v1/profiles/@skinnyoteam/schedules/restore",
        json={"snapshot_id": snapshot_id},
        headers=auth_headers,
    )
    assert restore.status_code == 202
    restored = job_done(client, auth_headers, restore.get_json()["job_id"])
    assert restored["status"] == "succeeded" and restored["kind"] == "restore"
    assert buffer_sandbox.sandbox.schedules(DOCS_PROFILE) == original

    history = client.get("/v1/profiles/@skinnyoteam/history", headers=auth_headers).get_json()
    reasons = [s["reason"] for s in history["snapshots"]]
    assert reasons[:2] == ["after_change", "before_change"]
    assert "diff" in history["snapshots"][0]
    single = client.get(f"/v1/snapshots/{snapshot_id}", headers=auth_headers)
    assert single.status_code == 200 and single.get_json()["id"] == snapshot_id


def test_restore_of_another_profiles_snapshot_is_404(client, auth_headers, celery_worker) -> None:
    snap = client.post("/v1/snapshots", json={}, headers=auth_headers)
    job_done(client, auth_headers, snap.get_json()["job_id"])
    snapshots = client.get("/v1/snapshots", headers=auth_headers).get_json()["snapshots"]
    foreign = next(s for s in snapshots if s["profile_id"] != DOCS_PROFILE)
    response = client.post(
        "/v1/profiles/@skinnyoteam/schedules/restore",
        json={"snapshot_id": foreign["id"]},
        headers=auth_headers,
    )
    assert response.status_code == 404


def test_live_schedules_fall_back_to_the_cache(
    client, auth_headers, buffer_sandbox, services
) -> None:
    fresh = client.get(f"{PATCH_URL}", headers=auth_headers).get_json()
    assert fresh["stale"] is False
    for key in services.redis.scan_iter("bridge:live-schedules:*"):
        services.redis.delete(key)  # the live read's short cache: make the next one ask Buffer
    buffer_sandbox.sandbox.set_faults(error_rate=1.0)
    stale = client.get(f"{PATCH_URL}", headers=auth_headers).get_json()
    assert stale["stale"] is True and "stale_reason" in stale
    assert stale["schedules"] == fresh["schedules"]


def test_openapi_document_and_docs_are_served(client) -> None:
    spec = client.get("/openapi.json").get_json()
    assert "/v1/profiles/{ref}/schedules" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_scoped_clients_see_only_their_profiles_jobs_and_snapshots(
    client, auth_headers, services, celery_worker
) -> None:
    scoped = make_client(services, "only-docs", profile_refs=["@skinnyoteam"])
    snap = client.post("/v1/snapshots", json={}, headers=auth_headers)
    job_done(client, auth_headers, snap.get_json()["job_id"])
    assert client.get(f"/v1/jobs/{snap.get_json()['job_id']}", headers=scoped).status_code == 404
    others = client.get("/v1/profiles", headers=auth_headers).get_json()["profiles"]
    other = next(p for p in others if p["id"] != DOCS_PROFILE)
    change = client.patch(
        f"/v1/profiles/{other['id']}/schedules",
        json={"days": "sun", "times": ["08:00"]},
        headers=auth_headers,
    )
    other_job = change.get_json()["job_id"]
    assert client.get(f"/v1/jobs/{other_job}", headers=scoped).status_code == 404
    assert client.get(f"/v1/jobs/{other_job}", headers=auth_headers).status_code == 200
    listed = client.get("/v1/jobs", headers=scoped).get_json()["jobs"]
    assert all(j["profile_id"] == DOCS_PROFILE for j in listed)
    seen = client.get("/v1/snapshots", headers=scoped).get_json()["snapshots"]
    assert seen and all(s["profile_id"] == DOCS_PROFILE for s in seen)
    foreign = next(
        s
        for s in client.get("/v1/snapshots", headers=auth_headers).get_json()["snapshots"]
        if s["profile_id"] != DOCS_PROFILE
    )
    assert client.get(f"/v1/snapshots/{foreign['id']}", headers=scoped).status_code == 404


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/jobs/15481411897171145855727843672064", 404),
        ("/v1/snapshots/15481411897171145855727843672064", 404),
        ("/v1/jobs?before=15481411897171145855727843672064", 422),
        ("/v1/snapshots?before=15481411897171145855727843672064", 422),
    ],
)
def test_ids_beyond_64_bits_name_nothing(client, auth_headers, path, status):
    assert client.get(path, headers=auth_headers).status_code == status


def test_profiles_carry_their_label_and_paused_days(client, auth_headers):
    listed = client.get("/v1/profiles", headers=auth_headers).get_json()["profiles"]
    one = client.get(f"/v1/profiles/{listed[0]['id']}", headers=auth_headers).get_json()
    for profile in (listed[0], one):
        assert profile["label"] == f"{profile['service']}:{profile['service_username']}"
        assert profile["paused_days"] == []
