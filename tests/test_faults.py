"""Everything accepted is applied, exactly as asked, in order, whatever fails underneath.

Real processes (sandbox, `bridge serve`, `bridge worker`) on a private Redis and SQLite:
changes go in through REST from one client (so request order is job-id order) while the
sandbox fails 20 % of calls with 500, 10 % with 429, drops 5 % of connections and answers
5 % past the client's read timeout, and a worker is SIGKILLed mid-run and restarted. At the
end every job has succeeded and every profile in the sandbox holds exactly the fold of its
jobs' operations, in id order, over what it held before.

The default (CI) form is short; BRIDGE_FAULTS_LONG=1 runs the long form by hand
(`BRIDGE_FAULTS_LONG=1 make test PYTEST_ARGS="-m faults -s"`), printing its figures.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bridge import models, schedules
from bridge.jobs import operation_of
from tests.conftest import SANDBOX_TOKEN, free_port, wait_until

pytestmark = [pytest.mark.faults, pytest.mark.integration]

LONG = os.environ.get("BRIDGE_FAULTS_LONG", "") not in ("", "0")
PROFILES = 30 if LONG else 6
CHANGES = 400 if LONG else 60
FAULTS = {
    "error_rate": 0.20,
    "rate_429": 0.10,
    "drop_rate": 0.05,
    "slow_rate": 0.05,
    "slow_seconds": 2.5,  # past the client's read timeout (BUFFER_TIMEOUT=2,1.5)
}
DAYS = ("mon", "tue", "wed", "weekends", "weekdays", "fri", "sun")
TIMES = ("07:30", "08:00", "09:15", "12:00", "15:45", "18:00", "21:10")


def _bridge(*args: str) -> list[str]:
    return [sys.executable, "-m", "bridge.cli", *args]


class Stack:
    def __init__(self, tmp: Path, redis_url: str) -> None:
        self.tmp = tmp
        self.sandbox_port, self.web_port = free_port(), free_port()
        self.api = f"http://127.0.0.1:{self.sandbox_port}/1/"
        self.control = f"http://127.0.0.1:{self.sandbox_port}/__sandbox/"
        self.base = f"http://127.0.0.1:{self.web_port}"
        self.db_url = f"sqlite:///{tmp / 'bridge.db'}"
        self.env = {
            **os.environ,
            "REDIS_URL": redis_url,
            "DATABASE_URL": self.db_url,
            "BUFFER_API_URL": self.api,
            "BUFFER_ACCESS_TOKEN": SANDBOX_TOKEN,
            "BUFFER_TIMEOUT": "2,1.5",
            "BUFFER_RATE_LIMIT": "6000/60s",
            "SYNC_MAX_ATTEMPTS": "40",
            "SYNC_BACKOFF_MAX": "2s",
            "RECONCILE_INTERVAL": "2s",
            "RECONCILE_AFTER": "3s",
            "LOG_FORMAT": "text",
            "LOG_LEVEL": "WARNING",
            "BEAT_HEARTBEAT_FILE": str(tmp / "beat.heartbeat"),
        }
        self.children: list[subprocess.Popen[bytes]] = []
        self.worker: subprocess.Popen[bytes] | None = None

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115
        env = {**self.env, "WORKER_METRICS_PORT": str(free_port())}
        child = subprocess.Popen(_bridge(*args), env=env, stdout=log, stderr=log)
        self.children.append(child)
        return child

    def run(self, *args: str) -> str:
        done = subprocess.run(_bridge(*args), env=self.env, capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout.decode()

    def start_worker(self) -> None:
        self.worker = self.start("worker", "worker", "--concurrency", "2")

    def stop(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.terminate()
        for child in self.children:
            try:
                child.wait(20)
            except subprocess.TimeoutExpired:
                child.kill()


@pytest.fixture
def stack(tmp_path: Path, redis_url: str) -> Any:
    made = Stack(tmp_path, redis_url)
    try:
        made.start(
            "sandbox", "sandbox", "--port", str(made.sandbox_port), "--profiles", str(PROFILES)
        )
        wait_until(lambda: _answers(f"{made.control}faults"), timeout=30)
        yield made
    finally:
        made.stop()


def _sandbox_week(stack: Stack, profile_id: str) -> schedules.Week:
    url = f"{stack.api}profiles/{profile_id}/schedules.json"
    headers = {"Authorization": f"Bearer {SANDBOX_TOKEN}"}
    return schedules.from_buffer(requests.get(url, headers=headers, timeout=10).json())


@pytest.mark.timeout(900 if LONG else 240)
def test_every_change_lands_in_order_through_faults_and_a_killed_worker(stack: Stack) -> None:
    stack.run("db", "upgrade")
    token = stack.run("clients", "create", "faults").strip().splitlines()[-1]
    stack.start("web", "serve", "--port", str(stack.web_port))
    stack.start_worker()
    # the reconciler re-wakes what a killed worker held
    stack.start("beat", "beat", "--schedule", str(stack.tmp / "celerybeat-schedule"))
    headers = {"Authorization": f"Bearer {token}"}
    wait_until(lambda: _answers(f"{stack.base}/healthz"), timeout=30)
    accounts = requests.get(f"{stack.control}accounts", timeout=10).json()
    ids = [p["id"] for a in accounts for p in a["profiles"]][:PROFILES]
    snap = requests.post(f"{stack.base}/v1/snapshots", json={}, headers=headers, timeout=10)
    _wait_job(stack, headers, snap.json()["job_id"])
    before = {pid: _sandbox_week(stack, pid) for pid in ids}

    put = requests.put(f"{stack.control}faults", json=FAULTS, timeout=10)
    assert put.status_code == 200, put.text
    started = time.monotonic()
    job_ids: list[int] = []
    session = requests.Session()
    session.headers.update(headers)
    for number in range(CHANGES):
        profile_id = ids[number % len(ids)]
        body = {
            "days": DAYS[number % len(DAYS)],
            "times": [TIMES[number % len(TIMES)], TIMES[(number * 3) % len(TIMES)]],
            "mode": ("set", "add", "add")[number % 3],
        }
        response = session.patch(
            f"{stack.base}/v1/profiles/{profile_id}/schedules", json=body, timeout=30
        )
        assert response.status_code == 202, response.text
        job_ids.append(int(response.json()["job_id"]))
        if number == CHANGES // 2:  # mid-run: kill the worker hard, start another
            assert stack.worker is not None
            stack.worker.send_signal(signal.SIGKILL)
            stack.worker.wait(10)
            stack.start_worker()
        if number % 10 == 0:
            time.sleep(0.05)  # a human-ish pace: syncs run while changes arrive
    sent = time.monotonic() - started

    engine = create_engine(stack.db_url)

    def finished() -> bool:
        with Session(engine) as s:
            rows = s.execute(select(models.Job.status).where(models.Job.id.in_(job_ids))).scalars()
            return all(status in ("succeeded", "failed") for status in rows)

    wait_until(finished, timeout=600 if LONG else 150, interval=0.5)
    drained = time.monotonic() - started
    requests.put(f"{stack.control}faults", json={k: 0 for k in FAULTS}, timeout=10)

    records = requests.get(f"{stack.control}requests", timeout=30).json()
    injected = {
        f: sum(1 for r in records if r.get("fault") == f) for f in ("error", "429", "drop", "slow")
    }
    with Session(engine) as s:
        rows = list(
            s.scalars(select(models.Job).where(models.Job.id.in_(job_ids)).order_by(models.Job.id))
        )
        statuses = {row.id: row.status for row in rows}
        failed = [(row.id, row.error_message) for row in rows if row.status != "succeeded"]
        asked: dict[str, list[schedules.Operation]] = {pid: [] for pid in ids}
        for row in rows:
            asked[row.profile_id].append(operation_of(row))
    engine.dispose()
    assert len(statuses) == CHANGES and not failed, failed[:5]
    for pid in ids:
        expected = schedules.fold(before[pid], asked[pid])
        assert _sandbox_week(stack, pid) == expected, pid
    print(
        f"\nfaults: {CHANGES} changes on {len(ids)} profiles sent in {sent:.1f} s, all applied "
        f"{drained:.1f} s after the first; Buffer calls {len(records)}, faults injected "
        f"{injected}; lost: 0"
    )


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _wait_job(stack: Stack, headers: dict[str, str], job_id: int) -> None:
    def done() -> bool:
        body = requests.get(f"{stack.base}/v1/jobs/{job_id}", headers=headers, timeout=5).json()
        return body["status"] == "succeeded"

    wait_until(done, timeout=30, interval=0.2)
