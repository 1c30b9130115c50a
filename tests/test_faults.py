"""Everything accepted is applied, exactly as asked, in order, whatever fails underneath.

Each test is a whole deployment of real processes (`tests/processes.py`: sandbox,
`bridge serve`, `bridge worker`, `bridge beat`) on a private Redis. Changes go in from one
client, through REST and the Zapier webhook in turn (so request order is job-id order),
while something fails underneath:

- Buffer (the sandbox) fails 20 % of calls with 500, 10 % with 429, drops 5 % of
  connections and answers 5 % past the client's read timeout; a worker and beat are
  SIGKILLed mid-run and started again;
- Redis is stopped while changes arrive (each still accepted) and started again with
  its data gone (the queue, the locks, the limiter's windows);
- two web processes and three workers share one Redis and one PostgreSQL, Buffer fails
  calls, a worker is SIGKILLed, and Buffer's own rate limit never answers 429: the
  limiter stays exact across machines.

Each ends by checking that every job succeeded and every profile in the sandbox holds
exactly the fold of its jobs' operations, in id order, over what it held before.

The default (CI) form is short; BRIDGE_FAULTS_LONG=1 runs the long form by hand
(`BRIDGE_FAULTS_LONG=1 make test PYTEST_ARGS="-m faults -s"`), printing its figures.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from bridge import schedules
from tests.conftest import RedisServer, wait_until
from tests.processes import Changes, Stack, assert_all_applied, count_faults, wait_all_finished

pytestmark = [pytest.mark.faults, pytest.mark.integration]

LONG = os.environ.get("BRIDGE_FAULTS_LONG", "") not in ("", "0")
PROFILES = 30 if LONG else 6
CHANGES = 400 if LONG else 60
DRAIN_TIMEOUT = 600 if LONG else 150
TEST_TIMEOUT = 1200 if LONG else 300
BUFFER_FAULTS = {
    "error_rate": 0.20,
    "rate_429": 0.10,
    "drop_rate": 0.05,
    "slow_rate": 0.05,
    "slow_seconds": 2.5,  # past the client's read timeout (BUFFER_TIMEOUT=2,1.5)
}
NO_FAULTS = dict.fromkeys(BUFFER_FAULTS, 0)
PACE = 0.005  # seconds between changes: syncs run while changes arrive
REDIS_DOWN_FOR = 12.0 if LONG else 4.0  # seconds of changes arriving with Redis stopped


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """Builds the test's stack on a private Redis; stops every process at the end."""
    redis_dir = tmp_path / "redis"
    redis_dir.mkdir()
    redis = RedisServer(redis_dir)
    redis.start()
    made: list[Stack] = []

    def make(database_url: str | None = None, **options: str) -> Stack:
        database_url = database_url or f"sqlite:///{tmp_path / 'bridge.db'}"
        stack = Stack(tmp_path, redis, database_url, **options)
        made.append(stack)
        return stack

    try:
        yield make
    finally:
        for stack in made:
            stack.stop()
        redis.stop()


def _ready(
    stack: Stack, webs: int = 1, workers: int = 1, sandbox_limit: str = "6000/60s"
) -> tuple[Changes, dict[str, schedules.Week]]:
    """Start everything, snapshot the sandbox's profiles; the run's sender and what each
    profile held before it."""
    stack.start_sandbox(PROFILES, rate_limit=sandbox_limit)
    token = stack.prepare()
    for _ in range(webs):
        stack.start_web()
    for _ in range(workers):
        stack.start_worker()
    stack.start_beat()  # the reconciler re-wakes what a killed worker or lost queue held
    headers = {"Authorization": f"Bearer {token}"}
    snapshot = requests.post(f"{stack.bases[0]}/v1/snapshots", json={}, headers=headers, timeout=10)
    assert snapshot.status_code == 202, snapshot.text
    job = f"{stack.bases[0]}/v1/jobs/{snapshot.json()['job_id']}"
    wait_until(
        lambda: requests.get(job, headers=headers, timeout=5).json()["status"] == "succeeded",
        timeout=60,
        interval=0.2,
    )
    ids = stack.profile_ids(PROFILES)
    return Changes(stack, token, ids), {pid: stack.week(pid) for pid in ids}


def _report(name: str, run: Changes, sent: float, drained: float, stack: Stack) -> None:
    calls = stack.buffer_calls()
    print(
        f"\n{name}: {len(run.job_ids)} changes on {len(run.profile_ids)} profiles sent in "
        f"{sent:.1f} s, all applied {drained:.1f} s after the first; Buffer calls "
        f"{len(calls)}, faults {count_faults(calls)}; lost: 0"
    )


@pytest.mark.timeout(TEST_TIMEOUT)
def test_every_change_lands_through_buffer_faults_and_killed_processes(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    run, before = _ready(stack)
    stack.set_faults(**BUFFER_FAULTS)
    started = time.monotonic()
    quarter = CHANGES // 4
    run.send(quarter, pace=PACE)
    assert stack.beat is not None
    stack.kill(stack.beat)  # beat gone: nothing re-wakes lost work until it is back
    run.send(quarter, pace=PACE)
    stack.kill(stack.workers[0])  # mid-syncs: its tasks and locks are left behind
    stack.start_worker()
    stack.start_beat()
    run.send(CHANGES - 2 * quarter, pace=PACE)
    sent = time.monotonic() - started

    drained = wait_all_finished(stack, run.job_ids, DRAIN_TIMEOUT) + sent
    stack.set_faults(**NO_FAULTS)
    assert_all_applied(stack, run.job_ids, before)
    _report("buffer faults, killed worker and beat", run, sent, drained, stack)


@pytest.mark.timeout(TEST_TIMEOUT)
def test_every_change_lands_when_redis_is_down_and_comes_back_empty(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    run, before = _ready(stack)
    stack.set_faults(error_rate=0.1)
    started = time.monotonic()
    third = CHANGES // 3
    run.send(third, pace=PACE)
    # Redis stops with tasks queued, locks held and syncs running; changes keep arriving
    # and are accepted (stored; the reconciler wakes their profiles once Redis is back)
    accepted_while_down = stack.restart_redis(
        during=lambda: run.send(third, pace=REDIS_DOWN_FOR / third)
    )
    run.send(CHANGES - 2 * third, pace=PACE)
    sent = time.monotonic() - started

    assert len(accepted_while_down) == third
    slowest = max(answer.elapsed.total_seconds() for answer in accepted_while_down)
    assert slowest < 2.0, f"accepting a change without Redis took {slowest:.2f} s"
    drained = wait_all_finished(stack, run.job_ids, DRAIN_TIMEOUT) + sent
    stack.set_faults(**NO_FAULTS)
    assert_all_applied(stack, run.job_ids, before)
    _report("redis down, then back empty", run, sent, drained, stack)
    print(f"slowest 202 while Redis was down: {slowest * 1000:.0f} ms")


@pytest.mark.timeout(TEST_TIMEOUT)
def test_two_webs_and_three_workers_keep_order_and_buffers_limit(
    postgres_url: str, make_stack: Callable[..., Stack]
) -> None:
    # (postgres_url first: its schema is dropped after the processes using it have stopped)
    # the bridge and Buffer agree on a limit small enough that the run is held by it
    limit = "12/5s"
    stack = make_stack(postgres_url, buffer_rate_limit=limit)
    run, before = _ready(stack, webs=2, workers=3, sandbox_limit=limit)
    # no injected 429s: every 429 would be the sandbox's own limit, that is, the limiter's fault
    stack.set_faults(error_rate=0.2, drop_rate=0.05, slow_rate=0.05, slow_seconds=2.5)
    started = time.monotonic()
    half = CHANGES // 2
    run.send(half, pace=PACE)
    stack.kill(stack.workers[1])
    stack.start_worker()
    run.send(CHANGES - half, pace=PACE)
    sent = time.monotonic() - started

    drained = wait_all_finished(stack, run.job_ids, DRAIN_TIMEOUT) + sent
    stack.set_faults(**NO_FAULTS)
    assert_all_applied(stack, run.job_ids, before)
    assert count_faults(stack.buffer_calls())["limit"] == 0
    _report("2 web, 3 workers, one Redis and PostgreSQL", run, sent, drained, stack)
