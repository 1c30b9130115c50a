"""Buffer's two APIs end to end (sandbox over real sockets): a GraphQL-only account reads,
snapshots and detects drift, and its changes are kept by the bridge (bridge mode) on every
adapter; an account with both reads through GraphQL and writes through v1, each within its
own budget; a v1 account past BUFFER_V1_SUNSET without a GraphQL key refuses changes and
fails what was queued with the same words."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from bridge import auth, jobs, models, schedules, snapshots, sync
from bridge.ratelimit import window_keys
from bridge.services import Services
from tests.conftest import DOCS_PROFILE, SANDBOX_TOKEN, slack_form, wait_until
from tests.conftest import SLACK_SECRET as SECRET
from tests.conftest import SLACK_TEAM as TEAM
from tests.conftest import slack_signed as signed

KEY = "sandbox-key"
MODES = {
    "graphql": {"BUFFER_ACCESS_TOKEN": ""},
    "both": {},
    "sunset": {"BUFFER_V1_SUNSET": "2020-01-01"},
}


@pytest.fixture
def extra_settings(request: pytest.FixtureRequest, buffer_sandbox: Any) -> dict[str, str]:
    """The account as the test's `mode` configures it (GraphQL only by default)."""
    mode = getattr(request, "param", "graphql")
    keyed = {
        "BUFFER_API_KEY": KEY,
        "BUFFER_GRAPHQL_URL": f"{buffer_sandbox.root_url}graphql",
        "SLACK_SIGNING_SECRET": SECRET,
    }
    return {**(keyed if mode != "sunset" else {}), **MODES[mode]}


def graphql_only():
    return pytest.mark.parametrize("extra_settings", ["graphql"], indirect=True)


def both():
    return pytest.mark.parametrize("extra_settings", ["both"], indirect=True)


def past_sunset():
    return pytest.mark.parametrize("extra_settings", ["sunset"], indirect=True)


def paths(sandbox: Any) -> list[str]:
    return [record.path for record in sandbox.sandbox.recorded()]


def job_count(services: Services) -> int:
    with services.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(models.Job)) or 0)


@graphql_only()
def test_graphql_only_reads_profiles_and_paused_days(client, auth_headers, buffer_sandbox):
    listed = client.get("/v1/profiles", headers=auth_headers).get_json()["profiles"]
    assert len(listed) == 5
    paused = [p for p in listed if p["paused_days"]]
    assert paused, "the sandbox seeds paused days; GraphQL reports them"
    shown = client.get(f"/v1/profiles/{paused[0]['id']}/schedules", headers=auth_headers)
    view = shown.get_json()
    assert shown.status_code == 200 and view["stale"] is False
    assert view["week"]["paused"] == paused[0]["paused_days"]
    assert "paused" in view["summary"]
    assert all(not path.startswith("/1/") for path in paths(buffer_sandbox))


@graphql_only()
def test_graphql_only_snapshots_and_detects_drift(services, buffer_sandbox):
    first = snapshots.take_account(services, "default")
    organizations = len(buffer_sandbox.sandbox.organizations("default"))
    assert first.error is None and first.profiles == 5
    assert first.buffer_calls == 1 + organizations  # Organizations, then Channels per org
    again = snapshots.take_account(services, "default")
    assert again.buffer_calls == organizations  # organizations come from the cache
    buffer_sandbox.sandbox.set_paused(DOCS_PROFILE, ["sun"])
    drifted = snapshots.take_account(services, "default")
    assert drifted.changed == [DOCS_PROFILE]
    with services.db.session() as session:
        latest = snapshots.latest(session, DOCS_PROFILE)
        assert latest is not None and latest.reason == models.EXTERNAL_CHANGE
        view = snapshots.to_json(latest, snapshots.previous_of(session, latest))
    assert view["paused_days"] == ["sun"]
    assert view["diff"]["sun"]["pause"] == "paused"


@graphql_only()
def test_graphql_only_keeps_the_week_on_every_adapter(client, services, auth_headers):
    """No v1 to write with: every adapter's change is kept by the bridge (bridge mode),
    never a 409, and Buffer's own schedule is left as it is."""
    rest = client.patch(
        "/v1/profiles/@skinnyoteam/schedules",
        json={"days": "weekdays", "times": ["9am"]},
        headers=auth_headers,
    )
    assert rest.status_code == 202, rest.get_json()
    zap = client.post(
        "/hooks/zapier",
        json={"profile": "@skinnyoteam", "days": "mon", "times": "9am"},
        headers=auth_headers,
    )
    assert zap.status_code == 202, zap.get_json()
    with services.db.session() as session:
        auth.create_client(session, "slack", slack_team=TEAM)
    body = slack_form("set @skinnyoteam weekdays 9am")
    slack = client.post("/chat/slack", data=body, headers=signed(body))
    assert slack.status_code == 200 and slack.get_json()["text"].startswith("Queued")
    assert "is in bridge mode" in rest.get_json()["notice"]  # the answer says what it means
    assert job_count(services) == 3
    accounts = client.get("/v1/accounts", headers=auth_headers).get_json()["accounts"]
    assert accounts[0]["api"] == "graphql" and accounts[0]["can_write"] is True
    assert accounts[0]["write_refusal"] is None
    assert accounts[0]["schedule_mode"] == "bridge"


@both()
def test_both_reads_through_graphql_and_writes_through_v1(
    client, services, auth_headers, buffer_sandbox, celery_worker
):
    buffer_sandbox.sandbox.clear_requests()
    answer = client.patch(
        "/v1/profiles/@skinnyoteam/schedules",
        json={"days": "sat", "times": ["10am"]},
        headers=auth_headers,
    )
    assert answer.status_code == 202, answer.get_json()
    notice = answer.get_json()["notice"]
    assert "retires the v1 API on 2027-02-01" in notice
    assert "the bridge keeps the posting week of account 'default' itself" in notice
    assert "set BUFFER_API_KEY" not in notice  # it has one: the week is kept after the sunset
    job_url = answer.headers["Location"]
    done = wait_until(
        lambda: client.get(job_url, headers=auth_headers).get_json()["status"] == "succeeded",
        timeout=20,
    )
    assert done
    seen = paths(buffer_sandbox)
    assert any(p.endswith("/update.json") for p in seen), "the write went through v1"
    written = schedules.from_buffer(buffer_sandbox.sandbox.schedules(DOCS_PROFILE))
    assert written["sat"] == ("10:00",)
    client.get("/v1/profiles?refresh=1", headers=auth_headers)
    seen = paths(buffer_sandbox)
    assert "/graphql" in seen and "/1/profiles.json" not in seen, "reads go through GraphQL"
    # each API counted in its own windows: v1's for the sync, GraphQL's two for the reads
    v1_keys = window_keys(SANDBOX_TOKEN, services.limiter.limits)
    graphql_keys = window_keys(KEY, services.graphql_limiter.limits)
    assert services.redis.zcard(v1_keys[0]) == 2
    assert len(graphql_keys) == 2 and all(services.redis.zcard(k) >= 1 for k in graphql_keys)
    accounts = client.get("/v1/accounts", headers=auth_headers).get_json()["accounts"]
    assert accounts[0]["api"] == "both" and accounts[0]["can_write"] is True
    assert accounts[0]["reads_through"] == "graphql"
    assert accounts[0]["organizations"]


@past_sunset()
def test_v1_past_its_sunset_refuses_changes_and_fails_queued_jobs(client, services, auth_headers):
    rest = client.patch(
        "/v1/profiles/@skinnyoteam/schedules",
        json={"days": "weekdays", "times": ["9am"]},
        headers=auth_headers,
    )
    assert rest.status_code == 409
    message = rest.get_json()["message"]
    assert "retired the v1 API on 2020-01-01" in message
    # a change queued before the day: the sync fails it with the same words, calling nothing
    with services.db.session() as session:
        profile = session.get(models.Profile, DOCS_PROFILE)
    job, _ = jobs.submit(
        services,
        jobs.NewJob(profile, schedules.Operation.clear("sun"), origin=jobs.Provenance("rest")),
    )
    outcome = sync.sync_profile(services, DOCS_PROFILE)
    assert outcome.state == "failed" and outcome.buffer_calls == 0
    with services.db.session() as session:
        failed = session.get(models.Job, job.id)
        assert failed is not None and failed.error_message == message


@pytest.mark.parametrize(
    ("path", "method", "body"),
    [
        ("/v1/profiles/@skinnyoteam/schedules", "patch", {"days": "sun", "paused": True}),
        ("/v1/profiles/@skinnyoteam/schedules", "put", {"schedules": [], "paused": ["sun"]}),
        ("/hooks/zapier", "post", {"profile": "@skinnyoteam", "action": "pause", "days": "sun"}),
    ],
)
def test_a_request_to_pause_is_422_saying_why(client, auth_headers, path, method, body):
    response = getattr(client, method)(path, json=body, headers=auth_headers)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    field = "action" if "action" in body else "paused"
    assert schedules.PAUSE_NOT_WRITABLE in str(errors[field])


def test_chat_pause_says_why():
    from bridge import commands

    with pytest.raises(commands.UsageError) as refused:
        commands.parse("pause @brand sun")
    assert schedules.PAUSE_NOT_WRITABLE in str(refused.value)


@graphql_only()
def test_a_graphql_429_is_obeyed_exactly_by_every_process(services, buffer_sandbox):
    from bridge.buffer.backend import BudgetExhausted

    # Organizations and the first Channels fit; the second organization's Channels is a 429
    buffer_sandbox.sandbox.set_faults(graphql_rate_limit="2/15m")
    first = snapshots.take_account(services, "default")
    assert first.error is not None and getattr(first.error, "retry_after", None)
    told = first.error.retry_after
    assert snapshots.retry_in(first, 1) == told
    other = Services(services.settings)  # another process: the hold is shared in Redis
    try:
        with pytest.raises(BudgetExhausted) as held:
            other.backend("default").profiles()
        assert 0 < held.value.seconds <= told
    finally:
        other.close()


@past_sunset()
def test_a_rotation_on_an_account_that_cannot_write_fails_its_runs_saying_why(client, auth_headers):
    from tests.rotation.conftest import make_plan, make_presets

    make_presets(client, auth_headers)
    assert (
        make_plan(client, auth_headers, [{"preset": "weekend", "at": "sat 00:00"}]).status_code
        == 201
    )
    ran = client.post("/v1/rotations/plan/run", headers=auth_headers).get_json()
    (job,) = ran["jobs"]
    assert job["status"] == "failed"
    assert "cannot change posting schedules" in job["error"]["message"]
    shown = client.get("/v1/rotations/plan", headers=auth_headers).get_json()
    assert "cannot change posting schedules" in str(shown)


@both()
def test_a_change_through_v1_keeps_the_pauses_graphql_reported(
    client, services, auth_headers, buffer_sandbox, celery_worker
):
    buffer_sandbox.sandbox.set_paused(DOCS_PROFILE, ["sun"])
    snapshots.take_account(services, "default")  # through GraphQL: sun is paused
    answer = client.patch(
        "/v1/profiles/@skinnyoteam/schedules",
        json={"days": "sat", "times": ["10am"]},
        headers=auth_headers,
    )
    job_url = answer.headers["Location"]
    assert wait_until(
        lambda: client.get(job_url, headers=auth_headers).get_json()["status"] == "succeeded",
        timeout=20,
    )
    history = client.get("/v1/profiles/@skinnyoteam/history", headers=auth_headers).get_json()
    for snapshot in history["snapshots"]:
        assert snapshot["paused_days"] == ["sun"], snapshot["reason"]
        assert all("pause" not in day for day in (snapshot.get("diff") or {}).values())
    again = snapshots.take_account(services, "default")
    assert DOCS_PROFILE not in again.changed, "no false drift after the bridge's own write"
