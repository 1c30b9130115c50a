"""`bridge dev`: everything on one machine, supervised together.

SQLite in the data directory, migrations applied, a private redis-server, the
Buffer sandbox (v1 and GraphQL, or GraphQL only with --graphql-only) when neither
BUFFER_ACCESS_TOKEN nor BUFFER_API_KEY is set, then web + worker + deliveries worker + beat as
child processes. Ctrl-C stops every child; a child that dies is reported and
stops the rest, so a broken piece is never silently missing.

The settings it chose (the database, its Redis, the sandbox's URLs and keys) are written
to an env file in the data directory (`dev.env`, only its owner may read it) while it
runs, so the `bridge` command in another shell reaches the same store and sandbox after
`. var/dev.env`; a setting the user gave in the environment is theirs and not written.
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click
from sqlalchemy.orm import Session

from bridge import models
from bridge.config import DELIVERY_QUEUE, EMPTY_SECRET_KEY
from bridge.errors import NotFound
from bridge.harness import HarnessError, WaitTimeout, free_port, wait_until
from bridge.harness.redis_server import RedisServer

SANDBOX_TOKEN = "sandbox-token"
SANDBOX_KEY = "sandbox-key"
DEV_CLIENT = "dev"
STOP_TIMEOUT = 15.0
READY_TIMEOUT = 60.0  # seconds the banner waits for the workers and beat to be up
ENV_FILE = "dev.env"
# what another shell's `bridge` needs to act on this run: its store, Redis and Buffer
SHARED_SETTINGS = (
    "DATABASE_URL",
    "REDIS_URL",
    "BUFFER_API_URL",
    "BUFFER_ACCESS_TOKEN",
    "BUFFER_GRAPHQL_URL",
    "BUFFER_API_KEY",
    "OUTBOUND_ALLOW_PRIVATE",
)


@dataclass
class Child:
    """A supervised child process."""

    name: str
    process: subprocess.Popen[bytes]


def wait_for(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    """Poll until `check()` holds (harness.wait_until); raise ClickException naming `what`
    otherwise."""

    def holds() -> bool:
        try:
            return check()
        except OSError:
            return False

    try:
        wait_until(holds, timeout, what, interval=0.1)
    except WaitTimeout:
        raise click.ClickException(f"{what} did not come up within {timeout:.0f}s") from None


def _http_ok(url: str) -> bool:
    """True when `url` answers 200."""
    with urllib.request.urlopen(url, timeout=2) as response:
        return bool(response.status == 200)


def _port_open(port: int) -> bool:
    """True when something accepts connections on 127.0.0.1:port."""
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True


def _bridge_command(*args: str) -> list[str]:
    """Run a `bridge` subcommand with this interpreter (works without the venv on PATH)."""
    return [sys.executable, "-m", "bridge.cli", *args]


def dev_client(session: Session) -> tuple[models.ApiClient, str]:
    """The dev client, made on the first run, and a token for it (printed by the banner).

    Only a token's hash is kept, so every run gives the client a new token; the client
    itself is kept, with its subscriptions, jobs and deliveries (deleting it broke a
    restart on their foreign keys, and starting over would lose them). A dev client
    revoked since is live again: the banner promises a token that works."""
    from bridge import auth

    try:
        client = auth.by_name(session, DEV_CLIENT)
    except NotFound:
        return auth.create_client(session, DEV_CLIENT)
    token = auth.reissue_token(client)
    client.revoked_at = None
    session.flush()
    return client, token


class DevSupervisor:
    """Starts the pieces, watches them, and stops them all together."""

    def __init__(self, port: int, data_dir: Path, graphql_only: bool = False) -> None:
        self.port = port
        self.data_dir = data_dir
        self.graphql_only = graphql_only
        self.children: list[Child] = []
        self.env = dict(os.environ)
        self.env.setdefault("LOG_FORMAT", "text")
        # web and worker share one metrics directory, so the web's /metrics shows both
        metrics_dir = data_dir / "metrics"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        self.env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir.resolve()))
        self.env.setdefault("WORKER_METRICS_PORT", str(free_port()))
        # one gunicorn process is plenty on a laptop (same config as production otherwise)
        self.env.setdefault("GUNICORN_WORKERS", "1")

    def spawn(
        self,
        name: str,
        command: list[str],
        log_file: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> Child:
        """Start a child in its own process group (so Ctrl-C reaches us first); `env` is
        added to the shared environment for this child alone."""
        output = open(log_file, "ab") if log_file is not None else None  # noqa: SIM115
        process = subprocess.Popen(
            command,
            env={**self.env, **(env or {})},
            start_new_session=True,
            stdout=output,
            stderr=output,
        )
        child = Child(name, process)
        self.children.append(child)
        return child

    def start_redis(self) -> None:
        """A private redis-server unless REDIS_URL points somewhere already."""
        if "REDIS_URL" in self.env:
            return
        binary = shutil.which("redis-server")
        if binary is None:
            raise click.ClickException(
                "redis-server is not installed: install the 'redis-server' package "
                "(make run does this where it can), or set REDIS_URL"
            )
        redis_dir = self.data_dir / "redis"
        redis_dir.mkdir(parents=True, exist_ok=True)
        server = RedisServer(redis_dir, persistent=True, extra_args=("--loglevel", "warning"))
        log_file = self.data_dir / "redis.log"
        try:
            server.start(lambda argv: self.spawn("redis", argv, log_file).process, timeout=20)
        except (WaitTimeout, HarnessError) as error:
            raise click.ClickException(f"redis-server did not come up: {error}") from None
        self.env["REDIS_URL"] = server.url

    def start_sandbox(self) -> bool:
        """The Buffer sandbox with demo profiles, unless a real token or key is configured.

        Both of Buffer's APIs, as an account with a v1 token and a GraphQL key has them
        (reads through GraphQL, writes through v1); with `graphql_only`, v1 answers as a
        retired API and the account has only its key, so changes are refused with 409."""
        configured = ("BUFFER_ACCESS_TOKEN", "BUFFER_API_KEY")
        if any(self.env.get(var) or self.env.get(f"{var}_FILE") for var in configured):
            return False
        port = free_port()
        command = _bridge_command("sandbox", "--port", str(port))
        self.spawn("sandbox", [*command, "--graphql-only"] if self.graphql_only else command)
        self.env["BUFFER_GRAPHQL_URL"] = f"http://127.0.0.1:{port}/graphql"
        self.env["BUFFER_API_KEY"] = SANDBOX_KEY
        if not self.graphql_only:
            self.env["BUFFER_API_URL"] = f"http://127.0.0.1:{port}/1/"
            self.env["BUFFER_ACCESS_TOKEN"] = SANDBOX_TOKEN
        # everything is local with the sandbox: let event subscriptions reach local receivers
        self.env.setdefault("OUTBOUND_ALLOW_PRIVATE", "true")
        wait_for(lambda: _port_open(port), "the Buffer sandbox")
        return True

    def secret_key(self) -> None:
        """SECRET_KEY for the dashboard's sessions: made once, kept in the data directory
        (only its owner may read it), so a restart keeps everyone signed in. A SECRET_KEY
        set but empty (an .env copied from .env.example) is said, and replaced."""
        if self.env.get("SECRET_KEY") or self.env.get("SECRET_KEY_FILE"):
            return
        path = self.data_dir / "secret_key"
        if "SECRET_KEY" in self.env:
            click.echo(f"warning: {EMPTY_SECRET_KEY}; bridge dev uses its own, in {path}")
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(48))
        self.env["SECRET_KEY_FILE"] = str(path.resolve())

    def prepare_store(self) -> tuple[str, str]:
        """Apply migrations, fill the profile cache, and make a fresh dev client token and a
        one-time dashboard sign-in code for it."""
        from bridge import signin, snapshots
        from bridge.config import load_settings
        from bridge.migrate import upgrade
        from bridge.services import Services

        self.env.setdefault("DATABASE_URL", f"sqlite:///{(self.data_dir / 'bridge.db').resolve()}")
        settings = load_settings(self.env)
        upgrade(settings.database_url)
        services = Services(settings)
        try:
            for account in settings.account_names():
                outcome = snapshots.take_account(services, account)
                if outcome.error is not None:
                    click.echo(f"warning: could not list {account}'s profiles: {outcome.error}")
            with services.db.session() as session:
                client, token = dev_client(session)
            return token, signin.issue(services, client)
        finally:
            services.close()

    def write_env_file(self) -> Path:
        """Write the settings this run chose (SHARED_SETTINGS it set itself, not the user's
        own) as `export NAME=value` lines, for a second shell to source; returns the path."""
        chosen = {
            name: self.env[name]
            for name in SHARED_SETTINGS
            if name in self.env and os.environ.get(name) != self.env[name]
        }
        path = (self.data_dir / ENV_FILE).resolve()
        path.unlink(missing_ok=True)  # made afresh, so its mode is always 0600
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("# written by `bridge dev` while it runs; in another shell: . " + str(path))
            out.write("\n")
            for name, value in chosen.items():
                out.write(f"export {name}={shlex.quote(value)}\n")
        return path

    def remove_env_file(self) -> None:
        """The settings name this run's Redis and sandbox, gone once it stops."""
        (self.data_dir / ENV_FILE).unlink(missing_ok=True)

    def start_services(self) -> None:
        """Web, the two workers (syncs and the rest; deliveries) and beat; returns once
        each is up, so that their start-up banners are on the screen before ours."""
        beat_dir = self.data_dir / "beat"
        beat_dir.mkdir(parents=True, exist_ok=True)
        self.spawn("web", _bridge_command("serve", "--port", str(self.port)))
        self.spawn("worker", _bridge_command("worker", "--concurrency", "2"))
        # deliveries have a worker of their own (a slow receiver must not hold up syncs),
        # a Celery node of its own: another metrics port
        deliveries = {"WORKER_QUEUE": DELIVERY_QUEUE, "WORKER_METRICS_PORT": str(free_port())}
        self.spawn("deliveries", _bridge_command("worker"), env=deliveries)
        heartbeat = beat_dir / "heartbeat"
        heartbeat.unlink(missing_ok=True)  # a previous run's would say beat is up already
        self.env["BEAT_HEARTBEAT_FILE"] = str(heartbeat)
        self.spawn(
            "beat", _bridge_command("beat", "--schedule", str(beat_dir / "celerybeat-schedule"))
        )
        wait_for(lambda: _http_ok(f"http://127.0.0.1:{self.port}/healthz"), "the web server")
        self.wait_until_up({}, deliveries)

    def wait_until_up(self, *worker_envs: dict[str, str]) -> None:
        """Wait until every worker (started with `worker_envs` added to the shared
        environment) answers a ping and beat has ticked: Celery prints its banner before
        it is up, and ours, with the sign-in link and token, must come last. A piece that
        is slow to start only delays the banner (by READY_TIMEOUT at most): `watch`
        reports one that died."""
        from bridge import healthcheck
        from bridge.config import load_settings

        heartbeat = Path(self.env["BEAT_HEARTBEAT_FILE"])
        nodes = [load_settings({**self.env, **extra}) for extra in worker_envs]
        deadline = time.monotonic() + READY_TIMEOUT
        waiting = [*nodes]
        while time.monotonic() < deadline and not self._a_child_died():
            waiting = [s for s in waiting if not healthcheck.check("worker", s)[0]]
            if not waiting and heartbeat.exists():
                time.sleep(0.3)  # Celery's own "ready." line follows its first answer
                return
            time.sleep(0.2)

    def _a_child_died(self) -> bool:
        return any(child.process.poll() is not None for child in self.children)

    def watch(self) -> int:
        """Block until Ctrl-C (0) or until a child dies (1, after saying which)."""
        while True:
            for child in self.children:
                code = child.process.poll()
                if code is not None:
                    click.echo(
                        f"bridge dev: {child.name} exited with code {code}; stopping", err=True
                    )
                    return 1
            time.sleep(0.5)

    def stop(self) -> None:
        """Stop every child: SIGTERM, then SIGKILL after a grace period."""
        for child in reversed(self.children):
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in reversed(self.children):
            remaining = max(deadline - time.monotonic(), 0.1)
            try:
                child.process.wait(remaining)
            except subprocess.TimeoutExpired:
                click.echo(f"bridge dev: {child.name} did not stop; killing it", err=True)
                child.process.kill()
                child.process.wait()


def banner(
    port: int,
    token: str,
    sandbox: bool,
    graphql_only: bool = False,
    signin_code: str = "",
    env_file: str = "",
) -> str:
    """What a new user needs: where things are, a token, and one curl that changes a schedule."""
    base = f"http://127.0.0.1:{port}"
    apis = " (GraphQL API only)" if graphql_only else " (v1 and GraphQL APIs)"
    lines = [
        "",
        "buffer-bridge is running"
        + (f" against the built-in Buffer sandbox{apis}" if sandbox else ""),
        f"  dashboard:     {base}/ui",
        f"    sign in:     {base}/ui/login/{signin_code}  (open, press Sign in; one use, 10 min)"
        if signin_code
        else f"    sign in:     {base}/ui/signin with the client token below",
        f"  accounts:      {base}/v1/accounts  (which API each uses, whether it can write)",
        f"  API docs:      {base}/docs",
        f"  OpenAPI:       {base}/openapi.json",
        f"  health:        {base}/healthz  {base}/readyz   metrics: {base}/metrics",
        f"  client token:  {token}",
        *(
            [f"  CLI:           . {shlex.quote(env_file)}  (in another shell, then bridge ...)"]
            if env_file
            else []
        ),
        "",
        "Change a schedule (the weekdays of @skinnyoteam, a sandbox demo profile):"
        if sandbox
        else "Change a schedule (replace @yourprofile with one of yours):",
        f"  curl -X PATCH {base}/v1/profiles/{'@skinnyoteam' if sandbox else '@yourprofile'}"
        f"/schedules -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' "
        """-d '{"days": "weekdays", "times": ["9am", "12:30", "5pm"]}'""",
        "Then follow the job at the URL in the Location header. Ctrl-C stops everything.",
        "",
    ]
    if graphql_only:
        lines[-2:-1] = [
            "Buffer's GraphQL API cannot change posting schedules: this answers 409 and says",
            "what still works (profiles, schedules, snapshots). Ctrl-C stops everything.",
        ]
    return "\n".join(lines)


def run_dev(port: int, data_dir: str, graphql_only: bool = False) -> int:
    """Run everything until Ctrl-C; the exit status says whether a child died."""
    directory = Path(data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    supervisor = DevSupervisor(port, directory, graphql_only)
    previous = signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        supervisor.start_redis()
        sandbox = supervisor.start_sandbox()
        supervisor.secret_key()
        token, code = supervisor.prepare_store()
        env_file = supervisor.write_env_file()
        supervisor.start_services()
        click.echo(banner(port, token, sandbox, graphql_only and sandbox, code, str(env_file)))
        return supervisor.watch()
    except KeyboardInterrupt:
        click.echo("\nbridge dev: stopping")
        return 0
    finally:
        supervisor.stop()
        supervisor.remove_env_file()
        signal.signal(signal.SIGTERM, previous)
