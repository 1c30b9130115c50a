"""One harness for the tests, the benchmarks and `bridge dev`: a free port, waiting for a
condition, and (in the submodules) a private redis-server, a private PostgreSQL cluster
and supervised `bridge` processes.

- `bridge.harness`: `free_port`, `wait_until`, `bridge_command`, the errors
- `bridge.harness.redis_server`: `RedisServer`
- `bridge.harness.postgres`: `PostgresCluster`, `find_binary`
- `bridge.harness.processes`: `Processes` (children logged to files), `answers`

`bridge dev` uses it at run time, so it needs the runtime set only (never pytest): a
test turns `HarnessError` into a failure or a skip itself (tests/conftest.py).
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable
from typing import Any

HOST = "127.0.0.1"


class HarnessError(RuntimeError):
    """Something the harness starts could not start (a missing binary, a failed command)."""


class MissingTool(HarnessError):
    """A program the harness needs is not installed (tests skip, or fail under CI)."""


class WaitTimeout(AssertionError):
    """`wait_until`'s condition did not hold in time: in a test, a failed check."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_until(
    check: Callable[[], Any],
    timeout: float = 10.0,
    what: str = "",
    interval: float = 0.05,
) -> Any:
    """Poll `check` until it returns something truthy and return that; `WaitTimeout`
    (naming `what`) after `timeout` seconds. An exception from `check` propagates."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    if what:
        raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}")
    raise WaitTimeout(f"condition not met within {timeout}s")


def bridge_command(*args: str) -> list[str]:
    """The `bridge` CLI with this interpreter (works without the venv on PATH)."""
    return [sys.executable, "-m", "bridge.cli", *args]
