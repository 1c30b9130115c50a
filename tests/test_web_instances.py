"""Issue 20: gunicorn 27's control socket, `$HOME/.gunicorn/gunicorn.ctl`, was shared by
every instance of a user (one instance's stop removed another's) and logged an error at
each start where HOME is not writable. The web process runs without it."""

from __future__ import annotations

import os
import time
from pathlib import Path

from bridge.config import load_settings
from bridge.web_server import options
from tests.conftest import free_port, wait_until
from tests.processes import Processes, answers


def test_gunicorn_runs_without_a_control_socket() -> None:
    assert options(load_settings({}))["control_socket_disable"] is True


def _env(tmp_path: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}  # HOME decides
    (tmp_path / "metrics").mkdir(exist_ok=True)
    return {
        **env,
        "HOME": str(home),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bridge.db'}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "GUNICORN_WORKERS": "1",
        "LOG_FORMAT": "text",
        "LOG_LEVEL": "INFO",
        # a key set: an empty one is a warning of its own (tests/test_friction.py)
        "SECRET_KEY": "k" * 48,
    }


def _serve(processes: Processes, name: str) -> str:
    port = free_port()
    processes.start(name, "serve", "--port", str(port))
    base = f"http://127.0.0.1:{port}/healthz"
    wait_until(lambda: answers(base), timeout=30)
    return base


def test_two_instances_of_one_user_start_and_stop_independently(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    processes = Processes(_env(tmp_path, home), tmp_path)
    try:
        first = _serve(processes, "first")
        second = _serve(processes, "second")
        assert list(home.iterdir()) == []  # nothing shared between them in HOME
        processes.children[0].terminate()
        processes.children[0].wait(20)
        assert answers(second) and not answers(first)
    finally:
        processes.stop()
    assert list(home.iterdir()) == []


def test_a_home_that_cannot_be_written_logs_no_error(tmp_path: Path) -> None:
    home = tmp_path / "not-a-directory"
    home.write_text("")  # even root cannot make $HOME/.gunicorn under a file
    processes = Processes(_env(tmp_path, home), tmp_path)
    try:
        _serve(processes, "web")
        time.sleep(3)  # gunicorn's control socket started in a thread after the workers
    finally:
        processes.stop()
    lines = (tmp_path / "web.log").read_text().splitlines()
    assert lines, "the web process logged nothing"
    assert [line for line in lines if "ERROR" in line or "WARNING" in line] == []
