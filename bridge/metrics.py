"""Prometheus metrics: what the web app, the workers and beat count, and how /metrics shows it.

Counters and histograms live at module level (prometheus_client's own pattern) and
are fed by one-line calls from the code that knows the event. Queue depth and
snapshot age are read from the database at scrape time, so they are right whichever
process scrapes and however many processes there are.

Several processes (gunicorn workers, Celery prefork children) share metrics through
PROMETHEUS_MULTIPROC_DIR: prometheus_client reads that variable when it is first
imported, so a process that wants multiprocess mode must set it before importing
this module (`bridge serve` and `bridge worker` do, before gunicorn or Celery fork).

Nothing here imports the services: the wiring (bridge.services) hands the pieces
their hooks, and the store gauges take the database they read.
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import logging
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bridge import models

if TYPE_CHECKING:
    from flask import Flask, Response

    from bridge.config import Settings
    from bridge.db import Database

log = logging.getLogger(__name__)

# Buffer answers in well under a second normally; timeouts go to 30s.
CALL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
# 0 is its own bucket: most acquisitions do not wait, and that share is the signal.
WAIT_BUCKETS = (0.0, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
SYNC_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

HTTP_REQUESTS = Counter(
    "bridge_http_requests_total",
    "HTTP requests by route template, caller kind and status.",
    ["route", "source", "status"],
)
HTTP_REFUSED = Counter(
    "bridge_http_refused_total",
    "Requests the web worker answered before they reached the app (bridge/read_ahead.py): "
    "408 not whole in time, 413 body too large, 431 head too large, 400 malformed chunks.",
    ["status"],
)
OPERATIONS = Counter(
    "bridge_operations_total",
    "Operations finished, by outcome (done, noop, failed).",
    ["outcome"],
)
ROTATION_RUNS = Counter(
    "bridge_rotation_runs_total",
    "Rotation runs by outcome: fired, late (fired past ROTATION_LATE_AFTER), skipped "
    "(superseded after downtime, or a revert not made), failed.",
    ["outcome"],
)
BUFFER_CALLS = Counter(
    "bridge_buffer_calls_total",
    "Calls to Buffer by endpoint and HTTP status (error when there was no answer).",
    ["endpoint", "status"],
)
BUFFER_CALL_SECONDS = Histogram(
    "bridge_buffer_call_seconds",
    "Latency of Buffer calls.",
    ["endpoint"],
    buckets=CALL_BUCKETS,
)
RATE_LIMIT_WAIT = Histogram(
    "bridge_rate_limit_wait_seconds",
    "Waits the Buffer rate limiter asked for (0 when a slot was free).",
    buckets=WAIT_BUCKETS,
)
SYNC_DURATION = Histogram(
    "bridge_sync_duration_seconds",
    "One profile's reconcile that reached Buffer, lock to done.",
    buckets=SYNC_BUCKETS,
)
REWAKES = Counter(
    "bridge_reconciler_rewakes_total",
    "Profiles the reconciler had to wake again (lost or late wake-ups).",
)

F = TypeVar("F", bound=Callable[..., Any])


# --- the one-line hooks the rest of the code calls ----------------------------------------


def observe_buffer_call(endpoint: str, status: int | None, seconds: float) -> None:
    """Count one Buffer call; `status` None means no answer (timeout, connection)."""
    BUFFER_CALLS.labels(endpoint, str(status) if status is not None else "error").inc()
    BUFFER_CALL_SECONDS.labels(endpoint).observe(seconds)


def observe_rate_limit_wait(seconds: float) -> None:
    """Record a wait the rate limiter answered (0.0 too: the share of zeros is the signal);
    a negative wait counts as 0."""
    RATE_LIMIT_WAIT.observe(max(seconds, 0.0))


def count_rewakes(profiles: int) -> None:
    """Count profiles the reconciler woke again."""
    REWAKES.inc(profiles)


def count_operation(job: Any) -> None:
    """Count a finished operation: done (changed Buffer), noop (nothing to change) or failed."""
    if job.kind == "snapshot":
        return  # snapshot requests are jobs too, but not schedule operations
    if job.status != "succeeded":
        outcome = job.status
    else:
        outcome = "done" if (job.result or {}).get("diff") else "noop"
    OPERATIONS.labels(outcome).inc()


def timed_sync(func: F) -> F:
    """Decorate a sync: observe its duration when it reached Buffer (idle and busy runs are
    not syncs worth timing)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        outcome = func(*args, **kwargs)
        if getattr(outcome, "buffer_calls", 0):
            SYNC_DURATION.observe(time.perf_counter() - started)
        return outcome

    return wrapper  # type: ignore[return-value]


def count_request(route: str, source: str, status: int) -> None:
    """Count one HTTP request under its route template (never the raw path: tokens)."""
    HTTP_REQUESTS.labels(route, source, str(status)).inc()


# --- gauges read from the store at scrape time --------------------------------------------


class StoreCollector(Collector):
    """bridge_queue_depth and bridge_snapshot_age_seconds, computed from the database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        """Yield both gauges; a database outage drops their samples, not the whole scrape."""
        depth = GaugeMetricFamily(
            "bridge_queue_depth", "Operations queued, running or retrying (not yet applied)."
        )
        age = GaugeMetricFamily(
            "bridge_snapshot_age_seconds",
            "Seconds since Buffer was last read for the stalest account (snapshot or sync).",
        )
        try:
            queued, oldest = store_figures(self.db)
        except Exception as error:  # a scrape must answer even when the database is down
            log.warning("metrics: cannot read the store: %s", error)
        else:
            depth.add_metric([], queued)
            if oldest is not None:
                age.add_metric([], max((models.utcnow() - oldest).total_seconds(), 0.0))
        yield depth
        yield age


def store_figures(db: Database) -> tuple[int, dt.datetime | None]:
    """(operations not yet applied, when the stalest account was last read from Buffer).

    The time is aware: the column's UTCDateTime type puts back the zone SQLite drops.
    Raises what the database raises when it cannot be read."""
    from sqlalchemy import func, select

    op = models.Job
    pending = select(func.count()).where(
        op.status.in_(models.PENDING_STATUSES), op.kind != "snapshot"
    )
    # newest look per account, then the stalest account: a profile deleted in Buffer keeps an
    # old seen_at forever, so per-profile ages would alarm for ever
    latest = select(func.max(models.Profile.seen_at)).group_by(models.Profile.account)
    with db.session() as session:
        queued = int(session.scalar(pending) or 0)
        seen = [value for value in session.scalars(latest) if value is not None]
    return queued, (min(seen) if seen else None)


# --- registries and exposition ------------------------------------------------------------


def multiprocess_dir(settings: Settings) -> str | None:
    """The shared metrics directory, when this process really writes its metrics there.

    None when prometheus_client keeps them in memory: it looked at the environment once,
    at import, and a directory configured after that (or not at all) is not used."""
    if values.ValueClass is values.MutexValue:
        return None
    return settings.prometheus_multiproc_dir


class _Default(Collector):
    """Everything this process registered in prometheus_client's default registry."""

    def collect(self) -> Iterator[Metric]:
        """The default registry's metrics."""
        yield from REGISTRY.collect()


def scrape_registry(directory: str | None, db: Database | None = None) -> CollectorRegistry:
    """A registry for /metrics: every process's files in `directory` (multiprocess mode,
    see multiprocess_dir), else this process's metrics; plus the store's gauges when
    `db` is given."""
    registry = CollectorRegistry(auto_describe=False)
    if directory:
        multiprocess.MultiProcessCollector(registry, path=directory)
    else:
        registry.register(_Default())
    if db is not None:
        registry.register(StoreCollector(db))
    return registry


def init_app(app: Flask) -> None:
    """Serve /metrics and count every request (route template, source, status)."""
    from flask import Response, g, request

    from bridge.logs import request_source

    services = app.extensions["bridge"]
    registry = scrape_registry(multiprocess_dir(services.settings), services.db)

    token = services.settings.metrics_token

    def metrics_view() -> Response:
        """The Prometheus exposition; with METRICS_TOKEN set, only for `Bearer <token>`."""
        if token and not _bearer_matches(request.headers.get("Authorization", ""), token):
            from bridge.errors import Unauthorized

            raise Unauthorized("/metrics needs the metrics token (METRICS_TOKEN)")
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)

    def count(response: Response) -> Response:
        """Count the request under its URL rule, never its raw path (tokens live in paths)."""
        route = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
        source = g.get("source") or request_source()
        count_request(route, source, response.status_code)
        return response

    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])
    app.after_request(count)


def _bearer_matches(header: str, token: str) -> bool:
    """True when `header` is `Bearer <token>` (compared in constant time)."""
    scheme, _, value = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        value.strip().encode(), token.encode()
    )


def serve_worker_metrics(settings: Settings, addr: str | None = None) -> None:
    """Serve every worker process's metrics on settings.worker_metrics_port from this (the
    main) process, in a background thread, on WORKER_METRICS_HOST (loopback unless the
    deployment opens it: the server has no authentication). Raises OSError when the port
    is taken."""
    registry = scrape_registry(multiprocess_dir(settings))
    host = addr or settings.worker_metrics_host
    start_http_server(settings.worker_metrics_port, addr=host, registry=registry)


def count_rotation(outcome: str) -> None:
    """Count one rotation run: fired, late, skipped or failed."""
    ROTATION_RUNS.labels(outcome=outcome).inc()
