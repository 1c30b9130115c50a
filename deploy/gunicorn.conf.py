"""Gunicorn settings for the bridge's web process.

Used as `gunicorn -c deploy/gunicorn.conf.py bridge.wsgi:app`.

Everything can be changed from the environment (GUNICORN_BIND, GUNICORN_WORKERS,
GUNICORN_THREADS, GUNICORN_TIMEOUT, GUNICORN_GRACEFUL_TIMEOUT, GUNICORN_KEEPALIVE,
GUNICORN_MAX_REQUESTS);
the bridge's own settings stay in bridge/config.py.
"""

import multiprocessing
import os
from pathlib import Path

_MAX_DEFAULT_WORKERS = 8


def _int_env(name: str, default: int) -> int:
    """A whole number from the environment, or `default` when unset or empty."""
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _default_workers() -> int:
    """2 x cores + 1, capped: a small container reports the host's cores."""
    return min(2 * multiprocessing.cpu_count() + 1, _MAX_DEFAULT_WORKERS)


bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = _int_env("GUNICORN_WORKERS", _default_workers())
threads = _int_env("GUNICORN_THREADS", 1)
# Requests only write to the database and enqueue: they never wait on Buffer.
timeout = _int_env("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int_env("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int_env("GUNICORN_KEEPALIVE", 5)
# Recycle workers now and then so a slow leak cannot grow without bound.
max_requests = _int_env("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = max_requests // 10

# No gunicorn access log: webhook URLs carry secrets in the path
# (/hooks/zapier/<token>) and gunicorn's access log can only print the raw path
# (%(U)s) or the full request line. The app logs every request itself, as one JSON
# object per line with the token redacted and the request_id, so that is the only
# access log. Errors go to stderr for the container runtime / journald.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "INFO").lower()
capture_output = True

# Worker heartbeats on a RAM disk: a disk-backed /tmp in containers can stall them.
if Path("/dev/shm").is_dir():
    worker_tmp_dir = "/dev/shm"


def _multiproc_dir() -> Path | None:
    """The prometheus_client multiprocess directory, when metrics are shared."""
    value = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    return Path(value) if value else None


def on_starting(server):
    """Start with an empty metrics directory: files left by a previous run would be summed in."""
    directory = _multiproc_dir()
    if directory is None:
        server.log.warning("PROMETHEUS_MULTIPROC_DIR is not set: /metrics shows one worker only")
        return
    directory.mkdir(parents=True, exist_ok=True)
    for path in directory.glob("*.db"):
        path.unlink(missing_ok=True)


def child_exit(server, worker):
    """Drop a dead worker's live gauges so /metrics does not report them forever."""
    if _multiproc_dir() is None:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
