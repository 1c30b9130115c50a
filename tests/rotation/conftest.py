"""What the rotation tests share: the two presets of the examples, a plan of steps, and
now in the profile's own zone."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bridge import models, snapshots, timetable
from tests.conftest import DOCS_PROFILE

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
