"""Start-up shared by every benchmark: a private stack on 127.0.0.1, torn down afterwards.

A :class:`Stack` runs, each as a real subprocess in a temporary directory:
a private ``redis-server`` on a free port, ``bridge sandbox`` (the Buffer
simulator), ``bridge db upgrade`` on its own SQLite file (or a private schema of
a PostgreSQL database), ``bridge clients create``, ``bridge serve`` and one or
more ``bridge worker`` processes. Benchmarks talk to the bridge over HTTP and
count Buffer calls from the sandbox's own request record.

Every wait is bounded by time; a stack that cannot start raises
:class:`InfraError`, which the scripts turn into a non-zero exit. A missed goal
is a figure to report, never an exit status.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import create_engine, text

# the one harness (tests and `bridge dev` use it too); free_port and wait_until are
# imported from here by the benchmarks
from bridge.harness import HOST, HarnessError, WaitTimeout, free_port, wait_until
from bridge.harness.redis_server import RedisServer

SANDBOX_TOKEN = "bench-token"
BIN = Path(sys.executable).parent
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


class InfraError(HarnessError):
    """The benchmark could not run (a process did not start, a request failed)."""


def percentile(values: Sequence[float], pct: float) -> float:
    """The `pct` percentile (nearest rank) of `values`; 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    """The median of `values`; 0.0 when empty."""
    return statistics.median(values) if values else 0.0


@dataclass
class Proc:
    """A subprocess whose output goes to a log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        """True while the process runs."""
        return self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        """The last lines of its log."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM to the process (a warm shutdown), then SIGKILL to its own group."""
        if self.popen.poll() is not None:
            return
        self.popen.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(STOP_TIMEOUT)
        # whatever is left of its own session (e.g. pool children) goes too
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(5)


@dataclass
class StackOptions:
    """What a benchmark's stack looks like."""

    profiles: int = 10
    rate_limit: str = "60/60s"  # the sandbox's limit and BUFFER_RATE_LIMIT of the bridge
    workers: int = 1
    worker_concurrency: int = 2
    web_threads: int = 8
    database_url: str | None = None  # PostgreSQL URL; SQLite in the temp dir when None
    keep: bool = False  # keep the temp dir (logs, database) for a post-mortem
    extra_env: dict[str, str] = field(default_factory=dict)
    sandbox_args: list[str] = field(default_factory=list)  # e.g. ["--organizations", "3"]

    @classmethod
    def of(cls, args: argparse.Namespace, **fields: Any) -> StackOptions:
        """These `fields` and what every benchmark's command line says (`common_args`:
        --database-url, --keep)."""
        return cls(database_url=args.database_url, keep=args.keep, **fields)


class Stack:
    """Redis, sandbox, store, web and workers for one benchmark (a context manager)."""

    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self.dir = Path(tempfile.mkdtemp(prefix="bridge-bench-"))
        self.procs: list[Proc] = []
        self.redis_port = free_port()
        self.sandbox_port = free_port()
        self.web_port = free_port()
        self.sandbox_root = f"http://{HOST}:{self.sandbox_port}/"
        self.web_url = f"http://{HOST}:{self.web_port}"
        self._pg_schema: str | None = None
        self.database_url = self._database_url()
        self.token = ""
        self.http = requests.Session()

    # --- start and stop ------------------------------------------------------------

    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of every bridge process."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("BUFFER_ACCESS_TOKEN")}
        env.update(
            BUFFER_API_URL=f"{self.sandbox_root}1/",
            BUFFER_ACCESS_TOKEN=SANDBOX_TOKEN,
            BUFFER_RATE_LIMIT=self.options.rate_limit,
            BUFFER_TIMEOUT="5,30",
            REDIS_URL=f"redis://{HOST}:{self.redis_port}/0",
            DATABASE_URL=self.database_url,
            LOG_FORMAT="text",
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.options.extra_env)
        env.update(extra)
        return env

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Proc:
        """Start a logged subprocess in its own process group."""
        log = self.dir / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env or self.env(),
                cwd=self.dir,
                start_new_session=True,
            )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def bridge(self, *args: str) -> str:
        """Run a short `bridge` command to completion; its stdout."""
        done = subprocess.run(
            [str(BIN / "bridge"), *args],
            env=self.env(),
            cwd=self.dir,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise InfraError(f"bridge {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
        return done.stdout

    def start(self) -> None:
        """Bring everything up, in dependency order, each step bounded in time."""
        self.start_backing()
        self._start_web()
        for number in range(self.options.workers):
            self._start_worker(number)

    def start_backing(self) -> None:
        """What every bridge process needs first: Redis, the sandbox, the migrated store
        and the bench client (whose token `api` sends)."""
        self._start_redis()
        self._start_sandbox()
        self.bridge("db", "upgrade")
        self.token = self.bridge("clients", "create", "bench").strip().splitlines()[-1]
        self.http.headers["Authorization"] = f"Bearer {self.token}"

    def stop(self) -> None:
        """Stop every process we started (workers and web first), drop the PostgreSQL schema."""
        self.http.close()
        for proc in reversed(self.procs):
            proc.stop()
        if self._pg_schema is not None and self.options.database_url:
            with contextlib.suppress(Exception):
                engine = create_engine(self.options.database_url)
                with engine.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA IF EXISTS "{self._pg_schema}" CASCADE'))
                engine.dispose()
        if self.options.keep:
            print(f"(kept {self.dir})", file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def _database_url(self) -> str:
        """SQLite in the temp dir, or a private schema in the given PostgreSQL database."""
        url = self.options.database_url
        if not url:
            return f"sqlite:///{self.dir / 'bridge.db'}"
        schema = f"bridge_bench_{uuid.uuid4().hex[:10]}"
        try:
            engine = create_engine(url, connect_args={"connect_timeout": 5})
            with engine.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            engine.dispose()
        except Exception as error:
            raise InfraError(f"PostgreSQL at {url} is unusable: {error}") from error
        self._pg_schema = schema
        joiner = "&" if "?" in url else "?"
        return f"{url}{joiner}options=-csearch_path%3D{schema}"

    def _start_redis(self) -> None:
        server = RedisServer(self.dir, self.redis_port)
        server.start(lambda argv: self.spawn("redis", argv).popen, START_TIMEOUT)

    def _start_sandbox(self) -> None:
        argv = [str(BIN / "bridge"), "sandbox", "--host", HOST, "--port", str(self.sandbox_port)]
        argv += ["--profiles", str(self.options.profiles), "--rate-limit", self.options.rate_limit]
        argv += ["--token", f"{SANDBOX_TOKEN}=default", *self.options.sandbox_args]
        proc = self.spawn("sandbox", argv)
        wait_until(
            lambda: self._answers(proc, self.sandbox_root + "__sandbox/faults"),
            START_TIMEOUT,
            "the sandbox",
        )

    def _start_web(self) -> None:
        argv = [str(BIN / "bridge"), "serve", "--host", HOST, "--port", str(self.web_port)]
        argv += ["--threads", str(self.options.web_threads)]
        proc = self.spawn("web", argv)
        wait_until(
            lambda: self._answers(proc, self.web_url + "/healthz"), START_TIMEOUT, "bridge serve"
        )

    def _start_worker(self, number: int) -> None:
        # each worker its own metrics port and Celery node, named as if on its own machine
        env = self.env(WORKER_METRICS_PORT=str(free_port()))
        argv = [str(BIN / "bridge"), "worker", "-c", str(self.options.worker_concurrency)]
        argv += ["--name", f"bench-worker{number}@machine-{number}"]
        proc = self.spawn(f"worker{number}", argv, env)

        def ready() -> bool:
            # a Celery ping: the worker's log level may hide its "ready" line
            self._check_alive(proc)
            replies = self._celery().control.ping(timeout=0.5)
            return len(replies) > number

        wait_until(ready, START_TIMEOUT * 2, f"bridge worker {number}", interval=0.2)

    def _celery(self) -> Any:
        """A Celery app on the private Redis, for control commands only."""
        if not hasattr(self, "_celery_app"):
            from celery import Celery

            self._celery_app = Celery("bench", broker=f"redis://{HOST}:{self.redis_port}/0")
        return self._celery_app

    def _answers(self, proc: Proc, url: str) -> bool:
        self._check_alive(proc)
        try:
            return requests.get(url, timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def _check_alive(self, proc: Proc) -> None:
        if not proc.alive():
            raise InfraError(f"{proc.name} exited ({proc.popen.returncode}):\n{proc.tail()}")

    def wait_idle(self, seconds: float) -> None:
        """Let `seconds` pass (e.g. for rate-limit windows to empty), checking the processes."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.check_running()
            time.sleep(min(0.25, max(deadline - time.monotonic(), 0)))

    def check_running(self) -> None:
        """InfraError when any process of the stack has died."""
        for proc in self.procs:
            self._check_alive(proc)

    # --- the sandbox -----------------------------------------------------------------

    def sandbox(self, method: str, name: str, **kwargs: Any) -> Any:
        """Call a sandbox control endpoint; its JSON."""
        try:
            response = requests.request(
                method, f"{self.sandbox_root}__sandbox/{name}", timeout=30, **kwargs
            )
            response.raise_for_status()
        except requests.RequestException as error:
            raise InfraError(f"sandbox {method} {name}: {error}") from error
        return response.json()

    def buffer_requests(self, dump: str | None = None) -> list[dict[str, Any]]:
        """Every /1/ request the sandbox answered since the last clear (saved to `dump`)."""
        records = list(self.sandbox("GET", "requests"))
        if dump:
            Path(dump).write_text(json.dumps(records, indent=1))
        return records

    def clear_buffer_requests(self) -> None:
        """Forget the sandbox's request record."""
        self.sandbox("DELETE", "requests")

    def profile_ids(self) -> list[str]:
        """Every profile id of the sandbox's accounts."""
        return [p["id"] for a in self.sandbox("GET", "accounts") for p in a["profiles"]]

    # --- the bridge --------------------------------------------------------------------

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Call the bridge's REST API with the bench client's token."""
        try:
            return self.http.request(method, self.web_url + path, timeout=30, **kwargs)
        except requests.RequestException as error:
            raise InfraError(f"{method} {path}: {error}") from error

    def fill_profile_cache(self) -> None:
        """Snapshot once so the bridge knows every profile; then clear the sandbox record."""
        response = self.api("POST", "/v1/snapshots", json={})
        if response.status_code != 202:
            raise InfraError(f"POST /v1/snapshots: {response.status_code} {response.text[:300]}")
        self.wait_job(response.json()["job_id"], timeout=120)
        self.clear_buffer_requests()

    def wait_job(self, job_id: int, timeout: float) -> dict[str, Any]:
        """Poll a job until it succeeds or fails; InfraError when it does neither in time."""

        def done() -> dict[str, Any] | None:
            self.check_running()
            job = self.api("GET", f"/v1/jobs/{job_id}").json()
            return job if job.get("status") in ("succeeded", "failed") else None

        return dict(wait_until(done, timeout, f"job {job_id}", interval=0.02))

    def job_statuses(self, first_id: int, last_id: int) -> dict[str, int]:
        """How many of the jobs first_id..last_id are in each status (read from the store)."""
        engine = self._engine()
        query = text("SELECT status, count(*) FROM jobs WHERE id BETWEEN :a AND :b GROUP BY status")
        with engine.connect() as conn:
            return {
                row[0]: int(row[1]) for row in conn.execute(query, {"a": first_id, "b": last_id})
            }

    def wait_jobs(self, job_ids: Sequence[int], timeout: float) -> tuple[float, dict[str, int]]:
        """Wait until every job is finished; (monotonic time it happened, status counts)."""
        first, last = min(job_ids), max(job_ids)
        counts: dict[str, int] = {}

        def done() -> bool:
            nonlocal counts
            self.check_running()
            counts = self.job_statuses(first, last)
            return counts.get("succeeded", 0) + counts.get("failed", 0) >= len(job_ids)

        wait_until(done, timeout, f"{len(job_ids)} jobs", interval=0.05)
        return time.monotonic(), counts

    def _engine(self) -> Any:
        if not hasattr(self, "_engine_cache"):
            self._engine_cache = create_engine(self.database_url)
        return self._engine_cache


# --- reporting -----------------------------------------------------------------------------


@dataclass
class Figure:
    """One line of a benchmark's table: what, value, goal, and whether the goal is met."""

    name: str
    value: str
    goal: str = ""
    met: bool | None = None

    @property
    def verdict(self) -> str:
        """`ok`, `MISSED` or blank (no goal)."""
        return "" if self.met is None else ("ok" if self.met else "MISSED")


def print_table(title: str, figures: Sequence[Figure]) -> None:
    """Print the figures as an aligned text table."""
    rows = [("figure", "value", "goal", "")] + [
        (f.name, f.value, f.goal, f.verdict) for f in figures
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    print(f"\n== {title}")
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    sys.stdout.flush()


def common_args(description: str) -> argparse.ArgumentParser:
    """The options every benchmark takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL URL (a private schema is made and dropped); SQLite when omitted",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir with the logs")
    parser.add_argument("--dump", default=None, help="write the sandbox's request record here")
    return parser


def run_main(
    body: Callable[[argparse.Namespace], Sequence[Figure]], args: argparse.Namespace
) -> int:
    """Run a benchmark body: 0 whatever the figures say, 2 when the infrastructure failed."""
    try:
        body(args)
    except (HarnessError, WaitTimeout) as error:
        print(f"benchmark infrastructure failed: {error}", file=sys.stderr)
        return 2
    return 0


@contextlib.contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """`with stopwatch() as elapsed:` ... `elapsed()` is seconds since entry (frozen on exit)."""
    started = time.perf_counter()
    stopped: list[float] = []
    yield lambda: (stopped[0] if stopped else time.perf_counter()) - started
    stopped.append(time.perf_counter())
