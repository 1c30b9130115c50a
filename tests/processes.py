"""Real `bridge` processes for tests that drive the whole system over sockets.

`Processes` starts, kills and stops children; `Stack` is a whole deployment on one
machine (sandbox, web processes, workers, beat) over a private Redis and a store, for the
fault tests; `Changes` sends a run's changes through REST and the Zapier webhook in turn
and `assert_all_applied` checks the promise at the end of a run.

`Processes`, `answers` and `bridge_command` live in the harness (bridge/harness/, with the
Redis launcher, free_port and wait_until); they stay importable from here.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from bridge import models, schedules
from bridge.harness import bridge_command as bridge_command
from bridge.harness import free_port, wait_until
from bridge.harness.processes import Processes as Processes
from bridge.harness.processes import answers as answers
from bridge.harness.redis_server import RedisServer
from bridge.jobs import operation_of
from tests.conftest import SANDBOX_TOKEN

# The test reads the sandbox with its own token: Buffer limits each token on its own, so
# the test's reads never spend the budget the bridge's limiter counts on.
OBSERVER_TOKEN = "observer-token"


class Stack(Processes):
    """One deployment: the sandbox as Buffer, `webs` web processes, workers and beat on a
    private Redis (which a test may stop, empty and start) and the store at `database_url`.

    Timings are shortened so a run drains in seconds: the reconciler looks every 2 s for
    work overdue by 3 s, and a sync retries for up to 40 attempts, at most 2 s apart."""

    def __init__(
        self,
        tmp: Path,
        redis: RedisServer,
        database_url: str,
        buffer_rate_limit: str = "6000/60s",
        **env: str,
    ) -> None:
        super().__init__({}, tmp)
        self.redis = redis
        self.sandbox_port = free_port()
        self.api = f"http://127.0.0.1:{self.sandbox_port}/1/"
        self.control = f"http://127.0.0.1:{self.sandbox_port}/__sandbox/"
        self.database_url = database_url
        self.bases: list[str] = []
        self.workers: list[subprocess.Popen[bytes]] = []
        self.beat: subprocess.Popen[bytes] | None = None
        self.env = {
            **os.environ,
            "REDIS_URL": redis.url,
            "DATABASE_URL": database_url,
            "BUFFER_API_URL": self.api,
            "BUFFER_ACCESS_TOKEN": SANDBOX_TOKEN,
            "BUFFER_TIMEOUT": "2,1.5",
            "BUFFER_RATE_LIMIT": buffer_rate_limit,
            "SYNC_MAX_ATTEMPTS": "40",
            "SYNC_BACKOFF_MAX": "2s",
            "RECONCILE_INTERVAL": "2s",
            "RECONCILE_AFTER": "3s",
            "LOG_FORMAT": "text",
            "LOG_LEVEL": "WARNING",
            "BEAT_HEARTBEAT_FILE": str(tmp / "beat.heartbeat"),
            **env,
        }

    def start_sandbox(self, profiles: int, rate_limit: str = "6000/60s") -> None:
        self.start(
            "sandbox",
            "sandbox",
            "--port",
            str(self.sandbox_port),
            "--profiles",
            str(profiles),
            "--rate-limit",
            rate_limit,
            "--token",
            SANDBOX_TOKEN,
            "--token",
            f"{OBSERVER_TOKEN}=default",
        )
        wait_until(lambda: answers(f"{self.control}faults"), timeout=30)

    def prepare(self) -> str:
        """Migrate the store and make a client; returns its token."""
        self.run("db", "upgrade")
        return self.run("clients", "create", "faults").strip().splitlines()[-1]

    def snapshot(self, token: str) -> None:
        """Snapshot every account through the API and wait for it: fills the catalog."""
        headers = {"Authorization": f"Bearer {token}"}
        answer = requests.post(
            f"{self.bases[0]}/v1/snapshots", json={}, headers=headers, timeout=10
        )
        assert answer.status_code == 202, answer.text
        job = f"{self.bases[0]}/v1/jobs/{answer.json()['job_id']}"
        wait_until(
            lambda: requests.get(job, headers=headers, timeout=5).json()["status"] == "succeeded",
            timeout=60,
            interval=0.2,
        )

    def start_web(self) -> str:
        """One more `bridge serve` (its own gunicorn); returns its base URL once it answers."""
        port = free_port()
        self.start(f"web-{len(self.bases) + 1}", "serve", "--port", str(port))
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: answers(f"{base}/healthz"), timeout=30)
        self.bases.append(base)
        return base

    def start_worker(self) -> subprocess.Popen[bytes]:
        worker = self.start(f"worker-{len(self.workers) + 1}", "worker", "--concurrency", "2")
        self.workers.append(worker)
        return worker

    def start_beat(self) -> None:
        schedule = str(self.logdir / "celerybeat-schedule")
        self.beat = self.start("beat", "beat", "--schedule", schedule)

    def restart_redis(self, during: Callable[[], Any]) -> Any:
        """Stop Redis (its data is gone: it keeps nothing on disk), run `during` while it
        is down, start it again empty; returns what `during` returned."""
        self.redis.stop()
        result = during()
        self.redis.start()
        return result

    def profile_ids(self, count: int) -> list[str]:
        accounts = requests.get(f"{self.control}accounts", timeout=10).json()
        return [p["id"] for a in accounts for p in a["profiles"]][:count]

    def week(self, profile_id: str) -> schedules.Week:
        url = f"{self.api}profiles/{profile_id}/schedules.json"
        headers = {"Authorization": f"Bearer {OBSERVER_TOKEN}"}

        def read() -> requests.Response | None:
            answer = requests.get(url, headers=headers, timeout=10)
            return None if answer.status_code == 429 else answer  # the observer's own limit

        answer = wait_until(read, timeout=120, interval=0.5)
        assert answer.status_code == 200, answer.text
        return schedules.from_buffer(answer.json())

    def set_faults(self, **rates: float) -> None:
        put = requests.put(f"{self.control}faults", json=rates, timeout=10)
        assert put.status_code == 200, put.text

    def buffer_calls(self) -> list[dict[str, Any]]:
        """The sandbox's record of every request the bridge sent it (its token's label is
        the account's name; the test's own reads are labelled "default#2")."""
        calls = requests.get(f"{self.control}requests", timeout=30).json()
        return [call for call in calls if call.get("token") == "default"]


DAYS = ("mon", "tue", "wed", "weekends", "weekdays", "fri", "sun")
TIMES = ("07:30", "08:00", "09:15", "12:00", "15:45", "18:00", "21:10")


class Changes:
    """A run's changes, sent one after another by one client (so request order is job-id
    order), through REST PATCH and the Zapier webhook in turn, round-robin over the web
    processes. Change n is a pure function of n, so a run is the same every time."""

    def __init__(self, stack: Stack, token: str, profile_ids: list[str]) -> None:
        self.stack, self.token, self.profile_ids = stack, token, profile_ids
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"
        self.job_ids: list[int] = []
        self.sent = 0

    def send(self, count: int = 1, pace: float = 0.0) -> list[requests.Response]:
        """Send the next `count` changes; every one must be accepted (202)."""
        answers = []
        for _ in range(count):
            answer = self.send_one()
            assert answer.status_code == 202, (answer.status_code, answer.text)
            self.job_ids.append(int(answer.json()["job_id"]))
            answers.append(answer)
            if pace:
                time.sleep(pace)
        return answers

    def send_one(self) -> requests.Response:
        """Send change number `self.sent` and count it; the caller judges the answer."""
        number = self.sent
        self.sent += 1
        base = self.stack.bases[number % len(self.stack.bases)]
        profile_id = self.profile_ids[number % len(self.profile_ids)]
        days = DAYS[number % len(DAYS)]
        times = [TIMES[number % len(TIMES)], TIMES[(number * 3) % len(TIMES)]]
        action = ("set", "add", "add")[number % 3]
        if number % 2:  # Zapier's form post, token in the URL as a Zap sends it
            form = {
                "profile": profile_id,
                "action": action,
                "days": days,
                "times": ", ".join(times),
            }
            return self.http.post(f"{base}/hooks/zapier/{self.token}", data=form, timeout=30)
        body = {"days": days, "times": times, "mode": action}
        url = f"{base}/v1/profiles/{profile_id}/schedules"
        return self.http.patch(url, json=body, timeout=30)


def wait_all_finished(stack: Stack, job_ids: list[int], timeout: float) -> float:
    """Wait until every job has succeeded or failed; returns the seconds waited. Fails at
    once if a process of the stack died on its own (a crash is a failure, not a delay)."""
    engine = create_engine(stack.database_url)
    started = time.monotonic()

    def finished() -> bool:
        query = select(func.count()).where(
            models.Job.id.in_(job_ids), models.Job.status.in_(("succeeded", "failed"))
        )
        assert not stack.dead(), f"died during the run: {stack.dead()}"
        with Session(engine) as session:
            return session.scalar(query) == len(set(job_ids))

    try:
        wait_until(finished, timeout=timeout, interval=0.5)
    finally:
        engine.dispose()
    return time.monotonic() - started


def assert_all_applied(stack: Stack, job_ids: list[int], before: dict[str, schedules.Week]) -> None:
    """Every job succeeded, and every profile in the sandbox holds exactly the fold of its
    jobs' operations, in job-id order, over what it held before the run."""
    engine = create_engine(stack.database_url)
    try:
        with Session(engine) as session:
            query = select(models.Job).where(models.Job.id.in_(job_ids)).order_by(models.Job.id)
            rows = list(session.scalars(query))
            failed = [
                (row.id, row.status, row.error_message) for row in rows if row.status != "succeeded"
            ]
            asked: dict[str, list[schedules.Operation]] = {pid: [] for pid in before}
            for row in rows:
                asked[str(row.profile_id)].append(operation_of(row))
    finally:
        engine.dispose()
    assert len(rows) == len(set(job_ids)) and not failed, failed[:5]
    for profile_id, week in before.items():
        assert stack.week(profile_id) == schedules.fold(week, asked[profile_id]), profile_id


def count_faults(calls: list[dict[str, Any]]) -> dict[str, int]:
    """Faults the sandbox injected, by kind, and 429s its own rate limit gave (`limit`)."""
    counted = {
        kind: sum(1 for c in calls if c.get("fault") == kind)
        for kind in ("error", "429", "drop", "slow")
    }
    counted["limit"] = sum(1 for c in calls if c.get("status") == 429 and not c.get("fault"))
    return counted
