"""`bridge serve`, `worker`, `beat`, `sandbox`, `dev`, `healthcheck`: running the pieces."""

from __future__ import annotations

import sys
from typing import Any

import click

from bridge.cli.base import _settings, main
from bridge.errors import ConfigError


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
@click.option(
    "--concurrency",
    "-c",
    type=click.IntRange(min=1),
    help="tasks at once  [default: 2 processes; DELIVERY_CONCURRENCY threads for deliveries]",
)
@click.option(
    "--name",
    "-n",
    help="Celery node name, name or name@host  [default: WORKER_NAME, else "
    "worker-<WORKER_METRICS_PORT>@<host name>]",
)
@click.pass_context
def worker(ctx: click.Context, concurrency: int | None, name: str | None) -> None:
    """Run a Celery worker on WORKER_QUEUE (extra arguments go to Celery): `bridge` (syncs,
    snapshots, rotation, the reconciler) or `bridge-deliveries` (outbound events). Run both
    kinds: deliveries wait on receivers, so they have workers of their own."""
    # before anything imports prometheus_client: it picks its storage once, at import
    settings = _shared_metrics_dir(_settings())
    if name is not None:
        import dataclasses

        from bridge.config import parse_worker_name

        try:
            settings = dataclasses.replace(
                settings, worker_name=parse_worker_name("--name", name.strip())
            )
        except ConfigError as error:
            raise click.BadParameter(str(error), param_hint="--name") from None
    from bridge.healthcheck import worker_node_name
    from tasks.celery_app import celery, use

    use(settings)
    _serve_worker_metrics(settings)
    argv = ["worker", "--loglevel=INFO", *_pool(settings, concurrency), "-E"]
    argv.append(f"--hostname={worker_node_name(settings)}")
    celery.worker_main([*argv, *ctx.args])


def _pool(settings: Any, concurrency: int | None) -> list[str]:
    """Celery's queue and pool options for WORKER_QUEUE: deliveries in threads (each waits
    on a receiver's answer, using no CPU; DELIVERY_CONCURRENCY of them), the rest in 2
    processes (syncs use CPU, and a stuck one is killed by the task time limit)."""
    from bridge.config import DELIVERY_QUEUE

    queue = settings.worker_queue
    if queue == DELIVERY_QUEUE:
        threads = concurrency or settings.delivery_concurrency
        return ["-Q", queue, "--pool=threads", f"--concurrency={threads}"]
    return ["-Q", queue, f"--concurrency={concurrency or 2}"]


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def beat(ctx: click.Context) -> None:
    """Run Celery beat, the timers (run exactly one): snapshots, the reconciler, rotation
    steps (ROTATION_INTERVAL) and pruning."""
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
    "--queue-limit",
    default=2000,
    show_default=True,
    type=click.IntRange(min=0),
    help="scheduled posts a channel may hold (GraphQL LimitReachedError past it)",
)
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
