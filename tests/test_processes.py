"""As a new user would: separate `bridge` processes talking over real sockets."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import SANDBOX_TOKEN, free_port, wait_until
from tests.processes import Processes, answers, bridge_command

DOCS_PROFILE = "4eb854340acb04e870000010"
pytestmark = pytest.mark.integration


@pytest.fixture
def processes(tmp_path: Path, redis_url: str) -> Iterator[Processes]:
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bridge.db'}",
        "BUFFER_ACCESS_TOKEN": SANDBOX_TOKEN,
        "LOG_FORMAT": "text",
    }
    procs = Processes(env, tmp_path)
    yield procs
    procs.stop()


def wait_job(base: str, headers: dict[str, str], job_id: int) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body = requests.get(f"{base}/v1/jobs/{job_id}", headers=headers, timeout=5).json()
        return body if body["status"] in ("succeeded", "failed") else None

    return wait_until(done, timeout=30, interval=0.2)


def sandbox_schedules(api: str) -> list[dict[str, Any]]:
    url = f"{api}profiles/{DOCS_PROFILE}/schedules.json"
    headers = {"Authorization": f"Bearer {SANDBOX_TOKEN}"}
    return requests.get(url, headers=headers, timeout=5).json()  # type: ignore[no-any-return]


def test_serve_worker_sandbox_as_separate_processes(processes: Processes) -> None:
    sandbox_port, web_port = free_port(), free_port()
    api = f"http://127.0.0.1:{sandbox_port}/1/"
    processes.env["BUFFER_API_URL"] = api
    processes.start("sandbox", "sandbox", "--port", str(sandbox_port))
    processes.run("db", "upgrade")
    token = processes.run("clients", "create", "curl-user").strip().splitlines()[-1]
    processes.start("web", "serve", "--port", str(web_port))
    processes.start("worker", "worker", "--concurrency", "2")
    base = f"http://127.0.0.1:{web_port}"
    wait_until(lambda: answers(f"{base}/healthz"), timeout=30)
    headers = {"Authorization": f"Bearer {token}"}

    put = requests.put(
        f"{base}/v1/profiles/@skinnyoteam/schedules",
        json={"schedules": [{"days": "weekends", "times": ["10:00"]}]},
        headers=headers,
        timeout=10,
    )
    assert put.status_code == 202, put.text
    assert wait_job(base, headers, put.json()["job_id"])["status"] == "succeeded"
    patch = requests.patch(
        f"{base}/v1/profiles/twitter:skinnyoteam/schedules",
        json={"days": "weekdays", "times": "9am, 12:30, 5pm"},
        headers=headers,
        timeout=10,
    )
    assert patch.status_code == 202
    assert wait_job(base, headers, patch.json()["job_id"])["status"] == "succeeded"
    assert sandbox_schedules(api) == [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "times": ["09:00", "12:30", "17:00"]},
        {"days": ["sat", "sun"], "times": ["10:00"]},
    ]

    history = requests.get(
        f"{base}/v1/profiles/@skinnyoteam/history", headers=headers, timeout=5
    ).json()["snapshots"]
    first_state = history[-1]  # the state before our first change
    restore = requests.post(
        f"{base}/v1/profiles/@skinnyoteam/schedules/restore",
        json={"snapshot_id": first_state["id"]},
        headers=headers,
        timeout=10,
    )
    assert wait_job(base, headers, restore.json()["job_id"])["status"] == "succeeded"
    assert sandbox_schedules(api) == first_state["schedules"]


def test_bridge_dev_runs_everything_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BUFFER_", "REDIS_URL"))}
    env.pop("DATABASE_URL", None)
    dev = subprocess.Popen(
        bridge_command("dev", "--port", str(port), "--data-dir", str(tmp_path / "var")),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    output: list[str] = []
    reader = threading.Thread(
        target=lambda: output.extend(line.decode() for line in iter(dev.stdout.readline, b"")),
        daemon=True,
    )
    reader.start()
    try:
        curl = wait_until(
            lambda: next((line for line in output if "curl -X PATCH" in line), None), timeout=60
        )
        token = re.search(r"Bearer (bb_[\w-]+)", curl).group(1)  # type: ignore[union-attr]
        body = re.search(r"-d '(.+)'", curl).group(1)  # type: ignore[union-attr]
        url = re.search(r"curl -X PATCH (\S+)", curl).group(1)  # type: ignore[union-attr]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        accepted = requests.patch(url, data=body, headers=headers, timeout=10)
        assert accepted.status_code == 202, accepted.text
        base = f"http://127.0.0.1:{port}"
        assert wait_job(base, headers, accepted.json()["job_id"])["status"] == "succeeded"
        metrics = requests.get(f"{base}/metrics", timeout=5).text
        assert 'route="/v1/profiles/<ref>/schedules"' in metrics
        assert 'bridge_operations_total{outcome="done"}' in metrics  # counted by the worker
        assert 'bridge_buffer_calls_total{endpoint="update_schedules"' in metrics
        env_file = tmp_path / "var" / "dev.env"
        assert any(f". {env_file}" in line for line in output)  # the CLI's one line
        assert "export BUFFER_API_URL=" in env_file.read_text()
    finally:
        os.killpg(dev.pid, signal.SIGINT)
        try:
            # bridge dev gives its children STOP_TIMEOUT (15 s) and then kills them: on a
            # busy 2-core machine five Python processes may need most of it
            code = dev.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(dev.pid, signal.SIGKILL)
            pytest.fail("bridge dev did not stop within 60 s:\n" + "".join(output[-40:]))
    assert code == 0, "".join(output[-30:])
    assert not (tmp_path / "var" / "dev.env").exists()  # it named this run's Redis and ports
    time.sleep(0.5)
    leftovers = subprocess.run(
        ["pgrep", "-f", str(tmp_path / "var")], capture_output=True, text=True
    ).stdout.split()
    assert leftovers == []


def test_bridge_dev_reports_a_child_that_dies(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BUFFER_", "REDIS_URL"))}
    env.pop("DATABASE_URL", None)
    data = tmp_path / "var"
    dev = subprocess.Popen(
        bridge_command("dev", "--port", str(port), "--data-dir", str(data)),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/healthz"), timeout=60)
        beat = subprocess.run(
            ["pgrep", "-f", f"beat --schedule {data}"], capture_output=True, text=True
        ).stdout.split()
        assert beat, "beat is not running"
        os.kill(int(beat[0]), signal.SIGKILL)
        code = dev.wait(30)
    finally:
        if dev.poll() is None:
            os.killpg(dev.pid, signal.SIGKILL)
    output = dev.stdout.read().decode()  # type: ignore[union-attr]
    assert code == 1
    assert "beat exited with code" in output


def test_two_workers_on_one_machine_are_two_celery_nodes(processes: Processes) -> None:
    """As if on two machines: each worker its own node name (--name, or WORKER_NAME, which
    `bridge healthcheck worker` reads too), even with metrics off (no port to tell apart)."""
    from celery import Celery

    processes.env["WORKER_METRICS_PORT"] = "0"
    processes.run("db", "upgrade")
    processes.start("worker-a", "worker", "-c", "1", "--name", "sync-a@machine-a")
    processes.env["WORKER_NAME"] = "sync-b@machine-b"
    processes.start("worker-b", "worker", "-c", "1")
    app = Celery("probe", broker=processes.env["REDIS_URL"])

    def both() -> set[str] | None:
        nodes = {name for reply in app.control.ping(timeout=0.5) for name in reply}
        return nodes if len(nodes) >= 2 else None

    assert wait_until(both, timeout=60, interval=0.5) == {"sync-a@machine-a", "sync-b@machine-b"}
    check = subprocess.run(
        bridge_command("healthcheck", "worker"), env=processes.env, capture_output=True, timeout=30
    )
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()
    assert "sync-b@machine-b: ok" in check.stdout.decode()
