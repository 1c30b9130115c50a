"""The web process under gunicorn: its one configuration, and `bridge serve`.

`options()` is the whole gunicorn configuration. `bridge serve` (and so `bridge dev`)
runs gunicorn with it from code; the Dockerfile, docker-compose.yml, Kubernetes and
systemd run `gunicorn -c python:bridge.gunicorn_conf bridge.wsgi:app`, which reads
the same options. Every value comes from Settings (GUNICORN_*, FORWARDED_ALLOW_IPS).

Why these values:
- gthread workers with many threads: a request waiting on a job (`?wait=`) may hold a
  thread for up to 25 s, and a live schedules read a Buffer call (BUFFER_REQUEST_TIMEOUT,
  a few seconds); /healthz must still find a free thread at once. Such requests share
  WAIT_MAX_CONCURRENT (8) slots per process, fewer than the 16 threads, and beyond it
  answer 429 (a read: the cache), so the probes and short requests always have threads
  left; add workers (processes) for more waits.
- timeout 60: a gthread worker's heartbeat comes from its main loop, not from requests,
  so this only restarts a worker that is truly stuck.
- graceful timeout 30: a stop or reload lets a 25 s wait finish; the orchestrators'
  own kill deadlines (compose 40 s, Kubernetes and systemd 40 s) are longer.
- LOG_FORMAT=json covers gunicorn's own lines too (start, workers, errors): its logger
  (`JsonGunicornLogger`) writes them through the app's JSON formatter, so every line of
  the web process is one JSON object of the same shape. Text keeps gunicorn's lines.
- no gunicorn access log: webhook paths carry tokens (/hooks/zapier/<token>) and
  gunicorn can only print the raw path; the app writes one redacted line per request.
- the worker class is gthread's, reading each request whole in its event loop before a
  thread serves it (bridge/read_ahead.py: slow clients hold no thread; 408 after
  GUNICORN_READ_TIMEOUT, 431 and 413 over the head and body limits), and answering what
  gunicorn refuses before the app sees it (a request line or headers over gunicorn's
  limits, a malformed request) in the bridge's one JSON error shape instead of gunicorn's
  HTML page (`ThreadWorker`). It is the worker of `bridge serve`, `bridge dev` and the
  `gunicorn -c python:bridge.gunicorn_conf` command of compose, Kubernetes and systemd.
- no control socket: gunicorn's (27) is `$HOME/.gunicorn/gunicorn.ctl` for every instance
  of a user, so one instance's stop removed another's, and a HOME it cannot write logged
  an error at every start; nothing here uses `gunicornc` (signals do its work).
- preload: the app is built once, in the master, and each worker is a fork of it. Built
  in each worker, it cost a worker 1.3 s of CPU to start, and `max_requests` restarts
  one every ~2,000 requests: on a busy core, a second of requests waited each time
  (docs/BENCHMARKS.md, "Intake"). A fork starts in milliseconds. The app
  opens no connection while it is built; `post_fork` drops the master's database pool
  anyway, so no worker can share a socket with another. The price: a reload (HUP)
  re-forks the loaded code, so new code needs a restart, which every deploy does.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from gunicorn import glogging
from gunicorn import util as gunicorn_util
from gunicorn.app.base import BaseApplication

from bridge.config import NO_SECRET_KEY, Settings
from bridge.read_ahead import ReadAheadWorker, error_response

KEEPALIVE = 5
# recycle workers now and then, so a slow leak cannot grow without bound
MAX_REQUESTS = 2000
# worker heartbeats on a RAM disk: a disk-backed /tmp in containers can stall them
SHM = Path("/dev/shm")


WORKER_CLASS = "bridge.web_server.ThreadWorker"


class ThreadWorker(ReadAheadWorker):
    """gunicorn's gthread worker reading requests ahead (bridge/read_ahead.py); the
    requests gunicorn itself refuses (414, 431, 400 for a malformed request line or
    header) are answered in the bridge's JSON error shape."""

    def init_process(self) -> None:
        # gunicorn's handle_error writes those answers with util.write_error, looked up
        # on the module at each call; this process runs only this worker, so the swap is
        # made once, before any thread starts
        gunicorn_util.write_error = write_json_error
        super().init_process()


def write_json_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's `util.write_error`, in JSON: the same status, the bridge's error body."""
    message = mesg or ("internal error; it has been logged" if status_int >= 500 else reason)
    gunicorn_util.write_nonblock(sock, error_response(status_int, reason, message))


class JsonGunicornLogger(glogging.Logger):
    """gunicorn's logger, writing its lines (error log and, if on, access log) in the app's
    JSON shape (bridge.logs.JsonFormatter): ts, level, logger, message, context."""

    def setup(self, cfg: Any) -> None:
        """gunicorn's handlers (made again at each reload), with our formatter."""
        super().setup(cfg)
        from bridge import logs

        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if getattr(handler, "_gunicorn", False):
                    handler.setFormatter(logs.JsonFormatter())
                    handler.addFilter(logs.ContextFilter())


def options(settings: Settings) -> dict[str, Any]:
    """gunicorn settings for the web process, named as in a gunicorn config file."""
    config: dict[str, Any] = {
        "bind": settings.web_bind,
        "workers": settings.web_workers,
        "worker_class": WORKER_CLASS,
        "threads": settings.web_threads,
        "timeout": settings.web_timeout,
        "graceful_timeout": settings.web_graceful_timeout,
        "keepalive": KEEPALIVE,
        "max_requests": MAX_REQUESTS,
        "max_requests_jitter": MAX_REQUESTS // 10,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
        "preload_app": True,
        "control_socket_disable": True,
        **_hooks(settings),
    }
    if settings.log_format == "json":
        config["logger_class"] = JsonGunicornLogger
    if SHM.is_dir():
        config["worker_tmp_dir"] = str(SHM)
    return config


def _hooks(settings: Settings) -> dict[str, Callable[..., None]]:
    """gunicorn's on_starting, post_fork and child_exit for these settings."""
    configured = settings.prometheus_multiproc_dir
    directory = Path(configured) if configured else None

    def on_starting(server: Any) -> None:
        """Redact the master's own log records too, and start with an empty metrics
        directory: files left by a previous run would be summed into /metrics."""
        from bridge import logs
        from bridge.accounts import startup_warnings

        logs.register_secrets(logs.settings_secrets(settings))
        logs.install_scrubber()
        # the workers are forks of this process: they inherit the deadline
        ReadAheadWorker.read_timeout = float(settings.web_read_timeout)
        for line in startup_warnings(settings):
            server.log.warning(line)
        if not settings.secret_key:
            server.log.warning(NO_SECRET_KEY)
        if directory is None:
            server.log.warning("PROMETHEUS_MULTIPROC_DIR is not set: /metrics shows one worker")
            return
        directory.mkdir(parents=True, exist_ok=True)
        for path in directory.glob("*.db"):
            path.unlink(missing_ok=True)

    def child_exit(_server: Any, worker: Any) -> None:
        """Drop a dead worker's live gauges so /metrics does not report them for ever."""
        if directory is None:
            return
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # in PROMETHEUS_MULTIPROC_DIR

    return {"on_starting": on_starting, "post_fork": post_fork, "child_exit": child_exit}


def post_fork(server: Any, _worker: Any) -> None:
    """In a new worker: forget the database connections of the preloaded app, which
    belong to the master (SQLAlchemy's advice for forked processes; normally there are
    none). Redis and Celery's pools notice the fork themselves."""
    app = getattr(server.app, "callable", None)
    services = getattr(app, "extensions", {}).get("bridge")
    if services is not None:
        services.db.engine.dispose(close=False)


class _Gunicorn(BaseApplication):
    """gunicorn run from code: options from `options()`, the app built once, in the
    master (preload_app), and forked into each worker."""

    def __init__(self, settings: Settings, config: dict[str, Any]) -> None:
        self.settings = settings
        self.config = config
        super().__init__()

    def load_config(self) -> None:
        """Apply our options."""
        for key, value in self.config.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        """Build the app (once, in the master: see preload in the module's docstring)."""
        from bridge import create_app

        return create_app(self.settings)


def run_gunicorn(
    settings: Settings, bind: str, workers: int | None = None, threads: int | None = None
) -> None:
    """Serve on `bind` with `options(settings)` until stopped; `workers` and `threads`
    override the settings' when given."""
    config = {**options(settings), "bind": bind}
    if workers:
        config["workers"] = workers
    if threads:
        config["threads"] = threads
    _Gunicorn(settings, config).run()
