"""(e) Intake: an authenticated schedule change against a bare route, side by side.

Three gunicorn servers with the same config (`-c python:bridge.gunicorn_conf`) and the
same environment, each on its own port, measured one after the other in one run:

- real: `bridge.wsgi:app`, the bridge itself; `PATCH /v1/profiles/<id>/schedules`
  with a bearer token from `bridge clients create`, spread over every profile of a
  `bridge sandbox --profiles N` (the catalog is filled by a snapshot job first), on
  a private redis-server and a private PostgreSQL cluster (initdb in a temp dir; or
  `--database-url`: a private schema of that server);
- bare: `bench/bare_app.py`, the same method and path answering 202 after nothing;
- framework: `bench/framework_app.py`, the same route through flask-smorest with the
  real route's body and answer schemas and nothing of the bridge's own (no token,
  store, Redis or log): what the stack alone costs, between the two.

Celery workers are stopped before the measurement (one runs only to fill the
catalog): a 202 needs the job stored and a wake sent to Redis, never a worker. The
wakes pile up in Redis; the table says how many were sent.

Load generators, both pinned with taskset to the generator core(s), the servers to the
server core(s), redis-server and PostgreSQL to the store core(s) (by default core 1,
core 0 and the server cores; `--store-cores 1` puts the stores beside the generators,
as a database on its own machine would be):

- max throughput: wrk (closed loop, 1 thread, `--connections` connections, keep-alive),
  `apt-get install wrk`; the script stops with a clear message when it is missing;
- latency at a fixed rate: bench/openloop.py (open loop: request k is due at k/rate and
  its latency counts from then, so a stall cannot hide itself), `--rate` per second.

    flock -x /work/heavy.lock .venv/bin/python bench/intake.py [--profiles 1000]
        [--rate 200] [--rate-seconds 15] [--max-seconds 10] [--connections 16]
        [--web-workers N] [--web-threads N] [--server-cores 0] [--store-cores LIST]
        [--generator-cores 1] [--database-url URL] [--keep]
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from harness import (
    BIN,
    HOST,
    Figure,
    InfraError,
    Proc,
    Stack,
    StackOptions,
    common_args,
    free_port,
    print_table,
    run_main,
    wait_until,
)
from sqlalchemy import text

from bridge.harness.postgres import PostgresCluster

HERE = Path(__file__).resolve().parent
CLIENT_RATE_LIMIT = "10000000/60s"  # one bench client sends all the load: never 429 it
P99_GOAL_MS = 20.0
THROUGHPUT_GOAL = 0.5  # the real route's share of the bare route's
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TIMES = ("07:30", "08:00", "09:15", "12:00", "12:30", "15:45", "18:00", "21:10", "22:05")
# measured in this order: the bare route, the framework alone, the bridge
ROUTES = ("bare", "framework", "real")
BOOT_LINE = re.compile(r"Booting worker with pid")


def bodies() -> list[str]:
    """The change bodies, cycled through: small `add` changes like a Zap's."""
    return [
        json.dumps({"days": DAYS[i % len(DAYS)], "times": [TIMES[i % len(TIMES)]], "mode": "add"})
        for i in range(len(DAYS) * len(TIMES))
    ]


@dataclass
class IntakeOptions(StackOptions):
    """The stack of this benchmark: which cores serve, how many gunicorn workers."""

    server_cores: str = "0"
    store_cores: str | None = None  # redis-server and PostgreSQL; None: the server cores
    web_workers: int | None = None  # GUNICORN_WORKERS; None: the bridge's default
    gunicorn_threads: int | None = None  # GUNICORN_THREADS; None: the bridge's default
    private_postgres: bool = True
    pinned: set[str] = field(default_factory=lambda: {"redis", *ROUTES})


class IntakeStack(Stack):
    """Redis, sandbox, PostgreSQL and the three gunicorn servers, the measured ones pinned."""

    options: IntakeOptions

    def __init__(self, options: IntakeOptions) -> None:
        self.postgres: PostgresCluster | None = None
        super().__init__(options)
        # the real route listens on web_port; the two others on ports of their own
        self.ports = {"real": self.web_port, "bare": free_port(), "framework": free_port()}

    def _database_url(self) -> str:
        if self.options.database_url or not self.options.private_postgres:
            return super()._database_url()
        # the private cluster's server pinned beside redis-server
        self.postgres = PostgresCluster(start_prefix=["taskset", "-c", self.store_cores])
        self.postgres.init()
        self.postgres.start()
        return self.postgres.url

    @property
    def store_cores(self) -> str:
        """Where redis-server and PostgreSQL run: beside the servers unless told."""
        return self.options.store_cores or self.options.server_cores

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Proc:
        if name in self.options.pinned:
            cores = self.store_cores if name == "redis" else self.options.server_cores
            argv = ["taskset", "-c", cores, *argv]
        return super().spawn(name, argv, env)

    def server_env(self, name: str) -> dict[str, str]:
        """The environment both servers share (only the port and metrics dir differ):
        the production log level and format, a client limit this one client stays under."""
        metrics = self.dir / f"metrics-{name}"
        metrics.mkdir(exist_ok=True)
        extra = {
            "GUNICORN_BIND": f"{HOST}:{self.ports[name]}",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics),
            "LOG_LEVEL": "INFO",
            "LOG_FORMAT": "json",
            "CLIENT_RATE_LIMIT": CLIENT_RATE_LIMIT,
            "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        }
        if self.options.web_workers:
            extra["GUNICORN_WORKERS"] = str(self.options.web_workers)
        if self.options.gunicorn_threads:
            extra["GUNICORN_THREADS"] = str(self.options.gunicorn_threads)
            extra["WAIT_MAX_CONCURRENT"] = str(max(1, self.options.gunicorn_threads // 2))
        return self.env(**extra)

    def start(self) -> None:
        """Everything up; the catalog filled by one worker, which is then stopped."""
        self.start_backing()
        self._start_server("real", "bridge.wsgi:app", self.web_url + "/healthz")
        self._start_worker(0)
        self.fill_profile_cache()
        worker = next(p for p in self.procs if p.name == "worker0")
        worker.stop()
        self.procs.remove(worker)
        self._start_server("bare", "bare_app:app", None)
        self._start_server("framework", "framework_app:app", None)

    def _start_server(self, name: str, app: str, health: str | None) -> None:
        argv = [str(BIN / "gunicorn"), "-c", "python:bridge.gunicorn_conf", app]
        proc = self.spawn(name, argv, self.server_env(name))
        if health is not None:
            wait_until(lambda: self._answers(proc, health), 60, f"gunicorn {name}")
            return
        url = f"http://{HOST}:{self.ports[name]}/v1/profiles/x/schedules"
        change = {"days": "mon", "times": ["09:00"]}

        def answers() -> bool:
            self._check_alive(proc)
            try:
                return self.http.patch(url, json=change, timeout=2).status_code == 202
            except Exception:
                return False

        wait_until(answers, 60, f"gunicorn {name}")

    def stop(self) -> None:
        super().stop()
        if self.postgres is not None:
            self.postgres.remove("fast")

    def server_pids(self, name: str) -> list[int]:
        """The gunicorn master of server `name` (taskset execs it: the same pid)."""
        return [next(p for p in self.procs if p.name == name).popen.pid]

    def store_pids(self) -> list[int]:
        """redis-server and the private PostgreSQL's postmaster (a shared server given by
        --database-url is not counted)."""
        pids = [next(p for p in self.procs if p.name == "redis").popen.pid]
        if self.postgres is not None:
            pids.append(self.postgres.postmaster_pid())
        return pids

    def boots(self, name: str) -> int:
        """How many gunicorn workers server `name` has booted so far (recycles included)."""
        proc = next(p for p in self.procs if p.name == name)
        return len(BOOT_LINE.findall(proc.log.read_text(errors="replace")))

    def redis_client(self) -> redis.Redis:
        return redis.Redis(host=HOST, port=self.redis_port)

    def forget_pending(self) -> None:
        """Drop every pending flag, so each phase's first change to a profile sends a wake
        as a change to an idle profile does (no worker is running to drop them)."""
        client = self.redis_client()
        keys = list(client.scan_iter("bridge:pending:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()

    def queued_tasks(self) -> int:
        """Celery messages waiting in the bridge's queue (wakes sent, never consumed)."""
        client = self.redis_client()
        try:
            return int(client.llen("bridge"))
        finally:
            client.close()

    def job_count(self) -> int:
        with self._engine().connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM jobs")).scalar_one())


# --- CPU accounting ----------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process now."""
    found: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                found[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    return found


def tree_cpu_seconds(roots: Sequence[int]) -> float:
    """User + system CPU seconds of the processes under `roots` (themselves included),
    with that of their children which ended and were reaped (a gunicorn worker recycled by
    max_requests: its time moves to the master's cutime/cstime)."""
    parents = _parents()
    wanted = set(roots)
    grew = True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in wanted} - wanted
        wanted |= more
        grew = bool(more)
    total = 0
    for pid in wanted:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return total / CLOCK_TICKS


# --- the load generators ---------------------------------------------------------------


def require_wrk() -> str:
    """wrk's path; InfraError telling how to install it when it is missing."""
    found = shutil.which("wrk")
    if found is None:
        raise InfraError("wrk is not installed: apt-get install wrk (Debian/Ubuntu)")
    return found


WRK_SCRIPT = """
local paths = {%(paths)s}
local bodies = {%(bodies)s}
local n = 0
wrk.method = "PATCH"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(token)s"
request = function()
  n = n + 1
  return wrk.format(nil, paths[(n %% #paths) + 1], nil, bodies[(n %% #bodies) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%%d,"duration_us":%%d,"status":%%d,"connect":%%d,"read":%%d,' ..
    '"write":%%d,"timeout":%%d,"p50_us":%%d,"p99_us":%%d}\\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string of ASCII is a valid Lua string literal


def write_wrk_script(path: Path, paths: Sequence[str], token: str) -> None:
    path.write_text(
        WRK_SCRIPT
        % {
            "paths": ",".join(lua_string(p) for p in paths),
            "bodies": ",".join(lua_string(b) for b in bodies()),
            "token": token,
        }
    )


def run_wrk(cores: str, url: str, script: Path, seconds: float, connections: int) -> dict[str, Any]:
    """A closed-loop wrk run; its summary (requests, errors, latency) as a dict."""
    argv = ["taskset", "-c", cores, require_wrk(), "-t1", f"-c{connections}"]
    argv += [f"-d{seconds:g}s", "--timeout", "10s", "-s", str(script), url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise InfraError(
            f"wrk failed ({done.returncode}): {done.stderr[-300:]}{done.stdout[-300:]}"
        )
    found = dict(json.loads(line.removeprefix("WRK_JSON ")))
    errors = sum(found[k] for k in ("status", "connect", "read", "write", "timeout"))
    found["errors"] = errors
    found["rate"] = found["requests"] / (found["duration_us"] / 1e6)
    return found


def write_openloop_specs(path: Path, paths: Sequence[str], token: str) -> None:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    texts = bodies()
    # as many specs as paths x a body each, the bodies cycling on their own
    specs = [
        {"method": "PATCH", "path": p, "headers": headers, "body": texts[i % len(texts)]}
        for i, p in enumerate(paths)
    ]
    path.write_text(json.dumps(specs))


def run_openloop(
    cores: str, port: int, specs: Path, rate: float, seconds: float, connections: int
) -> dict[str, Any]:
    """bench/openloop.py at `rate` per second for `seconds`; its JSON summary."""
    argv = ["taskset", "-c", cores, sys.executable, str(HERE / "openloop.py"), "--port", str(port)]
    argv += ["--rate", f"{rate:g}", "--duration", f"{seconds:g}", "--expect", "202"]
    argv += ["--connections", str(connections), "--requests", str(specs)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120, check=False)
    if done.returncode != 0:
        raise InfraError(f"openloop failed ({done.returncode}): {done.stderr[-500:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# --- the benchmark -------------------------------------------------------------------------


@dataclass
class RouteFigures:
    """What one route measured."""

    name: str
    server_cpu_ms: float = 0.0  # the server's CPU per request in the max run
    store_cpu_ms: float = 0.0  # redis-server's and PostgreSQL's, the same way
    max_run: dict[str, Any] = field(default_factory=dict)
    rate_run: dict[str, Any] = field(default_factory=dict)
    boots: int = 0  # worker (re)boots during the measured phases
    wakes: int = 0  # tasks sent to the queue during the measured phases
    jobs: int = 0  # jobs stored during the measured phases


def measure(
    stack: IntakeStack, name: str, port: int, paths: Sequence[str], args: Any
) -> RouteFigures:
    """Warm up, then the closed-loop maximum, then the open-loop fixed rate, on one route."""
    figures = RouteFigures(name)
    script = stack.dir / "wrk.lua"
    specs = stack.dir / "openloop.json"
    write_wrk_script(script, paths, stack.token)
    write_openloop_specs(specs, paths, stack.token)
    url = f"http://{HOST}:{port}"
    gen = args.generator_cores
    run_wrk(gen, url, script, args.warmup_seconds, args.connections)
    time.sleep(1.0)  # the warm-up's last requests finish before the counts are taken
    boots, wakes, jobs = stack.boots(name), stack.queued_tasks(), stack.job_count()
    stack.forget_pending()
    server, stores = stack.server_pids(name), stack.store_pids()
    cpu_before = tree_cpu_seconds(server), tree_cpu_seconds(stores)
    figures.max_run = run_wrk(gen, url, script, args.max_seconds, args.connections)
    cpu_after = tree_cpu_seconds(server), tree_cpu_seconds(stores)
    requests = max(1, figures.max_run["requests"])
    figures.server_cpu_ms = (cpu_after[0] - cpu_before[0]) * 1000 / requests
    figures.store_cpu_ms = (cpu_after[1] - cpu_before[1]) * 1000 / requests
    stack.forget_pending()
    time.sleep(1.0)  # let the server settle after the burst
    figures.rate_run = run_openloop(
        gen, port, specs, args.rate, args.rate_seconds, args.rate_connections
    )
    stack.check_running()
    figures.boots = stack.boots(name) - boots
    figures.wakes = stack.queued_tasks() - wakes
    figures.jobs = stack.job_count() - jobs
    return figures


def run(args: Any) -> list[Figure]:
    """Start the stack, measure both routes, print the table."""
    require_wrk()
    os.sched_setaffinity(0, {int(c) for c in args.generator_cores.split(",")})
    options = IntakeOptions(
        profiles=args.profiles,
        rate_limit="600/60s",
        database_url=args.database_url,
        keep=args.keep,
        server_cores=args.server_cores,
        store_cores=args.store_cores,
        web_workers=args.web_workers,
        gunicorn_threads=args.web_threads,
    )
    load_before = os.getloadavg()
    with IntakeStack(options) as stack:
        ids = stack.profile_ids()
        paths = [f"/v1/profiles/{pid}/schedules" for pid in ids]
        results = {name: measure(stack, name, stack.ports[name], paths, args) for name in ROUTES}
    load_after = os.getloadavg()
    return report(results, args, len(ids), load_before, load_after)


def report(
    results: dict[str, RouteFigures],
    args: Any,
    profiles: int,
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> list[Figure]:
    """Print the side-by-side table and the goals."""
    stores = args.store_cores or args.server_cores
    print(
        f"\n== (e) intake, {profiles} profiles; servers on core(s) {args.server_cores}, "
        f"redis-server and PostgreSQL on core(s) {stores}, generators on core(s) "
        f"{args.generator_cores}; "
        f"wrk -t1 -c{args.connections} -d{args.max_seconds:g}s; openloop {args.rate:g}/s "
        f"x {args.rate_seconds:g}s over {args.rate_connections} connections"
    )
    header = (
        "route",
        "max req/s (wrk)",
        "errors",
        f"p50 / p90 / p99 / max ms at {args.rate:g}/s",
        "errors",
        "achieved/s",
        "CPU ms/req server + stores",
        "worker boots",
        "wakes",
        "jobs stored",
    )
    rows = [header]
    for fig in results.values():
        lat = fig.rate_run["latency_ms"]
        rows.append(
            (
                fig.name,
                f"{fig.max_run['rate']:.0f}",
                str(fig.max_run["errors"]),
                f"{lat['p50']:.1f} / {lat['p90']:.1f} / {lat['p99']:.1f} / {lat['max']:.1f}",
                str(fig.rate_run["errors"]) + (f" ({fig.rate_run['resent']} resent)"),
                f"{fig.rate_run['rate']:.0f}",
                f"{fig.server_cpu_ms:.2f} + {fig.store_cpu_ms:.2f}",
                str(fig.boots),
                str(fig.wakes) if fig.name == "real" else "-",
                str(fig.jobs) if fig.name == "real" else "-",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    real, bare, framework = results["real"], results["bare"], results["framework"]
    share = real.max_run["rate"] / bare.max_run["rate"] if bare.max_run["rate"] else 0.0
    p99 = real.rate_run["latency_ms"]["p99"]
    accepted = real.max_run["requests"] - real.max_run["errors"]
    accepted += real.rate_run["statuses"].get("202", 0)
    figures = [
        Figure(
            "real / bare max throughput",
            f"{share:.2f} ({real.max_run['rate']:.0f} / {bare.max_run['rate']:.0f} req/s)",
            f">= {THROUGHPUT_GOAL}",
            share >= THROUGHPUT_GOAL,
        ),
        Figure("framework / bare max throughput (what the stack costs)", _share(framework, bare)),
        Figure("real / framework max throughput (what the bridge adds)", _share(real, framework)),
        Figure(f"real p99 at {args.rate:g}/s", f"{p99:.1f} ms", f"< {P99_GOAL_MS:g} ms", p99 < 20),
        Figure(
            "real: errors (max + rate runs)",
            str(real.max_run["errors"] + real.rate_run["errors"]),
            "0",
            real.max_run["errors"] + real.rate_run["errors"] == 0,
        ),
        Figure(
            "real: jobs stored / 202s counted (wrk drops its last in-flight answers)",
            f"{real.jobs} / {accepted}",
            f"0 to {args.connections} more",
            0 <= real.jobs - accepted <= args.connections,
        ),
        Figure(
            "load average before / after",
            f"{load_before[0]:.2f} / {load_after[0]:.2f} (1 min)",
        ),
    ]
    print_table("(e) intake goals", figures)
    print(json.dumps({k: vars(v) for k, v in results.items()}))
    return figures


def _share(top: RouteFigures, bottom: RouteFigures) -> str:
    """`top`'s maximum throughput as a share of `bottom`'s, with both rates."""
    rates = top.max_run["rate"], bottom.max_run["rate"]
    return f"{rates[0] / rates[1] if rates[1] else 0.0:.2f} ({rates[0]:.0f} / {rates[1]:.0f} req/s)"


def main() -> int:
    """Entry point."""
    parser = common_args(__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=1000, help="sandbox profiles")
    parser.add_argument("--rate", type=float, default=200.0, help="open-loop requests/s")
    parser.add_argument("--rate-seconds", type=float, default=15.0)
    parser.add_argument("--rate-connections", type=int, default=32)
    parser.add_argument("--max-seconds", type=float, default=10.0)
    parser.add_argument("--warmup-seconds", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--web-workers", type=int, default=None, help="GUNICORN_WORKERS")
    parser.add_argument("--web-threads", type=int, default=None, help="GUNICORN_THREADS")
    parser.add_argument("--server-cores", default="0", help="taskset list for the servers")
    parser.add_argument("--generator-cores", default="1", help="taskset list for the generators")
    parser.add_argument(
        "--store-cores",
        default=None,
        help="taskset list for redis-server and PostgreSQL (default: the server cores)",
    )
    return run_main(run, parser.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
