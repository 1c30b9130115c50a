"""The REST API end to end: a real worker, real Redis, the sandbox over a socket."""

from __future__ import annotations

from typing import Any

from tests.conftest import wait_until

DOCS_PROFILE = "4eb854340acb04e870000010"


def job_done(client: Any, headers: dict[str, str], job_id: int) -> dict[str, Any]:
    """Wait for a job to finish and return it."""

    def finished() -> dict[str, Any] | None:
        body = client.get(f"/v1/jobs/{job_id}", headers=headers).get_json()
        return body if body["status"] in ("succeeded", "failed") else None

    return wait_until(finished, timeout=20)


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
