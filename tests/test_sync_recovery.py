"""Issue 9, items 11 and 14: syncs after a crash, a removed account, and the reconciler."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from bridge import locks, models, reconcile, schedules, sync
from bridge.locks import ProfileLock
from bridge.models import utcnow
from bridge.queue import pending_key, pending_ttl
from bridge.services import Services
from tests.conftest import DOCS_PROFILE, make_settings
from tests.conftest import job_row as job
from tests.conftest import store_env as _env
from tests.conftest import submit_operation as submit


class Killed(BaseException):
    """The worker process dying: nothing after it runs."""


def test_a_write_whose_worker_died_is_reported_by_the_rerun(services, buffer_sandbox):
    """Item 11: Buffer accepted the write, then the worker was killed; the re-run finds
    Buffer already changed and reports the change that happened, with its snapshots."""
    original = schedules.from_buffer(buffer_sandbox.sandbox.schedules(DOCS_PROFILE))
    job_id = submit(services, schedules.Operation.set("mon", "06:15"))
    client = services.buffer("default")
    real = client.update_schedules

    def write_then_die(profile_id: str, entries: Any) -> None:
        real(profile_id, entries)
        raise Killed

    client.update_schedules = write_then_die  # type: ignore[method-assign]
    try:
        with pytest.raises(Killed):
            sync.sync_profile(services, DOCS_PROFILE)
    finally:
        del client.update_schedules
    assert schedules.from_buffer(buffer_sandbox.sandbox.schedules(DOCS_PROFILE))["mon"] == (
        "06:15",
    )

    assert sync.sync_profile(services, DOCS_PROFILE).state == "succeeded"
    done = job(services, job_id)
    assert done.status == "succeeded"
    assert done.result["buffer"]["written"] is True
    assert schedules.from_buffer(done.result["buffer"]["before"]) == original
    assert done.result["diff"]["mon"]["before"] == list(original["mon"])
    assert done.result["diff"]["mon"]["after"] == ["06:15"]
    with services.db.session() as session:
        reasons = sorted(
            session.scalars(select(models.Snapshot.reason).where(models.Snapshot.job_id == job_id))
        )
    assert reasons == [models.AFTER_CHANGE, models.BEFORE_CHANGE]


def test_jobs_of_an_account_without_a_token_fail_naming_the_variable(settings, services):
    """Item 14a: the token variable was removed; the jobs fail once, clearly, and the
    reconciler stops waking them."""
    job_id = submit(services, schedules.Operation.set("mon", "09:00"))
    env = _env(settings)
    del env["BUFFER_ACCESS_TOKEN"]
    without = Services(make_settings(**env))
    try:
        outcome = sync.sync_profile(without, DOCS_PROFILE)
    finally:
        without.close()
    assert outcome.state == "failed" and outcome.job_ids == [job_id]
    failed = job(services, job_id)
    assert failed.status == "failed"
    assert "BUFFER_ACCESS_TOKEN" in failed.error_message
    later = utcnow() + dt.timedelta(hours=1)
    assert reconcile.stale_profiles(services, later) == []


def _age(services: Services, job_id: int, **fields: dt.datetime) -> None:
    with services.db.session() as session:
        row = session.get(models.Job, job_id)
        for name, value in fields.items():
            setattr(row, name, value)


def test_the_reconciler_leaves_a_running_attempt_alone(services):
    """Item 14b: a job first started long ago but whose current attempt began just now is
    not stuck; only an attempt older than RECONCILE_AFTER is."""
    job_id = submit(services, schedules.Operation.set("mon", "09:00"))
    long_ago = utcnow() - dt.timedelta(minutes=30)
    _age(services, job_id, created_at=long_ago)
    with services.db.session() as session:
        session.get(models.Job, job_id).start()
    _age(services, job_id, started_at=long_ago)
    services.redis.delete(pending_key(DOCS_PROFILE))
    assert reconcile.stale_profiles(services) == []
    _age(services, job_id, attempt_started_at=long_ago)
    assert reconcile.stale_profiles(services) == [DOCS_PROFILE]


def test_the_reconciler_skips_profiles_being_synced_or_already_woken(services):
    """Item 14b: a queued job past RECONCILE_AFTER is re-sent only when no sync holds the
    profile's lock and no wake is pending."""
    job_id = submit(services, schedules.Operation.set("mon", "09:00"))
    _age(services, job_id, created_at=utcnow() - dt.timedelta(minutes=5))
    services.redis.flushall()
    lock = ProfileLock(services.redis, DOCS_PROFILE, ttl=30)
    assert lock.acquire()
    assert reconcile.rewake(services) == []
    lock.release()
    services.redis.set(pending_key(DOCS_PROFILE), "1", ex=60)
    assert reconcile.rewake(services) == []
    assert services.redis.llen("bridge") == 0
    services.redis.delete(pending_key(DOCS_PROFILE))
    assert reconcile.rewake(services) == [DOCS_PROFILE]
    assert services.redis.llen("bridge") == 1


def test_the_pending_flag_lives_no_longer_than_the_reconciler_waits() -> None:
    """Issue 13: a task lost with a killed worker or a flushed Redis left its profile's
    flag set for a fixed minute, hiding the profile from the reconciler that long; the
    flag now lives RECONCILE_AFTER (but outlives a settling burst)."""
    assert pending_ttl(make_settings(RECONCILE_AFTER="120s")) == 120
    assert pending_ttl(make_settings(RECONCILE_AFTER="30s")) == 30
    settling = make_settings(RECONCILE_AFTER="3s", SYNC_SETTLE="2s", SYNC_SETTLE_MAX="8s")
    assert pending_ttl(settling) == 10


def test_wake_sets_the_flag_for_pending_ttl(services: Services) -> None:
    assert services.queue.wake(DOCS_PROFILE)
    ttl = services.redis.ttl(pending_key(DOCS_PROFILE))
    assert 0 < ttl <= pending_ttl(services.settings)


def test_rescue_wakes_a_profile_whose_sync_died_holding_its_lock(services):
    """Issue 21: a sync that died with its worker left its mark and its lock; while the
    lock lives the profile is left alone, once it has expired the profile is woken at once
    (not after RECONCILE_AFTER), and only once."""
    services.redis.flushall()
    lock = ProfileLock(services.redis, DOCS_PROFILE, ttl=30)
    assert lock.acquire()
    locks.mark_syncing(services.redis, DOCS_PROFILE)  # ... and the worker dies here
    assert reconcile.rescue(services) == []
    services.redis.delete(lock.key)  # the lock expires
    assert reconcile.rescue(services) == [DOCS_PROFILE]
    assert services.redis.llen("bridge") == 1
    assert reconcile.rescue(services) == []


def test_a_finished_sync_leaves_no_mark(services, buffer_sandbox):
    services.redis.flushall()
    submit(services, schedules.Operation.set("mon", "09:00"))
    assert sync.sync_profile(services, DOCS_PROFILE).state == "succeeded"
    assert not services.redis.sismember(locks.SYNCING_KEY, DOCS_PROFILE)
    assert reconcile.rescue(services) == []


def test_the_lock_outlives_a_dead_holder_by_seconds_not_a_buffer_deadline(services):
    """The lock's life no longer covers two Buffer calls at their deadlines (70 s with
    BUFFER_TIMEOUT=5,30): the renewer keeps it while a sync runs."""
    assert sync.lock_ttl(services) == locks.LOCK_TTL <= 6.0
