"""Presets and rotation plans through the API, beat ticks, overrides and their revert."""

from __future__ import annotations

import datetime as dt

from bridge import models, rotation
from tests.conftest import DOCS_PROFILE, job_done, make_client
from tests.rotation.conftest import WEEKEND, local_now, make_plan, make_presets


def test_presets_apply_as_one_group(client, auth_headers, celery_worker, buffer_sandbox) -> None:
    make_presets(client, auth_headers)
    listed = client.get("/v1/presets", headers=auth_headers).get_json()["presets"]
    assert [p["name"] for p in listed] == ["weekday", "weekend"]
    copied = client.post(
        "/v1/presets", json={"name": "as-is", "from_profile": "@skinnyoteam"}, headers=auth_headers
    )
    assert copied.status_code == 201 and copied.get_json()["account"] == "default"
    profiles = client.get("/v1/profiles", headers=auth_headers).get_json()["profiles"]
    other = next(p["id"] for p in profiles if p["id"] != DOCS_PROFILE)
    applied = client.post(
        "/v1/presets/weekend/apply",
        json={"profiles": ["@skinnyoteam", other]},
        headers=auth_headers,
    )
    assert applied.status_code == 202, applied.get_json()
    group = applied.get_json()["group_id"]
    jobs = client.get(f"/v1/jobs?group={group}", headers=auth_headers).get_json()["jobs"]
    assert {j["profile_id"] for j in jobs} == {DOCS_PROFILE, other}
    for job in jobs:
        done = job_done(client, auth_headers, job["job_id"])
        assert done["status"] == "succeeded" and done["params"]["preset"] == "weekend"
    assert buffer_sandbox.sandbox.schedules(DOCS_PROFILE) == [
        {"days": ["sat", "sun"], "times": ["10:00", "16:00"]}
    ]


def test_bad_input_is_422_naming_the_field_never_500(client, auth_headers) -> None:
    make_presets(client, auth_headers)
    cases = [
        ("/v1/presets", {"name": "x y", "schedules": WEEKEND}, "name"),
        ("/v1/presets", {"name": "n", "schedules": WEEKEND, "from_profile": "@a"}, "schedules"),
        ("/v1/presets", {"name": "n" * 65, "schedules": WEEKEND}, "name"),
        (
            "/v1/rotations",
            {
                "name": "p",
                "profiles": ["@skinnyoteam"],
                "steps": [{"preset": "nope", "at": "sat 00:00"}],
            },
            "steps.0.preset",
        ),
        (
            "/v1/rotations",
            {
                "name": "p",
                "profiles": ["@skinnyoteam"],
                "steps": [{"preset": "weekend", "cron": "99 * * * *"}],
            },
            "steps.0.cron",
        ),
        ("/v1/rotations", {"name": "p", "profiles": ["@skinnyoteam"], "steps": "sat"}, "steps"),
        (
            "/v1/rotations",
            {"name": "p", "steps": [{"preset": "weekend", "at": "sat 00:00"}]},
            "profiles",
        ),
        (
            "/v1/rotations",
            {
                "name": "p",
                "profiles": ["@skinnyoteam"],
                "steps": [{"preset": "weekend", "at": "sat 00:00"}],
                "x": 1,
            },
            "x",
        ),
    ]
    for path, body, field in cases:
        answer = client.post(path, json=body, headers=auth_headers)
        assert answer.status_code == 422, (body, answer.get_json())
        assert field in answer.get_json()["errors"], (field, answer.get_json())
    assert client.get("/v1/rotations/nope", headers=auth_headers).status_code == 404
    assert client.get("/v1/rotations/x/preview?count=0", headers=auth_headers).status_code == 422
    assert (
        make_plan(client, auth_headers, [{"preset": "weekend", "at": "sat 00:00"}]).status_code
        == 201
    )
    again = make_plan(client, auth_headers, [{"preset": "weekend", "at": "sat 00:00"}])
    assert again.status_code == 409
    assert client.delete("/v1/presets/weekend", headers=auth_headers).status_code == 409


def test_run_now_preview_pause_and_a_past_step(
    client, auth_headers, services, celery_worker
) -> None:
    make_presets(client, auth_headers)
    answer = make_plan(
        client,
        auth_headers,
        [{"preset": "weekend", "at": "sat 00:00"}, {"preset": "weekday", "at": "mon 06:00"}],
    )
    assert answer.status_code == 201, answer.get_json()
    preview = client.get("/v1/rotations/plan/preview?count=4", headers=auth_headers).get_json()
    runs = preview["targets"][0]["runs"]
    assert [r["preset"] for r in runs] in (
        ["weekend", "weekday"] * 2,
        ["weekday", "weekend"] * 2,
    )
    assert preview["targets"][0]["timezone"] and runs[0]["local_text"]
    ran = client.post("/v1/rotations/plan/run", headers=auth_headers)
    assert ran.status_code == 202, ran.get_json()
    job = ran.get_json()["jobs"][0]
    assert job["source"] == "rotation" and job["params"]["plan"] == "plan"
    assert job_done(client, auth_headers, job["job_id"])["status"] == "succeeded"
    # a step due three days ago while beat was down: fires once, saying how late
    with services.db.session() as session:
        target = session.query(models.RotationTarget).one()
        target.done_until = models.utcnow() - dt.timedelta(days=9)
        target.next_run_at = models.utcnow() - dt.timedelta(days=3)
    report = rotation.tick(services)
    assert len(report.fired) == 1 and report.late == 1
    with services.db.session() as session:
        late = session.get(models.Job, report.fired[0])
        assert late.late_seconds and late.late_seconds > 60
    assert rotation.tick(services).fired == []  # nothing more is due
    paused = client.post("/v1/rotations/plan/pause", headers=auth_headers).get_json()
    assert paused["paused"] is True
    assert (
        client.post("/v1/rotations/plan/resume", headers=auth_headers).get_json()["paused"] is False
    )
    assert client.delete("/v1/rotations/plan", headers=auth_headers).status_code == 204


def test_override_reverts_unless_changed_in_between(
    client, auth_headers, services, celery_worker, buffer_sandbox
) -> None:
    make_presets(client, auth_headers)
    start = local_now(services) + dt.timedelta(days=1)
    steps = [
        {
            "preset": "weekend",
            "from": start.isoformat(),
            "to": (start + dt.timedelta(hours=2)).isoformat(),
        }
    ]
    before = buffer_sandbox.sandbox.schedules(DOCS_PROFILE)
    assert make_plan(client, auth_headers, steps).status_code == 201
    with services.db.session() as session:
        due = session.query(models.RotationTarget).one().next_run_at
    started = rotation.tick(services, now=due + dt.timedelta(seconds=30))
    assert job_done(client, auth_headers, started.fired[0])["status"] == "succeeded"
    assert buffer_sandbox.sandbox.schedules(DOCS_PROFILE) == [
        {"days": ["sat", "sun"], "times": ["10:00", "16:00"]}
    ]
    reverted = rotation.tick(services, now=due + dt.timedelta(hours=2, seconds=30))
    done = job_done(client, auth_headers, reverted.fired[0])
    assert done["status"] == "succeeded" and done["kind"] == "restore"
    assert buffer_sandbox.sandbox.schedules(DOCS_PROFILE) == before

    # again, with a change made by someone while the override holds
    client.delete("/v1/rotations/plan", headers=auth_headers)
    assert make_plan(client, auth_headers, steps).status_code == 201
    with services.db.session() as session:
        due = session.query(models.RotationTarget).one().next_run_at
    started = rotation.tick(services, now=due + dt.timedelta(seconds=30))
    job_done(client, auth_headers, started.fired[0])
    changed = client.patch(
        "/v1/profiles/@skinnyoteam/schedules",
        json={"days": "mon", "times": ["08:00"]},
        headers=auth_headers,
    )
    job_done(client, auth_headers, changed.get_json()["job_id"])
    kept = buffer_sandbox.sandbox.schedules(DOCS_PROFILE)
    skipped = rotation.tick(services, now=due + dt.timedelta(hours=2, seconds=30))
    assert skipped.skipped == 1
    job = client.get(f"/v1/jobs/{skipped.fired[0]}", headers=auth_headers).get_json()
    assert job["result"]["skipped"] and "changed after the override" in job["result"]["reason"]
    assert buffer_sandbox.sandbox.schedules(DOCS_PROFILE) == kept


def test_a_vanished_profile_fails_its_runs_and_the_others_go_on(
    client, auth_headers, services
) -> None:
    make_presets(client, auth_headers)
    profiles = client.get("/v1/profiles", headers=auth_headers).get_json()["profiles"]
    other = next(p["id"] for p in profiles if p["id"] != DOCS_PROFILE)
    answer = client.post(
        "/v1/rotations",
        json={
            "name": "two",
            "profiles": ["@skinnyoteam", other],
            "steps": [{"preset": "weekend", "at": "daily 00:00"}],
        },
        headers=auth_headers,
    )
    assert answer.status_code == 201
    gone = "ffffffffffffffffffffffff"
    with services.db.session() as session:
        for target in session.query(models.RotationTarget):
            if target.profile_id == other:
                target.profile_id = gone  # as if Buffer no longer had it
            target.next_run_at = models.utcnow() - dt.timedelta(minutes=1)
            target.done_until = models.utcnow() - dt.timedelta(days=1, minutes=1)
    report = rotation.tick(services)
    assert len(report.fired) == 2 and report.failed == 1
    with services.db.session() as session:
        jobs = {j.profile_id: j for j in session.query(models.Job).filter_by(source="rotation")}
    assert jobs[gone].status == "failed" and "no longer in Buffer" in jobs[gone].error_message
    assert jobs[DOCS_PROFILE].status in (*models.PENDING_STATUSES, models.SUCCEEDED)
    shown = client.get("/v1/rotations/two", headers=auth_headers).get_json()
    assert any(t["last_error"] for t in shown["targets"])


def test_scopes_and_read_only_clients(client, auth_headers, services) -> None:
    make_presets(client, auth_headers)
    scoped = make_client(services, "scoped", profile_refs=["@skinnyoteam"])
    reader = make_client(services, "reader", read_only=True)
    profiles = client.get("/v1/profiles", headers=auth_headers).get_json()["profiles"]
    other = next(p["id"] for p in profiles if p["id"] != DOCS_PROFILE)
    step = [{"preset": "weekend", "at": "sat 00:00"}]
    outside = client.post(
        "/v1/rotations", json={"name": "o", "profiles": [other], "steps": step}, headers=scoped
    )
    assert outside.status_code == 404
    assert make_plan(client, scoped, step, "mine").status_code == 201
    theirs = client.post(
        "/v1/rotations",
        json={"name": "theirs", "profiles": [other], "steps": step},
        headers=auth_headers,
    )
    assert theirs.status_code == 201
    listed = client.get("/v1/rotations", headers=scoped).get_json()["rotations"]
    assert [p["name"] for p in listed] == ["mine"]
    assert client.get("/v1/rotations/theirs", headers=scoped).status_code == 404
    assert client.post("/v1/rotations/theirs/run", headers=scoped).status_code == 404
    assert client.get("/v1/rotations/mine", headers=reader).status_code == 200
    assert client.post("/v1/rotations/mine/pause", headers=reader).status_code == 403
    assert make_plan(client, reader, step, "r").status_code == 403
    assert (
        client.post(
            "/v1/presets", json={"name": "r", "schedules": WEEKEND}, headers=reader
        ).status_code
        == 403
    )
    applied = client.post("/v1/presets/weekend/apply", json={"profiles": [other]}, headers=scoped)
    assert applied.status_code == 404
    # a plan keeps its creator's scopes: revoked, its runs fail saying so
    with services.db.session() as session:
        session.query(models.ApiClient).filter_by(name="scoped").one().revoked_at = models.utcnow()
    report = rotation.run_now(services, None, "mine")
    assert report.failed == 1
