"""(e') Intake, CPU per change: what one accepted change costs the web process itself.

bench/intake.py measures throughput and latency under load, where the machine's other
work and the threads' contention for the GIL make the figures move by a quarter from
one run to the next. This one measures the code path alone. One process builds the app
on a private redis-server, the sandbox and a store, fills the profile cache and sends
`PATCH /v1/profiles/<id>/schedules` through Flask's test client, one at a time, as
bench/intake.py's real route does: a bearer token, 1,000 profiles in turn, small `add`
changes, JSON access logs at INFO, written to a file. It reports the process's CPU time
and the wall time per change, as the median of `--rounds` rounds of `--changes`. The
same PATCH against a bare Flask route in the same process is the floor. Nothing else
runs in the process; PostgreSQL's and Redis's own CPU is not counted.

    flock -x /work/heavy.lock .venv/bin/python bench/intake_cpu.py [--changes 1000]
        [--rounds 5] [--profiles 1000] [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

from flask import Flask
from harness import Figure, Stack, StackOptions, common_args, print_table, run_main
from intake import CLIENT_RATE_LIMIT, bodies

from bridge import create_app, snapshots
from bridge.config import load_settings
from bridge.services import Services


class StoreStack(Stack):
    """Redis, sandbox and a migrated store with one client; no web server, no workers."""

    def start(self) -> None:
        self._start_redis()
        self._start_sandbox()
        self.bridge("db", "upgrade")
        self.token = self.bridge("clients", "create", "bench").strip().splitlines()[-1]


@contextlib.contextmanager
def stderr_to(path: str) -> Iterator[None]:
    """File descriptor 2 into `path` (the access log), restored after."""
    saved = os.dup(2)
    with open(path, "ab") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def per_change(send: Callable[[int], None], changes: int, rounds: int) -> tuple[float, float]:
    """Median (CPU ms, wall ms) per call of `send` over `rounds` rounds of `changes`."""
    for number in range(min(200, changes)):  # warm: pools, caches, the client's entry
        send(number)
    cpu, wall = [], []
    for _ in range(rounds):
        started_cpu, started_wall = time.process_time(), time.perf_counter()
        for number in range(changes):
            send(number)
        cpu.append((time.process_time() - started_cpu) * 1000 / changes)
        wall.append((time.perf_counter() - started_wall) * 1000 / changes)
    return statistics.median(cpu), statistics.median(wall)


def bare_app() -> Flask:
    """The bare route of bench/bare_app.py, in this process."""
    app = Flask("bare")

    @app.patch("/v1/profiles/<ref>/schedules")
    def accept(ref: str) -> tuple[dict[str, object], int]:
        return {"status": "queued", "profile_id": ref}, 202

    return app


def run(args: Any) -> list[Figure]:
    options = StackOptions(
        profiles=args.profiles, rate_limit="600/60s", database_url=args.database_url
    )
    with StoreStack(options) as stack:
        env = stack.env(LOG_FORMAT="json", LOG_LEVEL="INFO", CLIENT_RATE_LIMIT=CLIENT_RATE_LIMIT)
        services = Services(load_settings(env))
        app = create_app(services.settings, services)
        snapshots.take_account(services, "default")
        ids = stack.profile_ids()
        texts = bodies()
        headers = {"Authorization": f"Bearer {stack.token}", "Content-Type": "application/json"}
        real, bare = app.test_client(), bare_app().test_client()

        def send(client: Any) -> Callable[[int], None]:
            def one(number: int) -> None:
                path = f"/v1/profiles/{ids[number % len(ids)]}/schedules"
                answer = client.patch(path, data=texts[number % len(texts)], headers=headers)
                if answer.status_code != 202:
                    raise RuntimeError(f"{answer.status_code}: {answer.get_data(as_text=True)}")

            return one

        with stderr_to(str(stack.dir / "access.log")):
            real_cpu, real_wall = per_change(send(real), args.changes, args.rounds)
            bare_cpu, bare_wall = per_change(send(bare), args.changes, args.rounds)
        services.close()
    store = "PostgreSQL" if args.database_url else "SQLite"
    figures = [
        Figure(f"real: CPU / wall per change ({store})", f"{real_cpu:.2f} / {real_wall:.2f} ms"),
        Figure("bare route: CPU / wall per request", f"{bare_cpu:.2f} / {bare_wall:.2f} ms"),
        Figure("load average (1 min) after", f"{os.getloadavg()[0]:.2f}"),
    ]
    print_table("(e') intake, CPU per change in one process", figures)
    return figures


def main() -> int:
    parser = common_args(__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=1000, help="changes per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profiles", type=int, default=1000, help="sandbox profiles")
    return run_main(run, parser.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
