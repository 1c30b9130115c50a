"""Issue 13 (intake): what the web process does so a change is accepted quickly under load
(bench/intake.py measures it): one pooled database connection per web thread, and the
app built once in gunicorn's master and forked into each worker."""

from __future__ import annotations

import runpy
from types import SimpleNamespace

import pytest
from sqlalchemy import event, text

from bridge import auth, web_server
from bridge.config import load_settings
from bridge.services import DB_CONNECTIONS_PER_PROCESS, Services


@pytest.mark.parametrize(
    ("extra_settings", "kept", "overflow"),
    [({"GUNICORN_THREADS": "8", "WAIT_MAX_CONCURRENT": "4"}, 8, 7), ({}, 15, 0)],
)
def test_the_pool_keeps_a_connection_per_web_thread(
    services: Services, kept: int, overflow: int
) -> None:
    """SQLAlchemy's default keeps 5, so threads 6 to 16 opened and closed a connection per
    session under load; the most a process holds stays 15, as before."""
    pool = services.db.engine.pool
    assert (pool.size(), pool._max_overflow) == (kept, overflow)  # type: ignore[attr-defined]
    assert kept + overflow == DB_CONNECTIONS_PER_PROCESS


def test_gunicorn_preloads_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GUNICORN_WORKERS", raising=False)
    conf = runpy.run_module("bridge.gunicorn_conf")
    assert conf["preload_app"] is True
    assert web_server.options(load_settings({}))["post_fork"] is web_server.post_fork


def test_a_forked_worker_drops_the_masters_connections(app) -> None:
    """post_fork leaves the preloaded app a fresh pool: no socket shared with the master."""
    engine = app.extensions["bridge"].db.engine
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    before = engine.pool
    assert before.checkedin() == 1
    web_server.post_fork(SimpleNamespace(app=SimpleNamespace(callable=app)), None)
    assert engine.pool is not before
    assert engine.pool.checkedin() == 0
    with engine.connect() as conn:  # and it still works
        assert conn.execute(text("SELECT 1")).scalar() == 1


def test_post_fork_without_a_preloaded_app_does_nothing() -> None:
    web_server.post_fork(SimpleNamespace(app=SimpleNamespace(callable=None)), None)


def test_a_change_takes_one_database_connection_and_one_commit(client, services) -> None:
    """The profile lookup and the job's insert share one transaction, and a token seen
    moments ago is not looked up again (before: three checkouts, three commits)."""
    from tests.conftest import PATCH_URL, Checkouts

    with services.db.session() as session:
        _client, token = auth.create_client(session, "zap")
    headers = {"Authorization": f"Bearer {token}"}
    body = {"days": "mon", "times": ["09:00"], "mode": "add"}
    assert client.patch(PATCH_URL, json=body, headers=headers).status_code == 202  # warm
    checkouts = Checkouts(services)
    commits: list[object] = []
    event.listen(services.db.engine, "commit", commits.append)
    answer = client.patch(PATCH_URL, json=body, headers=headers)
    assert answer.status_code == 202
    assert (checkouts.take(), len(commits)) == (1, 1)


def test_a_change_to_a_profile_the_cache_does_not_know_yet_refreshes_it(
    client, services, auth_headers
) -> None:
    """The lookup inside the storing transaction still fills the cache on a miss: the
    cache starts empty, and the first change names a profile by id."""
    from bridge import models
    from tests.conftest import DOCS_PROFILE

    with services.db.session() as session:
        assert session.get(models.Profile, DOCS_PROFILE) is None
    answer = client.patch(
        f"/v1/profiles/{DOCS_PROFILE}/schedules",
        json={"days": "mon", "times": ["09:00"]},
        headers=auth_headers,
    )
    assert answer.status_code == 202, answer.get_json()
    with services.db.session() as session:
        job = session.get(models.Job, answer.get_json()["job_id"])
        assert job is not None and job.profile_id == DOCS_PROFILE
