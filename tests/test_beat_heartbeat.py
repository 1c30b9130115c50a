"""Beat touches its heartbeat file on every tick, so `bridge healthcheck beat` can tell."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from celery.beat import PersistentScheduler

from tasks.beat import HeartbeatScheduler, touch
from tasks.celery_app import celery
from tests.conftest import wait_until


def test_touch_creates_and_refreshes(tmp_path):
    path = tmp_path / "beat.heartbeat"
    assert touch(str(path)) and path.exists()
    os.utime(path, (0, 0))
    assert touch(str(path)) and path.stat().st_mtime > 0


def test_touch_reports_an_unwritable_place(tmp_path):
    assert touch(str(tmp_path / "missing" / "beat.heartbeat")) is False


def test_beat_uses_the_heartbeat_scheduler():
    assert celery.conf.beat_scheduler == "tasks.beat:HeartbeatScheduler"
    assert issubclass(HeartbeatScheduler, PersistentScheduler)


def test_bridge_beat_touches_the_heartbeat(tmp_path, redis_url, database_url):
    heartbeat = tmp_path / "beat.heartbeat"
    env = {
        **os.environ,
        "BEAT_HEARTBEAT_FILE": str(heartbeat),
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
    }
    beat = subprocess.Popen(
        [str(Path(sys.executable).parent / "bridge"), "beat"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(heartbeat.exists, timeout=30, interval=0.2)
    finally:
        beat.terminate()
        _, err = beat.communicate(timeout=30)
    assert beat.returncode == 0, err.decode()[-2000:]
