"""A worker killed mid-sync (issue 21, "Recovery"): its profile is synced again within
10 s of the death, with the reconciler at its production pace (it would take minutes).

The killed worker's task is not redelivered for hours (the broker's visibility timeout)
and its lock outlives it; what brings the profile back is the short lock life
(locks.LOCK_TTL, renewed while a sync runs) and beat's `rescue` timer, which wakes
profiles marked as syncing whose lock has gone. Fencing is unchanged: the new sync acts
only while it holds the lock (tests/test_sync_fencing.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_py

from bridge.locks import lock_key
from tests.conftest import RedisServer
from tests.processes import Changes, Stack, wait_all_finished

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

RECOVERY_GOAL = 10.0  # seconds from the death to the change applied


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    redis_dir = tmp_path / "redis"
    redis_dir.mkdir()
    server = RedisServer(redis_dir)
    server.start()
    # the reconciler at its defaults: a dead sync must not wait for it
    built = Stack(
        tmp_path,
        server,
        f"sqlite:///{tmp_path / 'bridge.db'}",
        RECONCILE_INTERVAL="60s",
        RECONCILE_AFTER="120s",
        SYNC_SETTLE="0",
    )
    try:
        yield built
    finally:
        built.stop()
        server.stop()


def test_a_profile_whose_worker_died_mid_sync_is_synced_within_ten_seconds(stack: Stack) -> None:
    stack.start_sandbox(1)
    token = stack.prepare()
    stack.start_web()
    worker = stack.start_worker()
    stack.start_beat()
    stack.snapshot(token)
    [profile_id] = stack.profile_ids(1)
    store = redis_py.Redis.from_url(stack.redis.url)

    # every Buffer call hangs past the read deadline: the sync holds its lock meanwhile
    stack.set_faults(slow_rate=1.0, slow_seconds=30)
    run = Changes(stack, token, [profile_id])
    run.send(1)
    deadline = time.monotonic() + 30
    while not store.exists(lock_key(profile_id)):
        assert time.monotonic() < deadline, "no sync took the profile's lock"
        time.sleep(0.05)
    stack.kill(worker)
    died = time.monotonic()
    stack.set_faults(slow_rate=0.0)
    stack.start_worker()

    waited = wait_all_finished(stack, run.job_ids, timeout=60)
    recovered = time.monotonic() - died
    print(f"\nprofile synced again {recovered:.1f} s after its worker died")
    assert waited >= 0
    assert recovered < RECOVERY_GOAL
    job = run.http.get(f"{stack.bases[0]}/v1/jobs/{run.job_ids[0]}", timeout=10).json()
    assert job["status"] == "succeeded", job
