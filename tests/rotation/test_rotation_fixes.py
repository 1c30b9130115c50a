"""Issue 20's rotation items: zones that are not zones, bounded run-now and catch-up,
a plan in effect from its creation, reports that say why, cron fields named, the CLI."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge import models, rotation, snapshots, timetable
from bridge import sandbox as sim
from bridge.cli import main
from bridge.cli.run import sandbox as sandbox_command
from bridge.config import load_settings
from bridge.migrate import upgrade
from bridge.rotation import firing
from bridge.services import Services
from bridge.week import DAYS
from tests.conftest import (
    DOCS_PROFILE,
    _drop_schema,
    _postgres_url,
    job_done,
    sign_in,
)
from tests.conftest import UI_SECRET_KEY as SECRET
from tests.rotation.conftest import local_now, make_presets

NOT_ZONES = ["America", "x" * 300]

EVERY_MINUTE = [{"preset": "weekend", "cron": "* * * * *"}] * timetable.MAX_STEPS


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.fixture
def extra_settings() -> dict[str, str]:
    return {"SECRET_KEY": SECRET}  # the dashboard's /ui/rotations too


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """SQLite, or PostgreSQL for a test parametrized with `database_url` indirectly (a
    string column's length holds there)."""
    if getattr(request, "param", "sqlite") == "sqlite":
        url = f"sqlite:///{tmp_path / 'bridge.db'}"
        upgrade(url)
        yield url
        return
    url = _postgres_url()
    upgrade(url)
    yield url
    _drop_schema(url)


def other_profile(client: Any, headers: dict[str, str]) -> str:
    profiles = client.get("/v1/profiles", headers=headers).get_json()["profiles"]
    return next(p["id"] for p in profiles if p["id"] != DOCS_PROFILE)


def report_zone(services: Any, sandbox: Any, profile_id: str, zone: str) -> None:
    """Buffer reports `zone` as the profile's timezone, and the bridge has read it."""
    with sandbox.lock:
        sandbox.profile(profile_id)["timezone"] = zone
    snapshots.take_account(services, "default")


def plan_of(
    client: Any, headers: dict[str, str], steps: list[Any], name: str = "plan", **more: Any
) -> Any:
    body = {"name": name, "profiles": ["@skinnyoteam"], "steps": steps, **more}
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


WORST_PLANS = {
    "50 different every-minute crons": [
        {"preset": "a", "cron": f"{m}-59 * * * *"} for m in range(timetable.MAX_STEPS)
    ],
    "25 every-minute crons under 25 overlapping year-long overrides": [
        {"preset": "a", "cron": f"{m}-59 * * * *"} for m in range(25)
    ]
    + [
        {"preset": "h", "from": f"2026-{m:02d}-01T00:00", "to": f"2028-{m:02d}-01T00:00"}
        for m in range(1, 13)
    ]
    + [
        {"preset": "h", "from": f"2026-{m:02d}-15T00:00", "to": f"2028-{m:02d}-15T00:00"}
        for m in range(1, 14 - 1)
    ],
    "50 leap days": [{"preset": "a", "cron": f"{m} 0 29 2 *"} for m in range(50)],
}


@pytest.mark.parametrize("plan", list(WORST_PLANS))
@pytest.mark.parametrize(
    "now",
    [
        utc(2027, 3, 14, 7, 30),  # New York: 03:30, half an hour after 02:00 was skipped
        utc(2027, 11, 7, 6, 30),  # New York: 01:30 for the second time
        utc(2027, 5, 14, 7, 30),
    ],
    ids=["after-clocks-went-forward", "in-the-repeated-hour", "far-from-a-change"],
)
def test_the_time_arithmetic_of_run_now_is_bounded_for_any_plan(
    plan: str, now: dt.datetime
) -> None:
    """What run now computes for one profile: the step in effect, then the next run."""
    steps = timetable.parse_steps(WORST_PLANS[plan])
    tz = timetable.zone("America/New_York")
    started = time.process_time()
    timetable.latest_due(steps, tz, now - timetable.HORIZON, now, count=False)
    timetable.next_after(steps, tz, now)
    spent = time.process_time() - started
    assert spent < 0.5, f"{plan}: {spent * 1000:.0f} ms of CPU"  # under 0.2 s here, unloaded


# --- 1. a timezone that is not a zone ---------------------------------------------------------


@pytest.mark.parametrize("name", ["Europe/London", "America/New_York", "UTC"])
def test_zones_of_the_zone_database_are_zones(name: str) -> None:
    assert timetable.is_zone(name)


@pytest.mark.parametrize("name", ["America", "x" * 300, "../../etc/passwd", "", None, 3])
def test_other_strings_are_not_zones(name: Any) -> None:
    assert not timetable.is_zone(name)
    assert timetable.zone(name).key == "UTC"  # where a zone is only shown (posting)


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize("zone", NOT_ZONES)
def test_a_zone_that_is_not_a_zone_fails_its_profile_alone(
    client, auth_headers, services, buffer_sandbox, zone: str
) -> None:
    make_presets(client, auth_headers)
    other = other_profile(client, auth_headers)
    report_zone(services, buffer_sandbox.sandbox, DOCS_PROFILE, zone)
    steps = [{"preset": "weekend", "at": "daily 00:00"}]
    both = {"name": "both", "profiles": [DOCS_PROFILE, other], "steps": steps}
    assert client.post("/v1/rotations", json=both, headers=auth_headers).status_code == 201
    alone = {"name": "alone", "profiles": [other], "steps": steps}
    assert client.post("/v1/rotations", json=alone, headers=auth_headers).status_code == 201

    shown = client.get("/v1/rotations/both/preview", headers=auth_headers)
    assert shown.status_code == 200, shown.get_json()
    targets = {t["profile_id"]: t for t in shown.get_json()["targets"]}
    assert "not an IANA zone" in targets[DOCS_PROFILE]["error"]
    assert targets[DOCS_PROFILE]["runs"] == []
    assert targets[other]["error"] is None and len(targets[other]["runs"]) == 5

    assert sign_in(client, auth_headers["Authorization"].split()[1]).status_code == 303
    page = client.get("/ui/rotations")
    assert page.status_code == 200 and "not an IANA zone" in page.get_data(as_text=True)

    ran = client.post("/v1/rotations/both/run", headers=auth_headers)
    assert ran.status_code == 202, ran.get_json()
    answer = ran.get_json()
    assert answer["failed"] == 1 and [j["profile_id"] for j in answer["jobs"]] == [
        DOCS_PROFILE,
        other,
    ]
    (failure,) = answer["failures"]
    assert failure["profile_id"] == DOCS_PROFILE and "not an IANA zone" in failure["reason"]
    assert failure["job_id"] == answer["jobs"][0]["job_id"]
    assert answer["jobs"][0]["status"] == "failed" and answer["jobs"][1]["status"] != "failed"

    # beat: every due target of every plan, the bad one failing alone, no lease kept
    _make_every_target_due(services)
    report = rotation.tick(services)
    assert len(report.fired) == 3 and report.failed == 1
    assert report.failures[0]["profile_id"] == DOCS_PROFILE
    with services.db.session() as session:
        for target in session.query(models.RotationTarget):
            assert target.claimed_until is None and target.next_run_at is not None
            assert (target.last_error is not None) == (target.profile_id == DOCS_PROFILE)


def _make_every_target_due(services: Any) -> None:
    """Every target of every plan due now, its last step a day back."""
    with services.db.session() as session:
        for target in session.query(models.RotationTarget):
            target.done_until = models.utcnow() - dt.timedelta(days=1, minutes=1)
            target.next_run_at = models.utcnow() - dt.timedelta(minutes=1)


def test_an_unexpected_error_in_one_target_stops_neither_the_tick_nor_its_lease(
    client, auth_headers, services, monkeypatch
) -> None:
    make_presets(client, auth_headers)
    other = other_profile(client, auth_headers)
    steps = [{"preset": "weekend", "at": "daily 00:00"}]
    for name, profile in (("first", DOCS_PROFILE), ("second", other)):
        body = {"name": name, "profiles": [profile], "steps": steps}
        assert client.post("/v1/rotations", json=body, headers=auth_headers).status_code == 201
    real = firing._run

    def broken(services: Any, run: firing.Run, *args: Any, **kwargs: Any) -> Any:
        with services.db.session() as session:
            if session.get(models.RotationTarget, run.target_id).profile_id == DOCS_PROFILE:
                raise RuntimeError("a bug")
        return real(services, run, *args, **kwargs)

    monkeypatch.setattr(firing, "_run", broken)
    _make_every_target_due(services)
    report = rotation.tick(services)
    assert len(report.fired) == 1 and report.failed == 1
    assert "unexpected error" in report.failures[0]["reason"]
    with services.db.session() as session:
        broke = session.query(models.RotationTarget).filter_by(profile_id=DOCS_PROFILE).one()
        assert broke.claimed_until is None  # the next tick tries it again
    monkeypatch.setattr(firing, "_run", real)
    assert len(rotation.tick(services).fired) == 1


# --- 4. skipped and failed runs say why ---------------------------------------------------------


def test_a_catch_up_report_says_which_runs_it_skipped_and_why(
    client, auth_headers, services
) -> None:
    make_presets(client, auth_headers)
    steps = [{"preset": "weekend", "at": "daily 00:00"}]
    assert plan_of(client, auth_headers, steps).status_code == 201
    with services.db.session() as session:
        target = session.query(models.RotationTarget).one()
        target.done_until = models.utcnow() - dt.timedelta(days=3, hours=1)
        target.next_run_at = models.utcnow() - dt.timedelta(days=3)
    report = rotation.tick(services)
    assert len(report.fired) == 1 and report.skipped == 2
    (skip,) = report.skips
    assert skip["profile_id"] == DOCS_PROFILE and skip["profile"] == "twitter:skinnyoteam"
    assert skip["count"] == 2
    assert "2 earlier runs" in skip["reason"] and "beat was not running" in skip["reason"]
    assert "only the latest" in skip["reason"]


def test_run_now_says_why_a_profile_was_skipped(client, auth_headers, services) -> None:
    make_presets(client, auth_headers)
    assert (
        plan_of(client, auth_headers, [{"preset": "weekend", "at": "sat 00:00"}]).status_code == 201
    )
    with services.db.session() as session:  # as if beat held it right now
        target = session.query(models.RotationTarget).one()
        target.claimed_until = models.utcnow() + dt.timedelta(minutes=1)
        target.claim_token = "beat"
    answer = client.post("/v1/rotations/plan/run", headers=auth_headers).get_json()
    assert answer["jobs"] == [] and answer["skipped"] == 1
    (skip,) = answer["skips"]
    assert skip["profile_id"] == DOCS_PROFILE and "under way" in skip["reason"]


# --- 3. a plan is in effect from its creation -------------------------------------------------


def today_and_later(services: Any) -> tuple[str, str]:
    """The profile's local weekday today and two days on (`mon`..`sun`), as a plan made
    on a Saturday sees `sat` and `mon`."""
    today = local_now(services).date()
    return DAYS[today.weekday()], DAYS[(today + dt.timedelta(days=2)).weekday()]


def rotation_jobs(services: Any) -> list[models.Job]:
    with services.db.session() as session:
        return list(session.query(models.Job).filter_by(source="rotation"))


def test_a_plan_made_puts_the_step_in_effect_now_in_place(
    client, auth_headers, services, celery_worker, buffer_sandbox
) -> None:
    make_presets(client, auth_headers)
    today, later = today_and_later(services)
    steps = [
        {"preset": "weekend", "at": f"{today} 00:00"},
        {"preset": "weekday", "at": f"{later} 06:00"},
    ]
    made = plan_of(client, auth_headers, steps)
    assert made.status_code == 201, made.get_json()
    run = made.get_json()["run"]
    assert run["failed"] == 0 and run["skipped"] == 0 and len(run["jobs"]) == 1
    job = run["jobs"][0]
    assert job["source"] == "rotation" and job["params"]["preset"] == "weekend"
    assert job_done(client, auth_headers, job["job_id"])["status"] == "succeeded"
    assert buffer_sandbox.sandbox.schedules(DOCS_PROFILE) == [
        {"days": ["sat", "sun"], "times": ["10:00", "16:00"]}
    ]
    shown = made.get_json()["targets"][0]
    assert shown["last_job_id"] == job["job_id"] and shown["next_run_at"]


def test_start_next_waits_for_the_steps_to_come(client, auth_headers, services) -> None:
    make_presets(client, auth_headers)
    today, later = today_and_later(services)
    steps = [
        {"preset": "weekend", "at": f"{today} 00:00"},
        {"preset": "weekday", "at": f"{later} 06:00"},
    ]
    made = plan_of(client, auth_headers, steps, start="next")
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["run"] is None and rotation_jobs(services) == []
    bad = plan_of(client, auth_headers, steps, name="other", start="later")
    assert bad.status_code == 422 and "start" in bad.get_json()["errors"]


def test_a_plan_with_no_step_due_yet_applies_nothing_and_says_so(
    client, auth_headers, services
) -> None:
    make_presets(client, auth_headers)
    start = local_now(services) + dt.timedelta(days=2)
    end = start + dt.timedelta(hours=2)
    steps = [{"preset": "weekend", "from": start.isoformat(), "to": end.isoformat()}]
    run = plan_of(client, auth_headers, steps).get_json()["run"]
    assert run["jobs"] == [] and run["skipped"] == 1
    assert "no step has fallen due yet" in run["skips"][0]["reason"]
    assert rotation_jobs(services) == []


def test_resuming_applies_the_step_in_effect_unless_start_next(
    client, auth_headers, services
) -> None:
    make_presets(client, auth_headers)
    today, later = today_and_later(services)
    steps = [
        {"preset": "weekend", "at": f"{today} 00:00"},
        {"preset": "weekday", "at": f"{later} 06:00"},
    ]
    assert plan_of(client, auth_headers, steps, start="next").status_code == 201
    assert client.post("/v1/rotations/plan/pause", headers=auth_headers).status_code == 200
    resumed = client.post("/v1/rotations/plan/resume", headers=auth_headers)
    assert resumed.status_code == 200, resumed.get_json()
    run = resumed.get_json()["run"]
    assert resumed.get_json()["paused"] is False
    assert [j["params"]["preset"] for j in run["jobs"]] == ["weekend"]
    client.post("/v1/rotations/plan/pause", headers=auth_headers)
    waited = client.post(
        "/v1/rotations/plan/resume", json={"start": "next"}, headers=auth_headers
    ).get_json()
    assert waited["paused"] is False and waited["run"] is None
    assert len(rotation_jobs(services)) == 1


# --- 6. a cron field out of range is named in the bridge's words ------------------------------


@pytest.mark.parametrize(
    ("cron", "says"),
    [
        ("0 6 * * 1-8", ["day-of-week field", "'1-8'", "has 8", "0-7"]),
        ("0 6 * * 9", ["day-of-week field", "has 9"]),
        ("60 6 * * *", ["minute field", "has 60", "0-59"]),
        ("0 24 * * *", ["hour field", "has 24", "0-23"]),
        ("0 6 0 * *", ["day-of-month field", "has 0", "1-31"]),
        ("0 6 * 1,13 *", ["month field", "'1,13'", "has 13", "1-12"]),
        ("0 6 * * mon-fro", ["day-of-week field", "'mon-fro'", "not a cron field"]),
        ("0 6 * *", ["five fields", "has 4"]),
        ("0 6 30 2 *", ["day-of-month field", "'30'", "never"]),
    ],
)
def test_a_bad_cron_field_is_a_422_naming_the_field_and_the_value(
    client, auth_headers, cron: str, says: list[str]
) -> None:
    make_presets(client, auth_headers)
    answer = plan_of(client, auth_headers, [{"preset": "weekend", "cron": cron}])
    assert answer.status_code == 422, answer.get_json()
    (message,) = answer.get_json()["errors"]["steps.0.cron"]
    for words in says:
        assert words in message, (words, message)


def test_cron_fields_in_range_are_accepted(client, auth_headers) -> None:
    make_presets(client, auth_headers)
    crons = ["0 6 * * 1-5", "0 6 * * 0,7", "*/15 0-23 1-31 jan-dec sun-sat", "0 6 * * mon#2"]
    steps = [{"preset": "weekend", "cron": c} for c in crons]
    made = plan_of(client, auth_headers, steps)  # a guard: the range check refuses no valid cron
    assert made.status_code == 201, made.get_json()


# --- 7. the CLI: a failed run is a failed command -----------------------------------------------


def test_rotations_run_exits_non_zero_when_a_run_fails_saying_why(
    runner, cli_env, buffer_sandbox, tmp_path: Path
) -> None:
    made = runner.invoke(
        main, ["presets", "create", "weekend", "--week", '{"sat-sun": ["10:00"]}'], env=cli_env
    )
    assert made.exit_code == 0, made.output
    plan = tmp_path / "plan.json"
    plan.write_text(
        json.dumps(
            {
                "name": "weekends",
                "profiles": ["@skinnyoteam"],
                "steps": [{"preset": "weekend", "at": "daily 00:00"}],
                "start": "next",
            }
        )
    )
    assert runner.invoke(main, ["rotations", "create", str(plan)], env=cli_env).exit_code == 0
    ran = runner.invoke(main, ["rotations", "run", "weekends"], env=cli_env)
    assert ran.exit_code == 0 and ran.output.startswith("jobs "), ran.output

    cli_services = Services(load_settings({**cli_env, "LOG_FORMAT": "text"}))
    try:
        report_zone(cli_services, buffer_sandbox.sandbox, DOCS_PROFILE, "America")
    finally:
        cli_services.close()
    failed = runner.invoke(main, ["rotations", "run", "weekends"], env=cli_env)
    assert failed.exit_code != 0, failed.output
    assert "failed on twitter:skinnyoteam" in failed.output
    assert "not an IANA zone" in failed.output and "1 run of rotation plan weekends failed" in (
        failed.output
    )


def test_bridge_beat_help_names_rotation(runner) -> None:
    shown = runner.invoke(main, ["beat", "--help"])
    assert shown.exit_code == 0 and "rotation" in shown.output


# --- 5. docs/rotation.md works against `make run` -----------------------------------------------

ROTATION_DOC = Path(__file__).resolve().parents[2] / "docs" / "rotation.md"
SERVICES = ("twitter", "facebook", "linkedin", "instagram", "pinterest")
REF = re.compile(rf"(?<![\w.])@[A-Za-z0-9_]+|\b(?:{'|'.join(SERVICES)}):[A-Za-z0-9_]+")


def test_the_rotation_docs_name_only_profiles_make_run_has() -> None:
    """`make run` is `bridge dev`, whose sandbox is `bridge sandbox` with its defaults."""
    defaults = {p.name: p.default for p in sandbox_command.params}
    state = sim.Sandbox(sim.SandboxConfig(seed=defaults["seed"], profiles=defaults["profiles"]))
    (account,) = [a for a in state.accounts() if a["name"] == "default"]
    have = {f"@{p['service_username']}" for p in account["profiles"]}
    have |= {f"{p['service']}:{p['service_username']}" for p in account["profiles"]}
    named = set(REF.findall(ROTATION_DOC.read_text(encoding="utf-8")))
    assert len(named) >= 3 and named <= have, named - have


def test_the_rotation_docs_say_a_preset_replaces_the_whole_week() -> None:
    text = " ".join(ROTATION_DOC.read_text(encoding="utf-8").split())
    assert "replaces the profile's whole week" in text
