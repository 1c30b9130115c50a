"""Issue 9 item 4: the web tier cannot be tied up. Waits are capped per process (429 with
Retry-After beyond WAIT_MAX_CONCURRENT), a live Buffer read on the request path gives up
after BUFFER_REQUEST_TIMEOUT, and /healthz answers at once under gunicorn whatever else
is going on (the `load` test, run by hand: `make test PYTEST_ARGS="-m load"`)."""

from __future__ import annotations

import concurrent.futures
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from bridge import models
from tests.conftest import PATCH_URL, SANDBOX_TOKEN, free_port, wait_until
from tests.processes import Processes, answers


@pytest.mark.parametrize("extra_settings", [{"WAIT_MAX_CONCURRENT": "1"}])
def test_waits_beyond_the_cap_answer_429_and_store_nothing(app, auth_headers, services) -> None:
    """No worker runs, so a `?wait=3` holds its slot for 3 s; the next one is refused."""
    body = {"action": "set", "profile": "@skinnyoteam", "days": "mon", "times": "9am"}
    first: list[Any] = []
    holder = threading.Thread(
        target=lambda: first.append(
            app.test_client().post("/hooks/zapier?wait=3", json=body, headers=auth_headers)
        )
    )
    holder.start()
    time.sleep(0.5)  # the first request is waiting now
    started = time.monotonic()
    refused = app.test_client().post(
        "/hooks/zapier?wait=3", json={**body, "times": "10am"}, headers=auth_headers
    )
    assert time.monotonic() - started < 1.0
    assert refused.status_code == 429, refused.get_json()
    assert int(refused.headers["Retry-After"]) >= 1
    holder.join()
    assert first[0].status_code == 202  # it waited its 3 s, then answered with the job
    with services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(models.Job)) == 1
    # the slot was given back: a wait is taken again
    again = app.test_client().post("/hooks/zapier?wait=1", json=body, headers=auth_headers)
    assert again.status_code == 202


@pytest.mark.parametrize("extra_settings", [{"BUFFER_TIMEOUT": "10,10"}])
def test_a_slow_buffer_holds_a_live_read_seconds_not_half_a_minute(
    client, auth_headers, buffer_sandbox
) -> None:
    """Workers may wait 10 s for Buffer; a caller's live read gives up after
    BUFFER_REQUEST_TIMEOUT (2,3) and answers the cached schedules, marked stale."""
    assert client.get("/v1/profiles", headers=auth_headers).status_code == 200  # fill the cache
    buffer_sandbox.sandbox.set_faults(latency=8.0)
    started = time.monotonic()
    response = client.get(PATCH_URL, headers=auth_headers)
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.get_json()["stale"] is True
    assert elapsed < 4.5, elapsed


# ---- under gunicorn, by hand -------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path, redis_url: str, buffer_sandbox: Any) -> Iterator[dict[str, Any]]:
    """`bridge serve` with the real gunicorn config, one process (the hardest case), on the
    sandbox; no worker, so every `?wait=` waits its full time."""
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bridge.db'}",
        "BUFFER_API_URL": buffer_sandbox.url,
        "BUFFER_ACCESS_TOKEN": SANDBOX_TOKEN,
        "BUFFER_TIMEOUT": "10,30",
        "LOG_FORMAT": "text",
        "LOG_LEVEL": "WARNING",
    }
    processes = Processes(env, tmp_path)
    try:
        processes.run("db", "upgrade")
        token = processes.run("clients", "create", "load").strip().splitlines()[-1]
        port = free_port()
        processes.start("serve", "serve", "--port", str(port), "--workers", "1")
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: answers(f"{base}/healthz"), timeout=20)
        yield {"base": base, "headers": {"Authorization": f"Bearer {token}"}, "sb": buffer_sandbox}
    finally:
        processes.stop()


@pytest.mark.load
def test_healthz_stays_fast_under_waits_and_a_slow_buffer(served: dict[str, Any]) -> None:
    base, headers = served["base"], served["headers"]
    assert requests.get(f"{base}/v1/profiles", headers=headers, timeout=10).status_code == 200
    served["sb"].sandbox.set_faults(latency=20.0)
    body = {"action": "set", "profile": "@skinnyoteam", "days": "mon", "times": "9am"}
    waits = 24  # more than the 16 threads of the process
    pool = concurrent.futures.ThreadPoolExecutor(waits + 4)

    def wait_request(n: int) -> int:
        change = {**body, "times": f"{n % 12 + 1}am"}
        url = f"{base}/hooks/zapier?wait=25"
        return requests.post(url, json=change, headers=headers, timeout=40).status_code

    def slow_read() -> tuple[int, float]:
        started = time.monotonic()
        response = requests.get(f"{base}{PATCH_URL}", headers=headers, timeout=40)
        return response.status_code, time.monotonic() - started

    reads = [pool.submit(slow_read) for _ in range(2)]
    time.sleep(0.2)  # the reads hold a slot each, waiting on Buffer
    futures = [pool.submit(wait_request, n) for n in range(waits)]
    time.sleep(1.0)  # every wait has arrived and holds what it can
    latencies = []
    for _ in range(10):
        started = time.monotonic()
        assert requests.get(f"{base}/healthz", timeout=5).status_code == 200
        latencies.append(time.monotonic() - started)
        time.sleep(0.2)
    print(f"\n/healthz under load: max {max(latencies):.3f}s, latencies {latencies}")
    read_results = [f.result() for f in reads]
    print(f"slow-Buffer schedule reads: {read_results}")
    statuses = [f.result() for f in futures]
    print(f"?wait=25 answers: {sorted(statuses)}")
    pool.shutdown()
    assert max(latencies) < 1.0
    assert all(status == 200 and seconds < 5.0 for status, seconds in read_results)
    assert statuses.count(429) >= waits - 8  # beyond WAIT_MAX_CONCURRENT (8)
