"""Issue 20: presets belong to their creator or the account, so a scoped client cannot
change, through a preset, what another client's plan puts on profiles outside its scopes;
and refusals name no plan the caller cannot see."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bridge import models, rotation
from tests.conftest import DOCS_PROFILE, job_done, make_client
from tests.rotation.conftest import WEEKDAY, WEEKEND

ATTACK = [{"days": "daily", "times": ["03:33"]}]


def _other_profile(client: Any, headers: dict[str, str]) -> str:
    profiles = client.get("/v1/profiles", headers=headers).get_json()["profiles"]
    return next(p["id"] for p in profiles if p["id"] != DOCS_PROFILE)


def _post_plan(
    client: Any, headers: dict[str, str], name: str, profile: str, preset: str, at: str
) -> Any:
    """POST a rotation plan of one step (`preset` at `at`) on one profile; the answer."""
    plan = {"name": name, "profiles": [profile], "steps": [{"preset": preset, "at": at}]}
    return client.post("/v1/rotations", json=plan, headers=headers)


def _launch_plan_on(client: Any, headers: dict[str, str], profile: str) -> None:
    made = client.post(
        "/v1/presets", json={"name": "launch", "schedules": WEEKEND}, headers=headers
    )
    assert made.status_code == 201 and made.get_json()["shared"] is True, made.get_json()
    plan = _post_plan(client, headers, "b-launch", profile, "launch", "daily 00:00")
    assert plan.status_code == 201, plan.get_json()


def test_a_scoped_client_cannot_rewrite_what_a_plan_puts_outside_its_scopes(
    client, auth_headers, services, celery_worker, buffer_sandbox
) -> None:
    """The reviewer's sequence: an unscoped client's plan applies the shared preset
    `launch` to @b; a client scoped to @a overwrites `launch`; the plan fires."""
    scoped = make_client(services, "only-a", profile_refs=["@skinnyoteam"])
    other = _other_profile(client, auth_headers)
    _launch_plan_on(client, auth_headers, other)

    put = client.put("/v1/presets/launch", json={"schedules": ATTACK}, headers=scoped)
    assert put.status_code == 403
    assert "account-wide" in put.get_json()["message"]
    assert client.delete("/v1/presets/launch", headers=scoped).status_code == 403
    # its own preset of the same name is its own: the plan does not see it
    own = client.post("/v1/presets", json={"name": "launch", "schedules": ATTACK}, headers=scoped)
    assert own.status_code == 201 and own.get_json()["shared"] is False

    with services.db.session() as session:  # beat finds the plan's step due now
        target = session.query(models.RotationTarget).one()
        target.done_until = models.utcnow() - dt.timedelta(days=1, minutes=1)
        target.next_run_at = models.utcnow() - dt.timedelta(seconds=1)
    report = rotation.tick(services)
    assert len(report.fired) == 1 and report.failed == 0
    assert job_done(client, auth_headers, report.fired[0])["status"] == "succeeded"
    assert buffer_sandbox.sandbox.schedules(other) == [
        {"days": ["sat", "sun"], "times": ["10:00", "16:00"]}
    ]


def test_a_scoped_clients_own_preset_is_unknown_to_everyone_else(
    client, auth_headers, services
) -> None:
    scoped = make_client(services, "only-a", profile_refs=["@skinnyoteam"])
    other_scoped = make_client(services, "only-a-too", profile_refs=["@skinnyoteam"])
    made = client.post("/v1/presets", json={"name": "mine", "schedules": WEEKDAY}, headers=scoped)
    assert made.status_code == 201, made.get_json()
    assert (
        client.put("/v1/presets/mine", json={"schedules": WEEKEND}, headers=scoped).status_code
        == 200
    )

    for headers in (auth_headers, other_scoped):
        assert client.get("/v1/presets/mine", headers=headers).status_code == 404
        put = client.put("/v1/presets/mine", json={"schedules": ATTACK}, headers=headers)
        assert put.status_code == 404 and put.get_json()["message"] == "unknown preset 'mine'"
        assert client.delete("/v1/presets/mine", headers=headers).status_code == 404
        applied = client.post(
            "/v1/presets/mine/apply", json={"profiles": ["@skinnyoteam"]}, headers=headers
        )
        assert applied.status_code == 404
        listed = client.get("/v1/presets", headers=headers).get_json()["presets"]
        assert "mine" not in [p["name"] for p in listed]
    # a plan of another client cannot name it either: its runs would act as that client
    plan = _post_plan(client, auth_headers, "p", "@skinnyoteam", "mine", "sat 00:00")
    assert plan.status_code == 422
    assert plan.get_json()["errors"] == {"steps.0.preset": ["unknown preset 'mine'"]}
    # and the other scoped client may take the name for its own
    again = client.post(
        "/v1/presets", json={"name": "mine", "schedules": WEEKEND}, headers=other_scoped
    )
    assert again.status_code == 201


def test_refusals_name_no_plan_outside_the_callers_scopes(client, auth_headers, services) -> None:
    """Issue 20, item 4: deleting a preset in use answered with every plan's name."""
    scoped = make_client(services, "only-a", profile_refs=["@skinnyoteam"])
    _launch_plan_on(client, auth_headers, _other_profile(client, auth_headers))

    deleted = client.delete("/v1/presets/launch", headers=scoped)
    assert deleted.status_code == 403 and "b-launch" not in deleted.get_json()["message"]
    # a plan outside the scopes answers as a plan that does not exist
    step = {"steps": [{"preset": "launch", "at": "sun 00:00"}]}
    for name in ("b-launch", "no-such-plan"):
        patched = client.patch(f"/v1/rotations/{name}", json=step, headers=scoped)
        assert patched.status_code == 404
        assert patched.get_json()["message"] == f"unknown rotation plan {name!r}"
    # the unscoped writer sees the plan, so it is told which one holds the preset
    refused = client.delete("/v1/presets/launch", headers=auth_headers)
    assert refused.status_code == 409
    assert refused.get_json()["message"] == "preset 'launch' is used by rotation plans: b-launch"
    with services.db.session() as session:
        assert session.query(models.Preset).filter_by(name="launch").count() == 1


def test_a_plan_is_checked_with_the_presets_its_creator_may_use(
    client, auth_headers, services
) -> None:
    """Another client may edit a plan it sees, but its runs act as the plan's creator: a
    step naming the editor's own preset would never find it."""
    scoped = make_client(services, "only-a", profile_refs=["@skinnyoteam"])
    made = client.post(
        "/v1/presets", json={"name": "launch", "schedules": WEEKEND}, headers=auth_headers
    )
    assert made.status_code == 201
    plan = _post_plan(client, auth_headers, "u", "@skinnyoteam", "launch", "sat 00:00")
    assert plan.status_code == 201, plan.get_json()
    own = client.post("/v1/presets", json={"name": "mine", "schedules": ATTACK}, headers=scoped)
    assert own.status_code == 201
    edited = client.patch(
        "/v1/rotations/u", json={"steps": [{"preset": "mine", "at": "sun 00:00"}]}, headers=scoped
    )
    assert edited.status_code == 422
    assert edited.get_json()["errors"] == {"steps.0.preset": ["unknown preset 'mine'"]}
