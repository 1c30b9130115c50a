""" "Run now" on a rotation plan of 50 identical `* * * * *` steps (issue 20).

The plan is the worst the API accepts for this path: MAX_STEPS steps, each due every
minute, on the sandbox's example profile (@skinnyoteam). Each run is
`rotation.run_now` as the web request calls it (claim, find the step in effect now,
store the job, wake the worker), in this process, against a private redis-server, the
built-in sandbox and a SQLite file in a temporary directory. No worker runs: the figure
is the request's own work. Also times one beat tick after a week of downtime (the
catch-up path), which counts the superseded runs.

Prints min / median / max of --runs (wall time of the call; CPU time beside it).

    .venv/bin/python bench/rotation_run_now.py [--runs 7] [--steps 50] [--down-days 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.append(str(Path(__file__).resolve().parent.parent))  # after PYTHONPATH

import harness
import redis

from bridge import models, presets, rotation, snapshots
from bridge import sandbox as sim
from bridge.config import load_settings
from bridge.migrate import upgrade
from bridge.services import Services

PLAN = "every-minute"
SANDBOX_TOKEN = "sandbox-token"  # the sandbox's default account


def start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = harness.free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"

    def pings() -> bool:
        try:
            return bool(redis.Redis.from_url(url).ping())
        except redis.ConnectionError:
            return False

    harness.wait_until(pings, 10, "redis-server")
    return process, url


def timed(call: Callable[[], Any], runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds of `runs` calls."""
    wall, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        call()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        time.sleep(1.05)  # run now's job key names the second: each run makes its own job
    return wall, cpu


def line(what: str, wall: list[float], cpu: list[float]) -> str:
    return (
        f"{what}: median {statistics.median(wall):,.1f} ms, min {min(wall):,.1f} ms, "
        f"max {max(wall):,.1f} ms (CPU median {statistics.median(cpu):,.1f} ms; "
        f"{len(wall)} runs)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--down-days", type=int, default=7)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        redis_process, redis_url = start_redis(workdir)
        running = sim.start(sim.SandboxConfig(seed=7, profiles=5, rate_limit=(100_000, 60.0)))
        database_url = f"sqlite:///{workdir / 'bridge.db'}"
        upgrade(database_url)
        settings = load_settings(
            {
                "LOG_FORMAT": "text",
                "LOG_LEVEL": "WARNING",
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "BUFFER_API_URL": running.url,
                "BUFFER_ACCESS_TOKEN": SANDBOX_TOKEN,
            }
        )
        services = Services(settings)
        try:
            snapshots.take_account(services, "default")  # the profile cache, with its zone
            operator = rotation.system_client()
            week, account = presets.source_week(
                services, operator, {"daily": ["10:00"]}, None, None
            )
            presets.create(services, operator, "minute", week, account)
            body = {
                "profiles": ["@skinnyoteam"],
                "steps": [{"preset": "minute", "cron": "* * * * *"}] * options.steps,
                "start": "next",  # made without a run: the runs below are what is measured
            }
            started = time.perf_counter()
            rotation.save(services, None, PLAN, body, create=True)
            print(
                f"plan of {options.steps} '* * * * *' steps saved in "
                f"{(time.perf_counter() - started) * 1000:,.1f} ms"
            )
            wall, cpu = timed(lambda: rotation.run_now(services, None, PLAN), options.runs)
            print(line("run now", wall, cpu))

            def tick_after_downtime() -> None:
                with services.db.session() as session:
                    target = session.query(models.RotationTarget).one()
                    now = models.utcnow()
                    target.done_until = now - dt.timedelta(days=options.down_days)
                    target.next_run_at = target.done_until + dt.timedelta(minutes=1)
                rotation.tick(services)

            wall, cpu = timed(tick_after_downtime, options.runs)
            print(line(f"beat tick after {options.down_days} days down", wall, cpu))
        finally:
            services.close()
            running.stop()
            redis_process.terminate()
            redis_process.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
