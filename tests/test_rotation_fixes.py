"""Issue 20's rotation items: zones that are not zones, bounded run-now and catch-up,
a plan in effect from its creation, reports that say why, cron fields named, the CLI."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from bridge import timetable
from tests.test_rotation import make_presets

EVERY_MINUTE = [{"preset": "weekend", "cron": "* * * * *"}] * timetable.MAX_STEPS


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def plan_of(client: Any, headers: dict[str, str], steps: list[Any], **more: Any) -> Any:
    body = {"name": "plan", "profiles": ["@skinnyoteam"], "steps": steps, **more}
    return client.post("/v1/rotations", json=body, headers=headers)


# --- 2. run now and catch-up are bounded ------------------------------------------------------


def test_run_now_on_fifty_every_minute_steps_is_quick(client, auth_headers) -> None:
    make_presets(client, auth_headers)
    assert plan_of(client, auth_headers, EVERY_MINUTE).status_code == 201
    started = time.process_time()
    ran = client.post("/v1/rotations/plan/run", headers=auth_headers)
    spent = time.process_time() - started
    assert ran.status_code == 202, ran.get_json()
    assert len(ran.get_json()["jobs"]) == 1
    assert spent < 1.0, f"run now took {spent:.2f} s of CPU"  # 16 s before the bound


def test_a_catch_up_after_a_month_down_is_bounded_and_says_at_least(services) -> None:
    steps = timetable.parse_steps(EVERY_MINUTE)
    tz = timetable.zone("Europe/London")
    now = utc(2027, 3, 1, 12, 0, 30)
    started = time.process_time()
    occurrence, superseded = timetable.latest_due(steps, tz, now - dt.timedelta(days=30), now)
    assert time.process_time() - started < 1.0
    assert occurrence is not None and occurrence.at == utc(2027, 3, 1, 12, 0)
    assert occurrence.step == timetable.MAX_STEPS - 1  # of identical steps, the last
    assert superseded.at_least and superseded.count >= 100
    assert superseded.first == now - dt.timedelta(days=30) + dt.timedelta(seconds=30)


def test_an_every_minute_step_under_a_long_override_is_quick() -> None:
    steps = timetable.parse_steps(
        [
            {"preset": "a", "cron": "* * * * *"},
            {"preset": "b", "from": "2027-01-01T00:00", "to": "2028-12-01T00:00"},
        ]
    )
    tz = timetable.zone("America/New_York")
    started = time.process_time()
    after = timetable.next_after(steps, tz, utc(2027, 1, 2))
    due, _ = timetable.latest_due(steps, tz, utc(2027, 1, 2), utc(2028, 6, 1))
    assert time.process_time() - started < 1.0
    # the first minute after the window; the regular step wins over the revert there
    assert after is not None and after.at == utc(2028, 12, 1, 5, 0) and after.preset == "a"
    assert due is None  # the override holds: nothing regular is due inside it
