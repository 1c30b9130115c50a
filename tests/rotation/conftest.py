"""What the rotation tests share: the two presets of the examples, a plan of steps, and
now in the profile's own zone."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from bridge import models, snapshots, timetable
from tests.conftest import DOCS_PROFILE, SANDBOX_TOKEN

WEEKEND = [{"days": "sat-sun", "times": ["10:00", "16:00"]}]


WEEKDAY = [{"days": "weekdays", "times": ["09:00", "12:30", "17:00"]}]


def make_presets(client: Any, headers: dict[str, str]) -> None:
    for name, entries in (("weekend", WEEKEND), ("weekday", WEEKDAY)):
        answer = client.post(
            "/v1/presets", json={"name": name, "schedules": entries}, headers=headers
        )
        assert answer.status_code == 201, answer.get_json()


def make_plan(client: Any, headers: dict[str, str], steps: list[Any], name: str = "plan") -> Any:
    """A plan over @skinnyoteam that waits for its steps (`start: next`: nothing runs
    when it is made; tests/rotation/test_rotation_fixes.py covers the run at creation)."""
    return client.post(
        "/v1/rotations",
        json={"name": name, "profiles": ["@skinnyoteam"], "steps": steps, "start": "next"},
        headers=headers,
    )


def local_now(services: Any) -> dt.datetime:
    snapshots.take_account(services, "default")  # the profile cache, with its timezone
    with services.db.session() as session:
        profile = session.get(models.Profile, DOCS_PROFILE)
        tz = timetable.zone(profile.timezone)
    return dt.datetime.now(tz).replace(tzinfo=None, second=0, microsecond=0)


@pytest.fixture
def cli_env(buffer_sandbox: Any, database_url: str, redis_url: str) -> dict[str, str]:
    """The environment of a `bridge` command beside the tests' sandbox and store."""
    return {
        "BUFFER_API_URL": buffer_sandbox.url,
        "BUFFER_ACCESS_TOKEN": SANDBOX_TOKEN,
        "DATABASE_URL": database_url,
        "BUFFER_TIMEOUT": "2,5",
        "REDIS_URL": redis_url,  # no worker here: jobs wait in the store
    }
