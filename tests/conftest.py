"""Shared fixtures: a private redis-server, the Buffer sandbox over a real socket,
SQLite and PostgreSQL stores, the app, its test client, a CLI runner and a real
Celery worker (threads, no task_always_eager)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import redis
from click.testing import CliRunner
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import create_engine, event, text
from werkzeug.serving import make_server

from bridge import auth, create_app
from bridge import sandbox as sim
from bridge.config import DELIVERY_QUEUE, WORK_QUEUE, Settings, load_settings

# The harness lives once, in bridge/harness/ (the benchmarks and `bridge dev` use it too);
# these names stay importable from here for the tests that import them from conftest.
from bridge.harness import MissingTool
from bridge.harness import free_port as free_port
from bridge.harness import wait_until as wait_until
from bridge.harness.redis_server import RedisServer as RedisServer
from bridge.migrate import upgrade
from bridge.services import Services

SANDBOX_TOKEN = "sandbox-token"
POSTGRES_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_SERVICES = os.environ.get("BRIDGE_REQUIRE_SERVICES") == "1"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One private redis-server for the test session."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    try:
        server.start()
    except MissingTool as missing:
        pytest.fail(str(missing))
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The private Redis, flushed for this test."""
    if redis_server.process is None:
        redis_server.start()
    redis.Redis.from_url(redis_server.url).flushall()
    return redis_server.url


@pytest.fixture
def buffer_sandbox() -> Iterator[sim.RunningSandbox]:
    """A fresh Buffer sandbox on a real socket (generous rate limit unless a test lowers it)."""
    running = sim.start(sim.SandboxConfig(seed=7, profiles=5, rate_limit=(600, 60.0)))
    yield running
    running.stop()


def _postgres_url() -> str:
    """A private schema in the test PostgreSQL database, or skip (fail under CI)."""
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as error:
        if REQUIRE_SERVICES:
            pytest.fail(f"PostgreSQL is required here but unreachable: {error}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {error}")
    schema = f"bridge_test_{uuid.uuid4().hex[:10]}"
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"


def _drop_schema(url: str) -> None:
    schema = url.rsplit("%3D", 1)[1]
    engine = create_engine(POSTGRES_URL)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def unmigrated_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database with no schema yet, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bridge.db'}"
        return
    url = _postgres_url()
    yield url
    _drop_schema(url)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A private, empty schema (no tables yet) in the test PostgreSQL database."""
    url = _postgres_url()
    yield url
    _drop_schema(url)


@pytest.fixture
def any_database_url(unmigrated_database_url: str) -> str:
    """A migrated, empty store on SQLite and on PostgreSQL (store tests run on both)."""
    upgrade(unmigrated_database_url)
    return unmigrated_database_url


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """A migrated SQLite store in a temporary file."""
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    upgrade(url)
    return url


def make_settings(**overrides: str) -> Settings:
    """Settings from a clean environment plus `overrides`."""
    env = {"LOG_FORMAT": "text", **overrides}
    return load_settings(env)


@pytest.fixture
def extra_settings() -> dict[str, str]:
    """Variables a test module adds to (or changes in) `settings`; override it there."""
    return {}


@pytest.fixture
def settings(
    database_url: str,
    redis_url: str,
    buffer_sandbox: sim.RunningSandbox,
    extra_settings: dict[str, str],
) -> Settings:
    """Settings pointing at the private Redis, a fresh store and the sandbox."""
    usual = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "BUFFER_API_URL": buffer_sandbox.url,
        "BUFFER_ACCESS_TOKEN": SANDBOX_TOKEN,
        "BUFFER_TIMEOUT": "2,5",
        "RECONCILE_AFTER": "1s",
        "SYNC_SETTLE": "0",  # tests sync at once; test_sync covers the settling on its own
        # follow-ups go to the local `receiver`; test_followups checks the production default
        "FOLLOWUP_ALLOW_PRIVATE_HOSTS": "127.0.0.1",
    }
    return make_settings(**{**usual, **extra_settings})


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    """Services built from `settings`."""
    built = Services(settings)
    yield built
    built.close()


@pytest.fixture
def app(settings: Settings, services: Services) -> Any:
    """The Flask app."""
    application = create_app(settings, services)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app: Any) -> Any:
    """Flask's test client."""
    return app.test_client()


@pytest.fixture
def live_server(app: Any) -> Iterator[str]:
    """The app on Werkzeug's development server (the one `flask run` uses, threaded) on a
    real socket: its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def runner() -> CliRunner:
    """Click's CLI runner."""
    return CliRunner()


@pytest.fixture
def api_token(services: Services) -> str:
    """A token of a client allowed everything."""
    from bridge import auth

    with services.db.session() as session:
        _client, token = auth.create_client(session, "tests")
    return token


@pytest.fixture
def auth_headers(api_token: str) -> dict[str, str]:
    """Authorization header of `api_token`."""
    return {"Authorization": f"Bearer {api_token}"}


@pytest.fixture
def celery_worker(settings: Settings, services: Services) -> Iterator[Any]:
    """A real Celery worker (thread pool) consuming from the private Redis: both queues,
    for tests of what happens, not of how the work is split (tests/events/test_delivery_isolation.py
    runs the two kinds of worker apart, as deployed)."""
    from celery.contrib.testing.worker import start_worker

    from tasks.celery_app import celery, use

    use(settings, services)
    with start_worker(
        celery,
        pool="threads",
        concurrency=2,
        perform_ping_check=False,
        queues=[WORK_QUEUE, DELIVERY_QUEUE],
        loglevel="WARNING",
        shutdown_timeout=10,
    ) as worker:
        yield worker


class LocalServer:
    """A threaded HTTP server on 127.0.0.1 running while used as a context manager."""

    server: ThreadingHTTPServer

    def serve(self, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
        """Bind `handler` to a free port (served from `__enter__` on)."""
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        return self.server

    def __enter__(self) -> Any:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


class Receiver(LocalServer):
    """A local HTTP server standing in for Slack's response_url: records what is posted."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.failures = 0  # answer this many posts with `fail_status` first
        self.fail_status = 500
        self.redirect_to: str | None = None  # answer every post with a 307 to there
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                payload = json.loads(self.rfile.read(length) or b"{}")
                if receiver.redirect_to:
                    self.send_response(307)
                    self.send_header("Location", receiver.redirect_to)
                elif receiver.failures > 0:
                    receiver.failures -= 1
                    self.send_response(receiver.fail_status)
                else:
                    receiver.received.append({"path": self.path, "json": payload})
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        port = self.serve(Handler).server_port
        self.url = f"http://127.0.0.1:{port}/commands/T1/42/s3cr3tpath"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A running follow-up receiver on 127.0.0.1 (a chat's response_url)."""
    with Receiver() as running:
        yield running


# --- helpers several test modules share (test modules never import each other) ----------

DOCS_PROFILE = "4eb854340acb04e870000010"  # @skinnyoteam in the seeded sandbox
PATCH_URL = "/v1/profiles/@skinnyoteam/schedules"
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_TEAM = "T0001"
# every metric family the bridge exports (test_metrics and test_deploy_files read it)
METRIC_FAMILIES = [
    "bridge_http_requests_total",
    "bridge_operations_total",
    "bridge_buffer_calls_total",
    "bridge_buffer_call_seconds",
    "bridge_rate_limit_wait_seconds",
    "bridge_queue_depth",
    "bridge_sync_duration_seconds",
    "bridge_snapshot_age_seconds",
    "bridge_reconciler_rewakes_total",
]
UI_SECRET_KEY = "test-secret-key-0123456789abcdefghijklmnop"  # the dashboard tests' SECRET_KEY


def make_client(services: Services, name: str, **kwargs: Any) -> dict[str, str]:
    """A new API client (`kwargs` as auth.create_client takes them); its auth headers."""
    from bridge import auth, snapshots

    if kwargs.get("profile_refs"):  # scopes are resolved to ids: the cache must know them
        snapshots.take_account(services, "default")
    with services.db.session() as session:
        _client, token = auth.create_client(session, name, **kwargs)
    return {"Authorization": f"Bearer {token}"}


def job_done(client: Any, headers: dict[str, str], job_id: int) -> dict[str, Any]:
    """Wait for a job to finish and return it."""

    def finished() -> dict[str, Any] | None:
        body = client.get(f"/v1/jobs/{job_id}", headers=headers).get_json()
        return body if body["status"] in ("succeeded", "failed") else None

    return wait_until(finished, timeout=20)


def slack_form(
    text: str, response_url: str = "https://hooks.slack.com/commands/T0001/1/x", **more: str
) -> str:
    """The body Slack posts for `/buffer <text>`, every field it sends."""
    fields = {
        "token": "gIkuvaNzQIHg97ATvDxqgjtO",
        "team_id": SLACK_TEAM,
        "team_domain": "example",
        "enterprise_id": "E0001",
        "enterprise_name": "Globular Construct Inc",
        "channel_id": "C2147483705",
        "channel_name": "marketing",
        "user_id": "U2147483697",
        "user_name": "Steve",
        "command": "/buffer",
        "text": text,
        "api_app_id": "A123456",
        "is_enterprise_install": "false",
        "response_url": response_url,
        # Slack makes a new trigger_id per command, so two commands never sign alike
        "trigger_id": f"13345224609.738474920.{uuid.uuid4().hex}",
        **more,
    }
    return urlencode(fields)


def slack_signed(body: str, secret: str = SLACK_SECRET, age: int = 0) -> dict[str, str]:
    """Slack's signature headers for `body`."""
    timestamp = str(int(time.time()) - age)
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature or "",
        "Content-Type": "application/x-www-form-urlencoded",
    }


class Checkouts:
    """How many database connections the store handed out since the last `take()`."""

    def __init__(self, services: Services) -> None:
        self.count = 0
        event.listen(services.db.engine, "checkout", self._seen)

    def _seen(self, *_args: Any) -> None:
        self.count += 1

    def take(self) -> int:
        count, self.count = self.count, 0
        return count


@pytest.fixture
def history(services: Any, buffer_sandbox: Any) -> int:
    """Two snapshots of DOCS_PROFILE: as first seen, then changed in Buffer; the first's id
    (the dashboard's tests, through the test client and in the browser)."""
    from bridge import models, snapshots

    snapshots.take_account(services, "default")
    buffer_sandbox.sandbox.set_schedules(
        DOCS_PROFILE, [{"days": ["mon", "tue"], "times": ["07:15"]}]
    )
    snapshots.take_account(services, "default")
    with services.db.session() as session:
        items = snapshots.listing(session, DOCS_PROFILE)
        assert [s.reason for s in items] == [models.EXTERNAL_CHANGE, models.PERIODIC]
        return items[1].id


def cached_profile(services: Services, ref: str) -> Any:
    """Fill the cache from the sandbox once and resolve `ref` (a models.Profile)."""
    from bridge import profiles, snapshots

    with services.db.session() as session:
        if not profiles.list_cached(session):
            session.close()
            snapshots.take_account(services, "default")
    with services.db.session() as session:
        return profiles.resolve(session, ref)


def submit_operation(services: Services, operation: Any, ref: str = DOCS_PROFILE) -> int:
    """Store a REST job applying `operation` (a schedules.Operation) to `ref`; its id."""
    from bridge import jobs

    job, created = jobs.submit(
        services,
        jobs.NewJob(cached_profile(services, ref), operation, origin=jobs.Provenance("rest")),
    )
    assert created
    return job.id


def job_row(services: Services, job_id: int) -> Any:
    """The job's row (a models.Job), read in a session of its own."""
    from bridge import jobs

    with services.db.session() as session:
        return jobs.get(session, job_id)


def store_env(settings: Settings) -> dict[str, str]:
    """The variables another process needs to reach the same store, Redis and sandbox."""
    keys = ("DATABASE_URL", "REDIS_URL", "BUFFER_API_URL", "BUFFER_ACCESS_TOKEN", "BUFFER_TIMEOUT")
    keys += ("SYNC_SETTLE",)
    return {k: settings.environ[k] for k in keys}


# ---- the dashboard's sign-in form (tests/test_ui.py, rotation's page tests)

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page: Any) -> str:
    found = CSRF.search(page.get_data(as_text=True))
    assert found, "the page has a form with a CSRF token"
    return found.group(1)


def sign_in(client: Any, token: str) -> Any:
    token_field = csrf_of(client.get("/ui/signin"))
    return client.post("/ui/signin", data={"token": token, "csrf_token": token_field})


# ---- a client linked to a Mattermost command (test_chat_mattermost.py, rotation's chat)

MM_TOKEN = "xr3j5x3p4pfk7mnqwbhn9q7ycr"


@pytest.fixture
def linked(services: Any, receiver: Any) -> str:
    """A client linked to the Mattermost command token, on the `receiver`'s server; its name."""
    server = receiver.url.split("/commands/", 1)[0]
    with services.db.session() as session:
        auth.create_client(session, "mattermost", mattermost_token=MM_TOKEN, mattermost_url=server)
    return "mattermost"


def mm_form(text: str, token: str = MM_TOKEN, response_url: str | None = None) -> dict[str, str]:
    """The form Mattermost posts for `/buffer <text>`."""
    form = {
        "channel_id": "fukhhsw7gjg1bkqq6b1k4x1uyw",
        "channel_name": "town-square",
        "command": "/buffer",
        "team_domain": "acme",
        "team_id": "8xw4grpe8jfqpby3a5f1mz9uno",
        "text": text,
        "token": token,
        "trigger_id": "aHoxZGhldTZ6N2ZnM2JkcGUzZzJ6N3dhd2U6OmE6Ojp4Ojk=",
        "user_id": "d9bdpdw4r7ny9mb6ndwsa7xscy",
        "user_name": "steve",
    }
    if response_url:
        form["response_url"] = response_url
    return form


@contextlib.contextmanager
def serving(server: Any) -> Iterator[None]:
    """Run an http.server in a daemon thread for the block; shut down and closed after."""
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
