"""The `bridge` command: run the services, manage clients, look at profiles and schedules."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import click

from bridge.errors import BridgeError, BufferUnauthorized, BufferUnavailable, ConfigError

F = TypeVar("F", bound=Callable[..., Any])


def friendly(func: F) -> F:
    """Turn the bridge's errors into one line on stderr and exit 1, no traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BufferUnauthorized as error:
            raise click.ClickException(
                f"Buffer rejected the access token ({error.message}); check BUFFER_ACCESS_TOKEN"
            ) from error
        except BufferUnavailable as error:
            raise click.ClickException(f"Buffer is unreachable: {error}") from error
        except BridgeError as error:
            raise click.ClickException(str(error)) from error

    return wrapper  # type: ignore[return-value]


def _settings() -> Any:
    """Settings from the environment (a bad value stops here with one line)."""
    from bridge.config import load_settings

    try:
        return load_settings()
    except BridgeError as error:
        raise click.ClickException(str(error)) from error


def _services() -> Any:
    """Services for commands that use the store."""
    from bridge.services import Services

    return Services(_settings())


@click.group()
@click.version_option(package_name="buffer-bridge")
def main() -> None:
    """buffer-bridge: automate Buffer posting schedules."""


# --- running the pieces -------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", type=int, help="gunicorn processes  [default: GUNICORN_WORKERS]")
@click.option("--threads", type=int, help="threads per process  [default: GUNICORN_THREADS]")
def serve(host: str, port: int, workers: int | None, threads: int | None) -> None:
    """Serve the web app (REST API, webhooks, chat) with gunicorn (bridge/web_server.py)."""
    settings = _settings()
    if (workers or settings.web_workers) > 1:
        settings = _shared_metrics_dir(settings)  # /metrics must add up every process
    from bridge.web_server import run_gunicorn

    run_gunicorn(settings, f"{host}:{port}", workers, threads)


def _shared_metrics_dir(settings: Any) -> Any:
    """`settings` naming one metrics directory for this process's children: the configured
    PROMETHEUS_MULTIPROC_DIR, else a fresh temporary one, removed at exit. A new one is
    also written to os.environ, where prometheus_client looks when the children import it."""
    import atexit
    import dataclasses
    import os
    import shutil
    import tempfile

    if settings.prometheus_multiproc_dir:
        return settings
    directory = tempfile.mkdtemp(prefix="bridge-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    owner = os.getpid()

    def remove() -> None:
        """Remove the directory, from the process that made it (forked children inherit
        atexit handlers)."""
        if os.getpid() == owner:
            shutil.rmtree(directory, ignore_errors=True)

    atexit.register(remove)
    return dataclasses.replace(settings, prometheus_multiproc_dir=directory)


def _serve_worker_metrics(settings: Any) -> None:
    """Serve /metrics for every process of this worker on WORKER_METRICS_PORT (0: off)."""
    port = settings.worker_metrics_port
    if not port:
        return
    from bridge import metrics

    try:
        metrics.serve_worker_metrics(settings)
    except OSError as error:
        raise click.ClickException(
            f"WORKER_METRICS_PORT={port}: cannot listen ({error.strerror}); "
            "pick a free port or 0 to turn worker metrics off"
        ) from error


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--concurrency", "-c", default=2, show_default=True, type=int)
@click.pass_context
def worker(ctx: click.Context, concurrency: int) -> None:
    """Run a Celery worker (extra arguments go to Celery)."""
    # before anything imports prometheus_client: it picks its storage once, at import
    settings = _shared_metrics_dir(_settings())
    from bridge.healthcheck import worker_node_name
    from tasks.celery_app import celery, use

    use(settings)
    _serve_worker_metrics(settings)
    argv = ["worker", "--loglevel=INFO", f"--concurrency={concurrency}", "-Q", "bridge", "-E"]
    argv.append(f"--hostname={worker_node_name(settings)}")
    celery.worker_main([*argv, *ctx.args])


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def beat(ctx: click.Context) -> None:
    """Run Celery beat: snapshots and the reconciler (run exactly one)."""
    from tasks.celery_app import celery, use

    use(_settings())
    celery.start(["beat", "--loglevel=INFO", *ctx.args])


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=int)
@click.option("--profiles", default=5, show_default=True, type=int, help="profiles per account")
@click.option("--seed", default=1, show_default=True, type=int)
@click.option(
    "--token",
    "tokens",
    multiple=True,
    help="TOKEN[=ACCOUNT] accepted by the sandbox (default: sandbox-token)",
)
@click.option("--rate-limit", default="60/60s", show_default=True, help="per token")
@click.option("--error-rate", default=0.0, type=float, help="share of requests answered 500")
@click.option("--rate-429", default=0.0, type=float, help="share of requests answered 429")
@click.option("--slow-rate", default=0.0, type=float, help="share of requests answered late")
@click.option("--slow-seconds", default=35.0, type=float, show_default=True)
@click.option("--drop-rate", default=0.0, type=float, help="share of connections dropped")
@click.option("--latency", default=0.0, type=float, help="seconds added to every answer")
@click.option(
    "--api-key",
    "api_keys",
    multiple=True,
    help="KEY[=ACCOUNT] accepted by the GraphQL API (default: sandbox-key, first account)",
)
@click.option(
    "--graphql-rate-limit",
    default="100/15m,250/24h",
    show_default=True,
    help="GraphQL windows per API key",
)
@click.option("--organizations", default=2, show_default=True, type=int, help="per account")
@click.option(
    "--graphql-only",
    is_flag=True,
    help="v1 answers 410 Gone, as after Buffer retires it; only GraphQL serves data",
)
def sandbox(
    host: str,
    port: int,
    tokens: tuple[str, ...],
    rate_limit: str,
    api_keys: tuple[str, ...],
    graphql_rate_limit: str,
    **options: Any,
) -> None:
    """Run the local Buffer API simulator (v1 under /1/, GraphQL at /graphql and POST /)."""
    from bridge import sandbox as sim
    from bridge.config import parse_rate_limit, parse_rate_limits

    try:
        token_map = sim.parse_tokens(tokens or ["sandbox-token"])
        first = next(iter(token_map.values()))
        keys = sim.parse_tokens(api_keys) if api_keys else {"sandbox-key": first}
        if api_keys and not any("=" in spec for spec in api_keys[:1]):
            keys[api_keys[0]] = first  # a bare first key belongs to the first token's account
        config = sim.SandboxConfig(
            tokens=token_map,
            rate_limit=parse_rate_limit("--rate-limit", rate_limit),
            api_keys=keys,
            graphql_rate_limit=parse_rate_limits("--graphql-rate-limit", graphql_rate_limit),
            **options,
        )
    except (ValueError, ConfigError) as error:
        raise click.BadParameter(str(error)) from error
    sim.serve_forever(config, host, port)


@main.command()
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--data-dir", default="var", show_default=True, help="SQLite file, Redis, logs")
@click.option(
    "--graphql-only",
    is_flag=True,
    envvar="BRIDGE_DEV_GRAPHQL_ONLY",
    help="the sandbox without v1: see what an account with only a GraphQL key can do",
)
def dev(port: int, data_dir: str, graphql_only: bool) -> None:
    """Everything on one machine: web, worker, beat, Redis (and the sandbox without a token)."""
    from bridge.devserver import run_dev

    sys.exit(run_dev(port, data_dir, graphql_only))


@main.command()
@click.argument("role", type=click.Choice(["web", "worker", "beat"]))
def healthcheck(role: str) -> None:
    """Exit 0 when this machine's web, worker or beat is healthy (for container probes)."""
    from bridge.healthcheck import check

    ok, message = check(role, _settings())
    click.echo(message)
    sys.exit(0 if ok else 1)


# --- the store ----------------------------------------------------------------------------


@main.group()
def db() -> None:
    """The database."""


@db.command("upgrade")
@friendly
def db_upgrade() -> None:
    """Apply the migrations."""
    from bridge.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url)
    click.echo("database is up to date")


@main.group()
def clients() -> None:
    """API clients: who may call the bridge, and on which profiles."""


@clients.command("create")
@click.argument("name")
@click.option("--profiles", default="", help="comma-separated profile references (default: all)")
@click.option("--read-only", is_flag=True, help="may read but not change anything")
@click.option("--signing-secret", is_flag=True, help="also make a Standard Webhooks secret")
@click.option("--slack-team", default=None, help="Slack team id whose commands act as this client")
@click.option("--slack-channel", default=None, help="only commands from this Slack channel")
@click.option("--slack-user", default=None, help="only commands from this Slack user")
@click.option("--mattermost-token", default=None, help="the Mattermost slash command's token")
@click.option(
    "--mattermost-url",
    default=None,
    help="the Mattermost server's base URL (https://chat.example.com): follow-ups go only there",
)
@friendly
def clients_create(name: str, profiles: str, read_only: bool, **options: Any) -> None:
    """Create a client; its token is printed once, as the last line."""
    from bridge import auth

    svc = _services()
    refs = [ref.strip() for ref in profiles.split(",") if ref.strip()]
    if refs and not _all_cached(svc, refs):
        _refresh_cache(svc)  # scopes are stored as ids: a new profile must be known first
    with svc.db.session() as session:
        client, token = auth.create_client(session, name, refs, read_only=read_only, **options)
        scopes = auth.scopes(client)
        secret = client.signing_secret
    click.echo(f"created client {name!r}: profiles={scopes['profiles']} read_only={read_only}")
    if secret:
        click.echo(f"signing secret (Standard Webhooks): {secret}")
    click.echo("token (shown once, keep it safe):")
    click.echo(token)


def _all_cached(svc: Any, refs: list[str]) -> bool:
    """True when every reference names one profile of the cache."""
    from bridge import profiles
    from bridge.errors import BridgeError

    with svc.db.session() as session:
        try:
            for ref in refs:
                profiles.resolve(session, ref)
        except BridgeError:
            return False
    return True


def _refresh_cache(svc: Any) -> None:
    """Fill the profile cache from Buffer (one GET /profiles per account)."""
    from bridge import profiles
    from bridge.models import utcnow

    found = _buffer_profiles(svc.settings)
    with svc.db.session() as session:
        profiles.ensure_accounts(session, svc.settings)
        for account in {a for a, _p in found}:
            profiles.upsert(session, account, [p for a, p in found if a == account], utcnow())


def _scope_text(session: Any, refs: list[str] | None) -> str:
    """A client's scopes for the table: each profile id with its name, `all` for none."""
    from bridge import models, profiles

    if not refs:
        return "all"
    shown = []
    for ref in refs:
        row = session.get(models.Profile, ref)
        # a scope the migration could not resolve is still a name, matched as before
        shown.append(f"{ref} ({profiles.label(row)})" if row is not None else f"{ref} (by name)")
    return ",".join(shown)


@clients.command("list")
@friendly
def clients_list() -> None:
    """List clients (never their tokens); scopes as profile ids with their names."""
    from bridge import auth

    svc = _services()
    with svc.db.session() as session:
        rows = [
            (
                c.name,
                _scope_text(session, c.profiles),
                "read-only" if c.read_only else "read-write",
                "revoked" if c.revoked else "active",
                c.slack_team or "",
                c.created_at.strftime("%Y-%m-%d %H:%M"),
            )
            for c in auth.listing(session)
        ]
    _table(("NAME", "PROFILES", "ACCESS", "STATE", "SLACK TEAM", "CREATED"), rows)


@clients.command("revoke")
@click.argument("name")
@friendly
def clients_revoke(name: str) -> None:
    """Revoke a client: its token stops working at once."""
    from bridge import auth

    svc = _services()
    with svc.db.session() as session:
        auth.revoke(session, name)
    click.echo(f"revoked client {name!r}")


# --- Buffer -------------------------------------------------------------------------------


def _table(headers: Iterable[str], rows: Iterable[Iterable[Any]]) -> None:
    """Print an aligned text table."""
    data = [list(map(str, headers))] + [list(map(str, row)) for row in rows]
    widths = [max(len(row[i]) for row in data) for i in range(len(data[0]))]
    for row in data:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _accounts(settings: Any) -> list[str]:
    """Configured accounts, or a one-line error when there are none."""
    names: list[str] = settings.account_names()
    if not names:
        raise click.ClickException(
            "no Buffer account: set BUFFER_ACCESS_TOKEN (v1) or BUFFER_API_KEY (GraphQL) "
            "(for the sandbox: sandbox-token, sandbox-key)"
        )
    return names


def _reads_graphql(settings: Any, account: str) -> bool:
    """True when `account` reads through GraphQL (it has an API key)."""
    return bool(settings.account_api(account) in ("graphql", "both"))


def _graphql_client(settings: Any, account: str) -> Any:
    from bridge.buffer.graphql import GraphQLClient

    return GraphQLClient(
        settings.buffer_api_key(account),
        url=settings.buffer_graphql_url,
        timeout=settings.buffer_timeout,
    )


def _v1_client(settings: Any, account: str) -> Any:
    from bridge.buffer.client import BufferClient

    return BufferClient(
        settings.buffer_token(account),
        base_url=settings.buffer_api_url,
        timeout=settings.buffer_timeout,
    )


def _buffer_profiles(settings: Any) -> list[tuple[str, Any]]:
    """(account, profile) for every profile of every account, straight from Buffer (through
    GraphQL where the account has a key: one call per organization; else one v1 call)."""
    found: list[tuple[str, Any]] = []
    for account in _accounts(settings):
        if _reads_graphql(settings, account):
            with _graphql_client(settings, account) as client:
                for organization in client.organizations():
                    found.extend((account, p) for p in client.channels(organization.id))
        else:
            with _v1_client(settings, account) as client:
                found.extend((account, p) for p in client.profiles())
    return found


def _week(profile: Any) -> Any:
    """A Buffer profile's schedules as a Week, with its paused days."""
    from bridge import schedules

    week = schedules.from_buffer(s.to_json() for s in profile.schedules)
    return week.with_pauses(profile.paused_days)


@main.command("profiles")
@friendly
def profiles_cmd() -> None:
    """List the Buffer profiles of every configured account."""
    from bridge import schedules

    settings = _settings()
    several = len(_accounts(settings)) > 1
    rows: list[list[str]] = []
    for account, p in _buffer_profiles(settings):
        summary = schedules.summary(_week(p))
        row = [p.id, p.service, p.service_username, p.timezone, summary]
        rows.append([*row, account] if several else row)
    headers = ["ID", "SERVICE", "USERNAME", "TIMEZONE", "SCHEDULE"]
    if several:
        headers.append("ACCOUNT")
    _table(headers, rows)


def find_profile(found: list[tuple[str, Any]], ref: str) -> tuple[str, Any]:
    """The (account, profile) that `ref` names among `found`."""
    from bridge.errors import ProfileNotFound
    from bridge.profiles import check_ref, matches

    ref = check_ref(ref)
    hits = [(a, p) for a, p in found if matches(p, [ref])]
    if not hits:
        raise ProfileNotFound(f"unknown profile {ref!r}")
    if len(hits) > 1:
        names = ", ".join(f"{p.service}:{p.service_username}" for _, p in hits)
        raise ProfileNotFound(f"{ref!r} matches several profiles ({names}): use service:username")
    return hits[0]


@main.group()
def schedules() -> None:
    """Posting schedules."""


@schedules.command("show")
@click.argument("profile")
@friendly
def schedules_show(profile: str) -> None:
    """Show a profile's posting schedule (PROFILE: id, service:username or @username)."""
    from bridge import schedules as domain
    from bridge.buffer.models import is_profile_id

    settings = _settings()
    if is_profile_id(profile) and len(_accounts(settings)) == 1:
        account, profile_id, label = settings.account_names()[0], profile, profile
    else:
        account, found = find_profile(_buffer_profiles(settings), profile)
        profile_id, label = found.id, f"{found.service}:{found.service_username}"
    if _reads_graphql(settings, account):
        with _graphql_client(settings, account) as client:
            week = _week(client.channel(profile_id))
    else:
        with _v1_client(settings, account) as client:
            week = domain.from_buffer(s.to_json() for s in client.schedules(profile_id))
    click.echo(f"{label} ({profile_id})")
    for day in domain.DAYS:
        paused = "  (paused)" if week.is_paused(day) else ""
        click.echo(f"  {day}  {' '.join(week[day]) or '-'}{paused}")


@main.command("accounts")
@friendly
def accounts_cmd() -> None:
    """The Buffer accounts: API, whether they can change schedules, v1's days left."""
    from bridge import accounts

    settings = _settings()
    _accounts(settings)
    services = _services()
    try:
        entries = accounts.overview(services)
    finally:
        services.close()
    rows = [
        [
            e["name"],
            e["api"],
            "yes" if e["can_write"] else "no",
            e["profiles"],
            e["v1_sunset"] or "-",
            "-" if e["v1_days_left"] is None else e["v1_days_left"],
        ]
        for e in entries
    ]
    _table(["ACCOUNT", "API", "WRITES", "PROFILES", "V1 SUNSET", "DAYS LEFT"], rows)
    for entry in entries:
        for line in (entry["write_refusal"], entry["notice"]):
            if line:
                click.echo(f"{entry['name']}: {line}")


if __name__ == "__main__":
    main()
