"""/metrics: every family after a change goes through the real worker; multiprocess mode;
the worker's own metrics server."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bridge import metrics
from tests.conftest import DOCS_PROFILE, SANDBOX_TOKEN, free_port, job_done, wait_until
from tests.conftest import METRIC_FAMILIES as FAMILIES

ROOT = Path(__file__).resolve().parents[1]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(sample name, sorted labels) -> value, from an exposition."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    """One sample's value (0 when absent)."""
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(client: Any) -> str:
    """GET /metrics."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    return response.get_data(as_text=True)


def change_schedule(client: Any, headers: dict[str, str], times: list[str]) -> dict[str, Any]:
    """PATCH the docs profile's weekdays and wait for the job to finish."""
    response = client.patch(
        "/v1/profiles/@skinnyoteam/schedules",
        json={"days": "weekdays", "times": times},
        headers=headers,
    )
    assert response.status_code == 202, response.get_json()
    return job_done(client, headers, response.get_json()["job_id"])


def test_metrics_show_every_family_after_a_change(client, auth_headers, celery_worker):
    before = scrape(client)
    job = change_schedule(client, auth_headers, ["9am", "12:30", "5pm"])
    assert job["status"] == "succeeded", job
    again = change_schedule(client, auth_headers, ["9am", "12:30", "5pm"])  # nothing to write
    assert again["status"] == "succeeded", again
    after = scrape(client)

    names = {family.name for family in text_string_to_metric_families(after)}
    for family in FAMILIES:
        assert family.removesuffix("_total") in names, family
    route = "/v1/profiles/<ref>/schedules"
    delta = {
        "patch": value(
            after, "bridge_http_requests_total", route=route, source="rest", status="202"
        )
        - value(before, "bridge_http_requests_total", route=route, source="rest", status="202"),
        "done": value(after, "bridge_operations_total", outcome="done")
        - value(before, "bridge_operations_total", outcome="done"),
        "noop": value(after, "bridge_operations_total", outcome="noop")
        - value(before, "bridge_operations_total", outcome="noop"),
        "update": value(
            after, "bridge_buffer_calls_total", endpoint="update_schedules", status="200"
        )
        - value(before, "bridge_buffer_calls_total", endpoint="update_schedules", status="200"),
        "syncs": value(after, "bridge_sync_duration_seconds_count")
        - value(before, "bridge_sync_duration_seconds_count"),
    }
    assert delta == {"patch": 2, "done": 1, "noop": 1, "update": 1, "syncs": 2}
    assert value(after, "bridge_buffer_call_seconds_count", endpoint="schedules") >= 2
    assert value(after, "bridge_rate_limit_wait_seconds_count") >= 2
    assert value(after, "bridge_queue_depth") == 0
    assert 0 <= value(after, "bridge_snapshot_age_seconds") < 60
    # the raw path (with its profile reference) never becomes a label
    assert "@skinnyoteam" not in after


def test_reconciler_rewakes_are_counted(services):
    from bridge import jobs, models, reconcile, schedules

    with services.db.session() as session:
        session.add(models.Account(name="default", token_var="BUFFER_ACCESS_TOKEN"))
        session.add(
            models.Profile(
                id=DOCS_PROFILE,
                account="default",
                service="twitter",
                service_username="skinnyoteam",
            )
        )
    with services.db.session() as session:
        profile = session.get(models.Profile, DOCS_PROFILE)
    operation = schedules.Operation.from_json({"kind": "clear", "days": ["sat"]})
    jobs.submit(
        services, jobs.NewJob(profile=profile, operation=operation, origin=jobs.Provenance("rest"))
    )
    # the wake's pending flag has expired (the reconciler leaves a profile alone while it is set)
    services.redis.delete(f"bridge:pending:{DOCS_PROFILE}")
    before = metrics.REWAKES._value.get()
    wait_until(lambda: reconcile.rewake(services), timeout=5, interval=0.2)
    assert metrics.REWAKES._value.get() == before + 1


def test_unmatched_paths_share_one_route_label(client):
    client.get("/no/such/bb_secret-in-path")
    text = scrape(client)
    assert (
        value(text, "bridge_http_requests_total", route="<unmatched>", source="other", status="404")
        >= 1
    )
    assert "bb_secret" not in text


def test_store_gauges_survive_a_database_outage(app_factory_down):
    text = scrape(app_factory_down.test_client())  # answers 200, not 500
    assert "# TYPE bridge_queue_depth gauge" in text
    assert ("bridge_queue_depth", ()) not in samples(text)  # no sample rather than a wrong one
    assert "bridge_buffer_calls_total" in text


@pytest.fixture
def app_factory_down(redis_url: str) -> Any:
    """An app whose database is unreachable."""
    from bridge import create_app
    from bridge.services import Services
    from tests.conftest import make_settings

    settings = make_settings(
        DATABASE_URL=f"postgresql+psycopg://bridge@127.0.0.1:{free_port()}/bridge",
        REDIS_URL=redis_url,
    )
    services = Services(settings)
    yield create_app(settings, services)
    services.close()


# ---- several processes -----------------------------------------------------------------

MULTIPROCESS_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from bridge import create_app, metrics
    from tests.conftest import make_settings

    children = []
    for n in range(3):  # like gunicorn workers: forked processes counting on their own
        pid = os.fork()
        if pid == 0:
            metrics.observe_buffer_call("schedules", 200, 0.2)
            metrics.count_request("/v1/me", "rest", 200)
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]  # as bridge.config reads it
    settings = make_settings(
        DATABASE_URL=sys.argv[1], REDIS_URL=sys.argv[2], PROMETHEUS_MULTIPROC_DIR=directory
    )
    app = create_app(settings)
    sys.stdout.write(app.test_client().get("/metrics").get_data(as_text=True))
    """
)


def run_script(script: str, *args: str, env: dict[str, str]) -> str:
    """Run python code in a fresh interpreter with `env`; its stdout."""
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_metrics_are_summed_across_processes(tmp_path, database_url, redis_url):
    directory = tmp_path / "metrics"
    directory.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory), "LOG_LEVEL": "WARNING"}
    text = run_script(MULTIPROCESS_SCRIPT, database_url, redis_url, env=env)
    assert value(text, "bridge_buffer_calls_total", endpoint="schedules", status="200") == 3
    assert value(text, "bridge_buffer_call_seconds_count", endpoint="schedules") == 3
    assert (
        value(text, "bridge_http_requests_total", route="/v1/me", source="rest", status="200") == 3
    )
    assert "bridge_queue_depth" in text  # the store gauges, read at scrape time
    assert list(directory.glob("*.db")), "metrics were not written to the shared directory"
    assert "python_gc_objects_collected_total" not in text  # per-process metrics are not mixed


def test_without_the_directory_metrics_stay_in_memory(database_url, redis_url):
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    script = (
        "from bridge import metrics; from bridge.config import load_settings; import sys; "
        "sys.stdout.write(str(metrics.multiprocess_dir(load_settings())))"
    )
    assert run_script(script, env=env) == "None"


# ---- the worker's own /metrics ----------------------------------------------------------


def test_bridge_worker_serves_its_pool_processes_metrics(
    settings, client, auth_headers, buffer_sandbox, tmp_path
):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"} | {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "BUFFER_API_URL": buffer_sandbox.url,
        "BUFFER_ACCESS_TOKEN": SANDBOX_TOKEN,
        "WORKER_METRICS_PORT": str(port),
        "LOG_LEVEL": "WARNING",
    }
    bridge = Path(sys.executable).parent / "bridge"
    worker = subprocess.Popen(
        [str(bridge), "worker", "--concurrency", "2", "--pool", "prefork"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        wait_until(lambda: _get(url), timeout=30, interval=0.2)
        job = change_schedule(client, auth_headers, ["8am", "6pm"])
        assert job["status"] == "succeeded", job
        text = wait_until(
            lambda: (t := _get(url)) and "update_schedules" in t and t, timeout=10, interval=0.2
        )
        assert (
            value(text, "bridge_buffer_calls_total", endpoint="update_schedules", status="200") == 1
        )
        assert value(text, "bridge_operations_total", outcome="done") == 1
    finally:
        worker.terminate()
        _, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err.decode()[-3000:]


def _get(url: str) -> str | None:
    """The body at `url`, or None while nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read().decode()
    except OSError:
        return None
