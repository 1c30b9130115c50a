"""Two beats at once fire each due rotation step once: real processes, SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bridge import models, rotation, snapshots
from bridge.presets import create
from bridge.schedules import Week

pytestmark = pytest.mark.integration

TICK = """
import datetime as dt, os, sys, time
from pathlib import Path
from bridge.config import load_settings
from bridge.services import Services
from bridge import rotation
svc = Services(load_settings())
go = Path(sys.argv[1])
while not go.exists():
    time.sleep(0.005)
report = rotation.tick(svc, now=dt.datetime.fromisoformat(sys.argv[2]))
print(len(report.fired))
"""


@pytest.fixture
def extra_settings(any_database_url: str) -> dict[str, str]:
    return {"DATABASE_URL": any_database_url}


def test_concurrent_ticks_fire_each_step_once(services, settings, tmp_path: Path) -> None:
    snapshots.take_account(services, "default")
    operator = rotation.system_client()
    create(services, operator, "weekend", Week({"sat-sun": ["10:00"]}), "default")
    with services.db.session() as session:
        ids = [p.id for p in session.query(models.Profile)]
    steps = [{"preset": "weekend", "cron": "*/5 * * * *"}]
    rotation.save(services, None, "all", {"profiles": ids, "steps": steps}, create=True)
    now = models.utcnow() + dt.timedelta(hours=1)
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "BUFFER_API_URL": settings.buffer_api_url,
        "BUFFER_ACCESS_TOKEN": "sandbox-token",
        "LOG_FORMAT": "text",
        "LOG_LEVEL": "WARNING",
    }
    go = tmp_path / "go"
    ticks = [
        subprocess.Popen(
            [sys.executable, "-c", TICK, str(go), now.isoformat()],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    go.touch()
    fired = [int(p.communicate(timeout=60)[0].strip().splitlines()[-1]) for p in ticks]
    assert sum(fired) == len(ids)
    with services.db.session() as session:
        jobs = session.query(models.Job).filter_by(source="rotation").all()
        targets = session.query(models.RotationTarget).all()
    assert sorted(j.profile_id for j in jobs) == sorted(ids)
    assert all(t.claim_token is None and t.next_run_at > now for t in targets)
    assert rotation.tick(services, now=now).fired == []
