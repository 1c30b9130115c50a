"""A private redis-server on a free port, which its owner may stop, restart and flush.

Tests run one per session (tests/conftest.py), each benchmark one per stack
(bench/harness.py), `bridge dev` one in its data directory (bridge/devserver.py)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import redis

from bridge.harness import HOST, HarnessError, MissingTool, free_port, wait_until

START_TIMEOUT = 10.0
# how a caller starts the server (a supervisor's spawn, a pinned launch); by default its
# output is dropped
Launch = Callable[[list[str]], "subprocess.Popen[bytes]"]


def _quiet(argv: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class RedisServer:
    """redis-server on 127.0.0.1 with its files in `workdir`: keeps nothing on disk unless
    `persistent` (then an append-only file, so a restart keeps the queue)."""

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        persistent: bool = False,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.port = port or free_port()
        self.workdir = workdir
        self.persistent = persistent
        self.extra_args = list(extra_args)  # e.g. ("--loglevel", "warning")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def argv(self) -> list[str]:
        """The command line; `MissingTool` when redis-server is not installed."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise MissingTool(
                "redis-server is not installed: install the 'redis-server' package "
                "(make run and make test do this where they can)"
            )
        argv = [binary, "--port", str(self.port), "--bind", HOST, "--dir", str(self.workdir)]
        argv += ["--appendonly", "yes" if self.persistent else "no", "--save", ""]
        return argv + self.extra_args

    def start(self, launch: Launch = _quiet, timeout: float = START_TIMEOUT) -> None:
        """Start it (through `launch`) and wait until it answers a PING."""
        self.process = launch(self.argv())
        client = redis.Redis(host=HOST, port=self.port, socket_timeout=1)
        try:
            wait_until(lambda: self._pings(client), timeout, "redis-server")
        finally:
            client.close()

    def _pings(self, client: redis.Redis) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise HarnessError(f"redis-server exited with code {self.process.returncode}")
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None
