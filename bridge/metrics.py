"""Prometheus metrics: what the web app, the workers and beat count, and how /metrics shows it.

Counters and histograms live at module level (prometheus_client's own pattern) and
are fed by one-line calls from the code that knows the event. Queue depth and
snapshot age are read from the database at scrape time, so they are right whichever
process scrapes and however many processes there are.

Several processes (gunicorn workers, Celery prefork children) share metrics through
PROMETHEUS_MULTIPROC_DIR: prometheus_client reads that variable when it is first
imported, so a process that wants multiprocess mode must set it before importing
this module (`bridge worker` does, before Celery forks its pool).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
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

if TYPE_CHECKING:
    from flask import Flask, Response

    from bridge.services import Services

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
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
OPERATIONS = Counter(
    "bridge_operations_total",
    "Operations finished, by outcome (done, noop, failed).",
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
    """Count one Buffer call (the default `on_buffer_call` of Services)."""
    BUFFER_CALLS.labels(endpoint, str(status) if status is not None else "error").inc()
    BUFFER_CALL_SECONDS.labels(endpoint).observe(seconds)


def observe_rate_limit_wait(seconds: float) -> None:
    """Record the wait the rate limiter asked for."""
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
    """Count one HTTP request."""
    HTTP_REQUESTS.labels(route, source, str(status)).inc()


# --- gauges read from the store at scrape time --------------------------------------------


class StoreCollector(Collector):
    """bridge_queue_depth and bridge_snapshot_age_seconds, computed from the database."""

    def __init__(self, services: Services) -> None:
        self.services = services

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
            queued, oldest = store_figures(self.services)
        except Exception as error:  # a scrape must answer even when the database is down
            log.warning("metrics: cannot read the store: %s", error)
        else:
            depth.add_metric([], queued)
            if oldest is not None:
                age.add_metric([], max((_utcnow() - oldest).total_seconds(), 0.0))
        yield depth
        yield age


def _utcnow() -> dt.datetime:
    """Now, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime) -> dt.datetime:
    """`value` with UTC assumed when the driver dropped the zone (SQLite)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def store_figures(services: Services) -> tuple[int, dt.datetime | None]:
    """(operations not yet applied, when the stalest account was last read from Buffer)."""
    from sqlalchemy import func, select

    from bridge import models

    op = models.Job
    pending = select(func.count()).where(
        op.status.in_(models.PENDING_STATUSES), op.kind != "snapshot"
    )
    # newest look per account, then the stalest account: a profile deleted in Buffer keeps an
    # old seen_at forever, so per-profile ages would alarm for ever
    latest = select(func.max(models.Profile.seen_at)).group_by(models.Profile.account)
    with services.db.session() as session:
        queued = int(session.scalar(pending) or 0)
        seen = [_aware(value) for value in session.scalars(latest) if value is not None]
    return queued, (min(seen) if seen else None)


# --- registries and exposition ------------------------------------------------------------


def multiprocess_dir() -> str | None:
    """The shared metrics directory, when this process writes its metrics there.

    Read from the environment, not Settings: prometheus_client reads this variable once,
    when it is imported, and what it saw then decides where our metrics live."""
    if values.ValueClass is values.MutexValue:
        return None  # in-memory metrics: the variable was set too late (or not at all)
    return os.environ.get(MULTIPROC_ENV) or None


class _Default(Collector):
    """Everything this process registered in prometheus_client's default registry."""

    def collect(self) -> Iterator[Metric]:
        """The default registry's metrics."""
        yield from REGISTRY.collect()


def scrape_registry(services: Services | None = None) -> CollectorRegistry:
    """A registry for /metrics: every process's files in multiprocess mode, else this one's;
    plus the store's gauges when `services` is given."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Default())
    if services is not None:
        registry.register(StoreCollector(services))
    return registry


def init_app(app: Flask) -> None:
    """Serve /metrics and count every request (route template, source, status)."""
    from flask import Response, g, request

    from bridge.logs import request_source

    registry = scrape_registry(app.extensions["bridge"])

    def metrics_view() -> Response:
        """The Prometheus exposition."""
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)

    def count(response: Response) -> Response:
        """Count the request under its URL rule, never its raw path (tokens live in paths)."""
        route = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
        source = g.get("source") or request_source()
        count_request(route, source, response.status_code)
        return response

    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])
    app.after_request(count)


def serve_worker_metrics(port: int, addr: str = "0.0.0.0") -> None:
    """Serve every worker process's metrics on `port` from this (the main) process."""
    start_http_server(port, addr=addr, registry=scrape_registry())
