"""Many changes at once: none left queued, applied in order, coalesced into few Buffer calls."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bridge import schedules
from tests.conftest import wait_until


def test_concurrent_changes_all_land_in_order(
    app: Any, auth_headers: dict[str, str], celery_worker: Any, buffer_sandbox: Any
) -> None:
    client = app.test_client()
    listed = client.get("/v1/profiles", headers=auth_headers).get_json()["profiles"]
    targets = [p["id"] for p in listed[:3]]
    hours = [f"{h:02d}:00" for h in range(6, 22)]
    bodies = [
        (targets[i % 3], {"days": ["mon", "tue"][i % 2], "times": [hours[i % 16]], "mode": "add"})
        for i in range(45)
    ]
    bodies += [(pid, {"days": "sun", "times": ["23:45"]}) for pid in targets]
    buffer_sandbox.sandbox.clear_requests()

    def send(item: tuple[str, dict[str, Any]]) -> int:
        pid, body = item
        response = app.test_client().patch(
            f"/v1/profiles/{pid}/schedules", json=body, headers=auth_headers
        )
        assert response.status_code == 202, response.get_json()
        return int(response.get_json()["job_id"])

    with ThreadPoolExecutor(8) as pool:
        job_ids = list(pool.map(send, bodies))

    def all_finished() -> bool:
        listed_jobs = client.get("/v1/jobs?limit=500", headers=auth_headers).get_json()["jobs"]
        mine = [j for j in listed_jobs if j["job_id"] in job_ids]
        return len(mine) == len(job_ids) and all(j["status"] == "succeeded" for j in mine)

    wait_until(all_finished, timeout=60, interval=0.3)

    for pid in targets:
        jobs = sorted(
            (
                j
                for j in client.get(
                    f"/v1/jobs?profile={pid}&limit=500", headers=auth_headers
                ).get_json()["jobs"]
            ),
            key=lambda j: j["job_id"],
        )
        start = schedules.from_buffer(jobs[0]["result"]["before"])
        expected = schedules.fold(start, (schedules.Operation.from_json(j["params"]) for j in jobs))
        assert schedules.from_buffer(buffer_sandbox.sandbox.schedules(pid)) == expected
        calls = [r for r in buffer_sandbox.sandbox.recorded() if pid in r.path]
        assert len(calls) < 2 * len(jobs)  # coalesced: fewer than one read+write per change
    assert not [r for r in buffer_sandbox.sandbox.recorded() if r.status == 429]
