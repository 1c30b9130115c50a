"""Real `bridge` processes started, killed and stopped together, each logging to a file:
the tests' process stack (tests/processes.py builds whole deployments on it)."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import requests

from bridge.harness import bridge_command, free_port


def answers(url: str) -> bool:
    """True when `url` answers 200 now."""
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


class Processes:
    """Children, each logging to `<logdir>/<name>.log`, all stopped at the end. Each child
    gets its own WORKER_METRICS_PORT (unless the environment sets one), so two workers on
    one machine are two Celery nodes, as on two machines."""

    def __init__(self, env: dict[str, str], logdir: Path) -> None:
        self.env, self.logdir = env, logdir
        self.children: list[subprocess.Popen[bytes]] = []
        self.names: dict[int, str] = {}
        self.killed: set[int] = set()

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.logdir / f"{name}.log", "ab")  # noqa: SIM115 (the child holds it)
        env = {"WORKER_METRICS_PORT": str(free_port()), **self.env}  # unless a test set it
        child = subprocess.Popen(bridge_command(*args), env=env, stdout=log, stderr=log)
        self.children.append(child)
        self.names[child.pid] = name
        return child

    def dead(self) -> list[str]:
        """Names of children that exited though no one stopped or killed them."""
        return [
            f"{self.names[c.pid]} (exit {c.returncode}; see {self.names[c.pid]}.log)"
            for c in self.children
            if c.poll() is not None and c.pid not in self.killed
        ]

    def run(self, *args: str) -> str:
        done = subprocess.run(bridge_command(*args), env=self.env, capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout.decode()

    def kill(self, child: subprocess.Popen[bytes]) -> None:
        """SIGKILL: no clean-up, no acknowledgements, locks left to expire."""
        self.killed.add(child.pid)
        child.send_signal(signal.SIGKILL)
        child.wait(10)

    def stop(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.terminate()
        for child in self.children:
            try:
                child.wait(20)
            except subprocess.TimeoutExpired:
                child.kill()
