"""The reconcile of one profile, driven directly against the sandbox and real Redis."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Any

from bridge import jobs, models, profiles, reconcile, schedules, sync
from bridge.locks import ProfileLock
from bridge.models import utcnow
from bridge.queue import pending_key, synced_key
from bridge.ratelimit import RESERVE_MARGIN
from bridge.services import Services
from tests.conftest import DOCS_PROFILE, make_settings
from tests.conftest import cached_profile as cached
from tests.conftest import job_row as job
from tests.conftest import store_env as _env
from tests.conftest import submit_operation as submit


def api_calls(buffer_sandbox: Any) -> list[str]:
    return [f"{r.method} {r.path}" for r in buffer_sandbox.sandbox.recorded()]


def test_many_operations_cost_one_read_and_one_write(services, buffer_sandbox) -> None:
    cached(services, DOCS_PROFILE)
    buffer_sandbox.sandbox.clear_requests()
    ids = [
        submit(services, schedules.Operation.set("weekdays", "9am 5pm")),
        submit(services, schedules.Operation.add("mon", "12:30")),
        submit(services, schedules.Operation.remove("fri", "5pm")),
        submit(services, schedules.Operation.set("sat", "10:00")),
        submit(services, schedules.Operation.add("mon", "12:30")),
    ]
    outcome = sync.sync_profile(services, DOCS_PROFILE)
    assert outcome.state == "succeeded" and outcome.buffer_calls == 2
    assert api_calls(buffer_sandbox) == [
        f"GET /1/profiles/{DOCS_PROFILE}/schedules.json",
        f"POST /1/profiles/{DOCS_PROFILE}/schedules/update.json",
    ]
    assert buffer_sandbox.sandbox.schedules(DOCS_PROFILE) == [
        {"days": ["mon"], "times": ["09:00", "12:30", "17:00"]},
        {"days": ["tue", "wed", "thu"], "times": ["09:00", "17:00"]},
        {"days": ["fri"], "times": ["09:00"]},
        {"days": ["sat"], "times": ["10:00"]},
    ]
    results = [job(services, i) for i in ids]
    assert all(r.status == "succeeded" for r in results)
    assert results[1].result["diff"] == {
        "mon": {
            "before": ["09:00", "17:00"],
            "after": ["09:00", "12:30", "17:00"],
            "added": ["12:30"],
            "removed": [],
        }
    }
    assert results[4].result["diff"] == {}  # the repeat changed nothing
    assert results[0].result["buffer"]["coalesced_jobs"] == 5


def test_no_write_when_buffer_already_matches(services, buffer_sandbox) -> None:
    job_id = submit(services, schedules.Operation.set("weekdays", "12:00 17:00 18:00"))
    buffer_sandbox.sandbox.clear_requests()
    outcome = sync.sync_profile(services, DOCS_PROFILE)
    assert outcome.buffer_calls == 1
    assert len(api_calls(buffer_sandbox)) == 1
    assert job(services, job_id).result["buffer"]["written"] is False


def _slot_ages(services: Services) -> list[float]:
    """now - score of every Buffer slot of the sandbox token, oldest first."""
    from bridge.ratelimit import token_key
    from tests.conftest import SANDBOX_TOKEN

    seconds, micros = services.redis.time()
    now = seconds + micros / 1e6
    key = token_key(SANDBOX_TOKEN)
    return [now - score for _m, score in services.redis.zrange(key, 0, -1, withscores=True)]


def test_a_sync_stamps_its_calls_and_hands_back_an_unused_write_slot(services) -> None:
    cached(services, DOCS_PROFILE)
    services.redis.flushdb()  # only the sync's own slots from here
    submit(services, schedules.Operation.set("weekdays", "12:00 17:00 18:00"))  # as Buffer has
    assert sync.sync_profile(services, DOCS_PROFILE).buffer_calls == 1
    ages = _slot_ages(services)
    assert len(ages) == 1  # the write's slot went back: no write was made
    assert ages[0] >= 0  # scored with the read's end, not the reservation's margin ahead
    submit(services, schedules.Operation.add("sun", "11:00"))
    services.redis.delete(synced_key(DOCS_PROFILE))  # not a burst: sync at once
    assert sync.sync_profile(services, DOCS_PROFILE).buffer_calls == 2
    assert len(_slot_ages(services)) == 3 and all(age >= 0 for age in _slot_ages(services))


def test_retryable_error_retries_then_succeeds(services, buffer_sandbox) -> None:
    job_id = submit(services, schedules.Operation.add("sun", "11:00"))
    buffer_sandbox.sandbox.set_faults(error_rate=1.0)
    outcome = sync.sync_profile(services, DOCS_PROFILE)
    assert outcome.state == "retrying" and outcome.retry_in is not None
    assert 0 < outcome.retry_in <= services.settings.sync_backoff_max
    failed_once = job(services, job_id)
    assert (failed_once.status, failed_once.attempts) == ("retrying", 1)
    assert (failed_once.error_status, failed_once.error_code) == (500, 1000)
    buffer_sandbox.sandbox.set_faults(error_rate=0.0)
    assert sync.sync_profile(services, DOCS_PROFILE).state == "succeeded"
    done = job(services, job_id)
    assert (done.status, done.attempts, done.error_message) == ("succeeded", 2, None)


def test_retryable_error_fails_after_the_last_attempt(settings, buffer_sandbox) -> None:
    limited = make_settings(**{**_env(settings), "SYNC_MAX_ATTEMPTS": "2"})
    services = Services(limited)
    try:
        job_id = submit(services, schedules.Operation.add("sun", "11:00"))
        buffer_sandbox.sandbox.set_faults(error_rate=1.0)
        assert sync.sync_profile(services, DOCS_PROFILE).state == "retrying"
        assert sync.sync_profile(services, DOCS_PROFILE).state == "failed"
        failed = job(services, job_id)
        assert (failed.status, failed.attempts, failed.error_code) == ("failed", 2, 1000)
        assert failed.finished_at is not None
    finally:
        services.close()


def test_permanent_error_fails_at_once_with_buffers_code(services, buffer_sandbox) -> None:
    facebook = next(
        p for p in buffer_sandbox.sandbox.profiles("default") if p["service"] == "facebook"
    )
    times = [f"{h:02d}:{m:02d}" for h in range(6, 22) for m in (0, 30)]  # 32 > facebook's 25
    job_id = submit(services, schedules.Operation.set("mon", times), facebook["id"])
    outcome = sync.sync_profile(services, facebook["id"])
    assert outcome.state == "failed" and outcome.retry_in is None
    failed = job(services, job_id)
    assert (failed.status, failed.error_status, failed.error_code) == ("failed", 403, 1013)
    assert failed.attempts == 1


def test_rate_limited_sync_waits_without_touching_buffer(settings, buffer_sandbox) -> None:
    limited = make_settings(**{**_env(settings), "BUFFER_RATE_LIMIT": "2/60s"})
    services = Services(limited)
    try:
        cached(services, DOCS_PROFILE)  # 1 slot
        job_id = submit(services, schedules.Operation.add("sun", "11:00"))
        buffer_sandbox.sandbox.clear_requests()
        outcome = sync.sync_profile(services, DOCS_PROFILE)
        assert outcome.state == "rate_limited" and 0 < outcome.retry_in <= 60 + RESERVE_MARGIN
        assert api_calls(buffer_sandbox) == []
        assert job(services, job_id).status == "queued"
    finally:
        services.close()


def test_busy_profile_is_retried_not_waited_for(services) -> None:
    submit(services, schedules.Operation.add("sun", "11:00"))
    lock = ProfileLock(services.redis, DOCS_PROFILE, ttl=30)
    assert lock.acquire()
    try:
        outcome = sync.sync_profile(services, DOCS_PROFILE)
        assert outcome.state == "busy" and outcome.retry_in == sync.BUSY_RETRY
    finally:
        lock.release()


def test_reconciler_finds_stale_operations_after_redis_is_flushed(services) -> None:
    job_id = submit(services, schedules.Operation.add("sun", "11:00"))
    services.redis.flushall()  # the queued message and pending flag are gone
    with services.db.session() as session:
        session.get(models.Job, job_id).created_at = utcnow() - dt.timedelta(minutes=5)
    assert reconcile.stale_profiles(services) == [DOCS_PROFILE]
    assert reconcile.rewake(services) == [DOCS_PROFILE]
    assert services.redis.llen("bridge") == 1  # a sync task is queued again
    sync.sync_profile(services, DOCS_PROFILE)
    assert job(services, job_id).status == "succeeded"
    assert reconcile.stale_profiles(services) == []


def test_redis_down_still_accepts_the_change(settings) -> None:
    down = make_settings(**{**_env(settings), "REDIS_URL": "redis://127.0.0.1:1/0"})
    services = Services(down)
    try:
        with services.db.session() as session:
            from bridge.buffer.models import Profile as BufferProfile

            profiles.ensure_accounts(session, down)
            row = profiles.upsert(
                session,
                "default",
                [BufferProfile.from_json({"id": DOCS_PROFILE, "service": "twitter"})],
                utcnow(),
            )[0]
        stored, created = jobs.submit(
            services,
            jobs.NewJob(row, schedules.Operation.clear("sun"), origin=jobs.Provenance("rest")),
        )
        assert created and stored.status == "queued"
    finally:
        services.close()


@contextlib.contextmanager
def _settling(settings: Any, window: str = "5s") -> Iterator[Services]:
    """Services of their own that settle a change 0.4 s (10 s at most) after a burst
    within `window`; closed afterwards."""
    settling = {"SYNC_SETTLE": "0.4s", "SYNC_SETTLE_MAX": "10s", "SYNC_BURST_WINDOW": window}
    services = Services(make_settings(**{**_env(settings), **settling}))
    try:
        yield services
    finally:
        services.close()


def test_a_lone_change_syncs_at_once(settings, buffer_sandbox) -> None:
    with _settling(settings) as services:
        first = submit(services, schedules.Operation.add("sun", "11:00"))
        buffer_sandbox.sandbox.clear_requests()
        outcome = sync.sync_profile(services, DOCS_PROFILE)  # no sync in the window: at once
        assert outcome.state == "succeeded" and outcome.job_ids == [first]
        assert len(api_calls(buffer_sandbox)) == 2
        assert 4.0 < services.redis.pttl(synced_key(DOCS_PROFILE)) / 1000 <= 5.0


def test_changes_just_after_a_sync_fold_into_one_trailing_sync(settings, buffer_sandbox) -> None:
    import time

    with _settling(settings) as services:
        submit(services, schedules.Operation.add("sun", "10:00"))
        assert sync.sync_profile(services, DOCS_PROFILE).state == "succeeded"  # leading edge
        services.redis.delete("bridge")
        buffer_sandbox.sandbox.clear_requests()
        second = submit(services, schedules.Operation.add("sun", "11:00"))
        outcome = sync.sync_profile(services, DOCS_PROFILE)
        assert outcome.state == "settling" and 0 < outcome.retry_in <= 0.4
        assert services.redis.exists(pending_key(DOCS_PROFILE))  # the burst queues no tasks
        third = submit(services, schedules.Operation.add("sun", "12:00"))
        assert services.redis.llen("bridge") == 1  # only the second change's wake sent a task
        time.sleep(0.45)
        outcome = sync.sync_profile(services, DOCS_PROFILE)
        assert outcome.state == "succeeded" and outcome.job_ids == [second, third]
        assert len(api_calls(buffer_sandbox)) == 2


def test_a_change_after_the_window_syncs_at_once_again(settings, buffer_sandbox) -> None:
    import time

    with _settling(settings, window="0.3s") as services:
        submit(services, schedules.Operation.add("sun", "10:00"))
        assert sync.sync_profile(services, DOCS_PROFILE).state == "succeeded"
        time.sleep(0.35)
        later = submit(services, schedules.Operation.add("sun", "11:00"))
        outcome = sync.sync_profile(services, DOCS_PROFILE)
        assert outcome.state == "succeeded" and outcome.job_ids == [later]


def test_a_burst_window_of_zero_settles_every_change(settings, buffer_sandbox) -> None:
    with _settling(settings, window="0") as services:
        submit(services, schedules.Operation.add("sun", "11:00"))
        outcome = sync.sync_profile(services, DOCS_PROFILE)
        assert outcome.state == "settling" and 0 < outcome.retry_in <= 0.4
        assert not services.redis.exists(synced_key(DOCS_PROFILE))


def test_settling_never_waits_past_the_maximum(settings) -> None:
    env = {**_env(settings), "SYNC_SETTLE": "5s", "SYNC_SETTLE_MAX": "6s"}
    services = Services(make_settings(**env))
    try:
        services.redis.set(synced_key(DOCS_PROFILE), "1", ex=60)  # inside a burst
        job_id = submit(services, schedules.Operation.add("sun", "11:00"))
        assert sync.sync_profile(services, DOCS_PROFILE).state == "settling"
        with services.db.session() as session:
            session.get(models.Job, job_id).created_at = utcnow() - dt.timedelta(seconds=7)
        assert sync.sync_profile(services, DOCS_PROFILE).state == "succeeded"
    finally:
        services.close()


def test_a_crashed_snapshot_job_is_resent_then_failed(services) -> None:
    from bridge import snapshots

    queued = jobs.submit_snapshot(services, "default", None, jobs.Provenance("rest"))
    later = utcnow() + dt.timedelta(minutes=5)
    assert reconcile.stale_snapshot_jobs(services, later) == [("default", queued.id)]
    for attempt in range(1, snapshots.MAX_JOB_ATTEMPTS + 1):
        snapshots.record_crash(services, queued.id, RuntimeError("boom"))
        state = job(services, queued.id)
        expected = "failed" if attempt == snapshots.MAX_JOB_ATTEMPTS else "retrying"
        assert (state.status, state.attempts) == (expected, attempt)
        assert "RuntimeError" in state.error_message and "boom" not in state.error_message
    assert reconcile.stale_snapshot_jobs(services, later) == []


def test_snapshot_job_retries_on_a_buffer_outage(services, buffer_sandbox) -> None:
    from bridge import snapshots

    job_row = jobs.submit_snapshot(services, "default", None, jobs.Provenance("rest"))
    buffer_sandbox.sandbox.set_faults(error_rate=1.0)
    countdown = snapshots.finish_job(
        services, job_row.id, snapshots.take_account(services, "default")
    )
    assert countdown is not None and countdown > 0
    assert job(services, job_row.id).status == "retrying"
    buffer_sandbox.sandbox.set_faults(error_rate=0.0)
    outcome = snapshots.take_account(services, "default")
    assert snapshots.finish_job(services, job_row.id, outcome) is None
    done = job(services, job_row.id)
    assert done.status == "succeeded" and done.result["buffer"]["calls"] == 1


def test_a_job_that_keeps_crashing_the_worker_is_given_up(services, buffer_sandbox) -> None:
    crashed = submit(services, schedules.Operation.add("sun", "11:00"))
    with services.db.session() as session:
        row = session.get(models.Job, crashed)
        row.status, row.attempts = "running", services.settings.sync_max_attempts
    fresh = submit(services, schedules.Operation.add("sat", "09:30"))
    assert sync.sync_profile(services, DOCS_PROFILE).job_ids == [fresh]
    given_up = job(services, crashed)
    assert given_up.status == "failed" and "gave up after" in given_up.error_message
    assert job(services, fresh).status == "succeeded"
