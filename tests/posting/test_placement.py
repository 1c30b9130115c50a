"""Kept weeks end to end against the sandbox over real sockets: changes kept by the bridge,
posts placed on the week's free slots and moved when it changes, within the GraphQL budget.

Slots are checked against times worked out here from the week and the clock (the slot
finder's own rules have their unit tests in test_slots.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from typing import Any

import pytest

from bridge import jobs, models, schedules, sync
from bridge.posting import kept
from bridge.services import Services
from tests.conftest import wait_until
from tests.posting.conftest import DOCS_PROFILE, PROFILE, daily_slots, job, keep_week, post, tz_of

UTC = dt.UTC


def graphql_only():
    return pytest.mark.parametrize("extra_settings", ["graphql"], indirect=True)


def run_sync(services: Services) -> sync.SyncOutcome:
    """Sync the profile until it has nothing left to retry now."""
    outcome = sync.sync_profile(services, DOCS_PROFILE)
    for _ in range(20):
        if outcome.state not in ("busy", "lost_lock") and outcome.retry_in is None:
            break
        if outcome.state == "rate_limited":
            return outcome
        outcome = sync.sync_profile(services, DOCS_PROFILE)
    return outcome


def keep_synced(client: Any, headers: dict[str, str], services: Services, times: list[str]) -> None:
    """Keep a week of `times` every day and sync it."""
    keep_week(client, headers, times)
    run_sync(services)


def sandbox_due(buffer_sandbox: Any) -> dict[str, dt.datetime]:
    """post id -> dueAt of the scheduled posts of the profile in the sandbox."""
    return {
        p["id"]: dt.datetime.fromisoformat(p["dueAt"].replace("Z", "+00:00"))
        for p in buffer_sandbox.sandbox.channel_posts(DOCS_PROFILE)
        if p["status"] == "scheduled"
    }


@graphql_only()
def test_the_week_is_kept_and_a_post_lands_then_moves(
    client, services, auth_headers, buffer_sandbox, celery_worker
):
    before = buffer_sandbox.sandbox.schedules(DOCS_PROFILE)
    change = keep_week(client, auth_headers, ["09:00"])
    assert wait_until(lambda: job(client, auth_headers, change)["status"] == "succeeded", 20)
    assert buffer_sandbox.sandbox.schedules(DOCS_PROFILE) == before, "Buffer's is left alone"
    shown = client.get(f"{PROFILE}/schedules", headers=auth_headers).get_json()
    assert shown["schedule_mode"] == "bridge" and shown["summary"] == "mon-sun 09:00"

    placed = post(client, auth_headers, "First post")
    done = wait_until(lambda: job(client, auth_headers, placed)["status"] == "succeeded", 20)
    assert done
    result = job(client, auth_headers, placed)["result"]
    tz = tz_of(services)
    (first,) = daily_slots(tz, ["09:00"], 1)
    assert sandbox_due(buffer_sandbox) == {result["post_id"]: first}
    assert result["slot"].endswith("09:00")
    assert dt.datetime.fromisoformat(result["due_at"]) == first
    assert (
        dt.datetime.fromisoformat(result["due_at"]).utcoffset() == first.astimezone(tz).utcoffset()
    )  # in the profile's own timezone

    moved = keep_week(client, auth_headers, ["10:30"])

    def moves_done() -> bool:
        found = job(client, auth_headers, moved)
        return (
            found["status"] == "succeeded"
            and (found["result"] or {}).get("posts", {}).get("state") == "done"
        )

    assert wait_until(moves_done, 20)
    (then,) = daily_slots(tz, ["10:30"], 1)
    assert sandbox_due(buffer_sandbox) == {result["post_id"]: then}
    report = job(client, auth_headers, moved)["result"]["posts"]
    assert report["moved"] == 1 and report["to_move"] == 1 and not report["failed"]
    (entry,) = report["moves"]
    assert entry["post_id"] == result["post_id"]
    assert dt.datetime.fromisoformat(entry["from"]) == first
    assert dt.datetime.fromisoformat(entry["to"]) == then
    listed = client.get(f"{PROFILE}/posts", headers=auth_headers).get_json()
    assert listed["posts"][0]["follows_week"] is True and listed["stale"] is False


@graphql_only()
def test_twenty_posts_get_the_first_twenty_free_slots_in_arrival_order(
    client, services, auth_headers, buffer_sandbox
):
    keep_synced(client, auth_headers, services, ["08:00", "12:00", "18:00"])
    ids = [post(client, auth_headers, f"post {n}") for n in range(20)]
    # two workers: each sync takes the profile lock, so they take turns, in job order
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda _: run_sync(services), range(2)))
    run_sync(services)
    results = [job(client, auth_headers, i)["result"] for i in ids]
    due = [dt.datetime.fromisoformat(r["due_at"]) for r in results]
    assert due == daily_slots(tz_of(services), ["08:00", "12:00", "18:00"], 20)
    assert len(sandbox_due(buffer_sandbox)) == 20


@graphql_only()
def test_a_slot_taken_in_buffer_paused_days_and_excluded_dates_are_skipped(
    client, services, auth_headers, buffer_sandbox
):
    keep_synced(client, auth_headers, services, ["09:00"])
    tz = tz_of(services)
    first, second, third, fourth = daily_slots(tz, ["09:00"], 4)
    buffer_sandbox.sandbox.add_post(DOCS_PROFILE, "made in Buffer", first.isoformat())
    excluded = second.astimezone(tz).date().isoformat()
    answer = client.patch(PROFILE, json={"excluded_dates": [excluded]}, headers=auth_headers)
    assert answer.status_code == 200
    placed = post(client, auth_headers, "skips two days")
    run_sync(services)
    assert job(client, auth_headers, placed)["result"]["due_at"] == third.astimezone(tz).isoformat()
    # a paused day: pause the day of the fourth slot in the kept week
    day = schedules.DAYS[fourth.astimezone(tz).weekday()]
    with services.db.session() as session:
        row = kept.ensure_settings(session, DOCS_PROFILE)
        row.paused_days = [day]
    later = post(client, auth_headers, "skips a paused day")
    run_sync(services)
    fifth = daily_slots(tz, ["09:00"], 5)[4]
    assert job(client, auth_headers, later)["result"]["due_at"] == fifth.astimezone(tz).isoformat()


@graphql_only()
def test_a_move_buffer_refuses_leaves_the_post_and_the_job_says_which(
    client, services, auth_headers, buffer_sandbox, monkeypatch
):
    from bridge.sandbox.posts import PostError

    keep_synced(client, auth_headers, services, ["09:00"])
    ids = [post(client, auth_headers, f"post {n}") for n in range(3)]
    run_sync(services)
    placed = [job(client, auth_headers, i)["result"]["post_id"] for i in ids]
    stuck = placed[1]
    real_edit = buffer_sandbox.sandbox.posts.edit

    def refuse_one(account: str, fields: dict[str, Any]) -> dict[str, Any]:
        if fields.get("id") == stuck:
            raise PostError("InvalidInputError", "This post cannot be rescheduled")
        return real_edit(account, fields)

    monkeypatch.setattr(buffer_sandbox.sandbox.posts, "edit", refuse_one)
    before = sandbox_due(buffer_sandbox)
    change = keep_week(client, auth_headers, ["07:00"])
    run_sync(services)
    report = job(client, auth_headers, change)["result"]["posts"]
    assert report["state"] == "done" and report["moved"] == 2
    (failed,) = report["failed"]
    assert failed["post_id"] == stuck and "cannot be rescheduled" in failed["error"]
    after = sandbox_due(buffer_sandbox)
    assert after[stuck] == before[stuck], "a refused move leaves the post where it was"
    assert all(after[p] != before[p] for p in placed if p != stuck)


@graphql_only()
def test_moving_a_long_queue_spreads_over_the_budget_without_a_429(
    client, services, auth_headers, buffer_sandbox, settings
):
    keep_synced(client, auth_headers, services, ["06:00", "12:00", "18:00"])
    for n in range(12):
        post(client, auth_headers, f"post {n}")
    run_sync(services)
    # now a budget of 5 calls every 2 seconds, in the bridge and in Buffer alike
    buffer_sandbox.sandbox.set_faults(graphql_rate_limit="5/2s")
    budget = Services(load_tight(settings))
    try:
        buffer_sandbox.sandbox.clear_requests()
        change = keep_week(client, auth_headers, ["07:00", "13:00", "19:00"])
        outcome = sync.sync_profile(budget, DOCS_PROFILE)
        assert outcome.retry_in, "the budget ran out: the sync runs again when it has room"
        progress = job(client, auth_headers, change)["result"]["posts"]
        assert progress["state"] == "moving" and 0 < progress["moved"] < 12
        for _ in range(30):
            found = job(client, auth_headers, change)["result"]["posts"]
            if found["state"] == "done":
                break
            wait = sync.sync_profile(budget, DOCS_PROFILE).retry_in or 0
            time.sleep(min(wait, 2.5))
        report = job(client, auth_headers, change)["result"]["posts"]
        assert report["state"] == "done" and report["moved"] == 12 and not report["failed"]
        statuses = [r.status for r in buffer_sandbox.sandbox.recorded()]
        assert 429 not in statuses, "the bridge's own limiter kept it under Buffer's"
    finally:
        budget.close()


def load_tight(settings: Any) -> Any:
    """The same settings with a GraphQL budget of 5 calls per 2 seconds."""
    from bridge.config import load_settings

    env = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "BUFFER_API_URL": settings.buffer_api_url,
        "BUFFER_ACCESS_TOKEN": "",
        "BUFFER_API_KEY": "sandbox-key",
        "BUFFER_GRAPHQL_URL": settings.buffer_graphql_url,
        "BUFFER_GRAPHQL_RATE_LIMIT": "5/2s",
        "LOG_FORMAT": "text",
    }
    return load_settings(env)


@pytest.mark.parametrize("extra_settings", ["both"], indirect=True)
def test_the_sunset_passing_while_jobs_wait_keeps_them_in_the_week(
    client, services, auth_headers, buffer_sandbox, settings
):
    """A v1 account with a key: changes queued before the sunset are kept by the bridge
    once it passes, with no v1 write and no 409."""
    client.get("/v1/profiles?refresh=1", headers=auth_headers)
    with services.db.session() as session:
        profile = session.get(models.Profile, DOCS_PROFILE)
    queued, _ = jobs.submit(
        services,
        jobs.NewJob(
            profile, schedules.Operation.set("weekdays", ["11:00"]), origin=jobs.Provenance("rest")
        ),
    )
    before = buffer_sandbox.sandbox.schedules(DOCS_PROFILE)
    buffer_sandbox.sandbox.clear_requests()
    yesterday = dt.datetime.now(UTC).date() - dt.timedelta(days=1)
    after_sunset = Services(dataclasses.replace(settings, buffer_v1_sunset=yesterday))
    try:
        outcome = sync.sync_profile(after_sunset, DOCS_PROFILE)
    finally:
        after_sunset.close()
    assert outcome.state == "succeeded"
    found = job(client, auth_headers, queued.id)
    assert found["status"] == "succeeded"
    assert buffer_sandbox.sandbox.schedules(DOCS_PROFILE) == before
    assert not any(r.path.startswith("/1/") for r in buffer_sandbox.sandbox.recorded())
    with services.db.session() as session:
        kept_week = kept.week_of(kept.settings_of(session, DOCS_PROFILE), None)
    assert kept_week["mon"] == ("11:00",)
    assert found["result"]["after"] == schedules.to_buffer(kept_week)


@graphql_only()
def test_adopting_buffers_queue_moves_app_posts_onto_the_kept_week(
    client, services, auth_headers, buffer_sandbox
):
    from bridge.posting import adoption

    keep_synced(client, auth_headers, services, ["09:00"])
    tz = tz_of(services)
    app_post = buffer_sandbox.sandbox.add_post(DOCS_PROFILE, "added in Buffer's app")
    assert adoption.run(services).adopted == {}, "off by default"
    answer = client.patch(PROFILE, json={"adopt_queue": True}, headers=auth_headers)
    assert answer.status_code == 200
    found = adoption.run(services)
    assert found.adopted == {DOCS_PROFILE: 1}
    run_sync(services)
    (first,) = daily_slots(tz, ["09:00"], 1)
    assert sandbox_due(buffer_sandbox)[app_post["id"]] == first
    assert adoption.run(services).adopted == {}, "a post is adopted once"
    listed = client.get(f"{PROFILE}/posts", headers=auth_headers).get_json()["posts"]
    (shown,) = [p for p in listed if p["id"] == app_post["id"]]
    assert shown["follows_week"] is True and shown["placed_by_bridge"] is False


@graphql_only()
def test_post_events_name_the_profile_time_and_text(client, services, auth_headers):
    from sqlalchemy import select

    keep_synced(client, auth_headers, services, ["09:00"])
    placed = post(client, auth_headers, "An event-worthy post")
    run_sync(services)
    keep_synced(client, auth_headers, services, ["11:00"])
    with services.db.session() as session:
        found = {
            e.type: e.payload
            for e in session.scalars(select(models.Event).where(models.Event.type.like("post.%")))
        }
    assert set(found) == {"post.scheduled", "post.moved"}
    with services.db.session() as session:
        succeeded = [
            e.payload["data"]["job_id"]
            for e in session.scalars(
                select(models.Event).where(models.Event.type == "job.succeeded")
            )
        ]
    assert placed in succeeded, "a post's job is told like every job"
    scheduled = found["post.scheduled"]["data"]
    assert scheduled["profile_label"] == "twitter:skinnyoteam"
    assert scheduled["excerpt"] == "An event-worthy post"
    assert scheduled["due_at"] == job(client, auth_headers, placed)["result"]["due_at"]
    assert found["post.moved"]["data"]["to"].endswith(scheduled["due_at"][-6:])


@graphql_only()
def test_chat_and_cli_post(client, services, auth_headers, runner, monkeypatch, settings):
    from bridge import auth
    from bridge.cli import main
    from tests.conftest import SLACK_TEAM as TEAM
    from tests.conftest import slack_form
    from tests.conftest import slack_signed as signed

    keep_synced(client, auth_headers, services, ["09:00"])
    with services.db.session() as session:
        auth.create_client(session, "slack", slack_team=TEAM)
    body = slack_form("post @skinnyoteam Hello from Slack")
    answer = client.post("/chat/slack", data=body, headers=signed(body))
    assert answer.status_code == 200
    assert "Queued: post on twitter:skinnyoteam" in answer.get_json()["text"], answer.get_json()
    for name, value in {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "BUFFER_API_KEY": "sandbox-key",
        "BUFFER_GRAPHQL_URL": settings.buffer_graphql_url,
        "BUFFER_ACCESS_TOKEN": "",
    }.items():
        monkeypatch.setenv(name, value)
    added = runner.invoke(main, ["posts", "add", "@skinnyoteam", "From the shell"])
    assert added.exit_code == 0, added.output
    run_sync(services)
    listed = runner.invoke(main, ["posts", "list", "@skinnyoteam"])
    assert listed.exit_code == 0, listed.output
    assert "From the shell" in listed.output and "Hello from Slack" in listed.output
    shown = runner.invoke(main, ["profile-settings", "@skinnyoteam"])
    assert "schedule_mode: bridge" in shown.output


@graphql_only()
def test_a_worker_dying_after_buffer_made_the_post_does_not_post_twice(
    client, services, auth_headers, buffer_sandbox, monkeypatch
):
    from bridge.posting import placement

    keep_synced(client, auth_headers, services, ["09:00"])
    placed = post(client, auth_headers, "exactly once")
    real = placement._post_placed

    def die(*args: Any, **kwargs: Any) -> None:
        raise SystemExit("the worker died after Buffer made the post")

    monkeypatch.setattr(placement, "_post_placed", die)
    with pytest.raises(SystemExit):
        sync.sync_profile(services, DOCS_PROFILE)
    assert len(sandbox_due(buffer_sandbox)) == 1
    monkeypatch.setattr(placement, "_post_placed", real)
    services.redis.flushall()  # the dead worker's lock is gone with it
    run_sync(services)
    found = job(client, auth_headers, placed)
    assert found["status"] == "succeeded"
    assert list(sandbox_due(buffer_sandbox)) == [found["result"]["post_id"]]
    assert found["result"]["slot"].endswith("09:00")


@graphql_only()
def test_listing_posts_is_cached_and_leaves_the_reserve_to_placements(
    client, services, auth_headers, buffer_sandbox
):
    keep_synced(client, auth_headers, services, ["09:00"])
    post(client, auth_headers, "listed")
    run_sync(services)
    buffer_sandbox.sandbox.clear_requests()
    first = client.get(f"{PROFILE}/posts", headers=auth_headers).get_json()
    again = client.get(f"{PROFILE}/posts", headers=auth_headers).get_json()
    asked = [r for r in buffer_sandbox.sandbox.recorded() if r.path == "/graphql"]
    assert len(asked) == 1, "the second listing is answered from the last minute's read"
    assert first["read_at"] == again["read_at"] and again["posts"][0]["excerpt"] == "listed"
    # fill the budget up to its reserve: a listing now waits, placements do not
    limiter, key = services.graphql_limiter, "sandbox-key"
    services.redis.flushall()
    while limiter.acquire_read(key) == 0:
        pass
    listed = client.get(f"{PROFILE}/posts", headers=auth_headers).get_json()
    assert listed["stale"] is True and "rate limit" in listed["stale_reason"]
    placed = post(client, auth_headers, "still placed")
    run_sync(services)
    assert job(client, auth_headers, placed)["status"] == "succeeded"
