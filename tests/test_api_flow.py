"""The REST API end to end: a real worker, real Redis, the sandbox over a socket."""

from __future__ import annotations

from tests.conftest import DOCS_PROFILE, job_done


def test_patch_weekdays_reaches_buffer(client, auth_headers, celery_worker, buffer_sandbox):
    response = client.patch(
        "/v1/profiles/@skinnyoteam/schedules",
        json={"days": "weekdays", "times": ["9am", "12:30", "5pm"]},
        headers=auth_headers,
    )
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["status"] == "queued"
    assert response.headers["Location"] == f"/v1/jobs/{body['job_id']}"
    job = job_done(client, auth_headers, body["job_id"])
    assert job["status"] == "succeeded", job
    assert job["result"]["diff"]["mon"]["after"] == ["09:00", "12:30", "17:00"]
    assert buffer_sandbox.sandbox.schedules(DOCS_PROFILE) == [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "times": ["09:00", "12:30", "17:00"]}
    ]
