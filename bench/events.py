"""Outbound events: throughput to a local receiver, and job success → delivery delay.

Runs in one process: a private redis-server, the Buffer sandbox, a SQLite store, a real
Celery worker (thread pool) sending deliveries, and a local receiver that verifies every
signature with `standardwebhooks`. Prints:
- events/s delivered: N events stored at once (one transaction each), until all arrived;
- delay from a job's success (`finished_at`, set in the commit that stores the event) to
  its `job.succeeded` event arriving, p50/p99, with idle workers (one change at a time,
  synced by the worker).

    .venv/bin/python bench/events.py [--events 500] [--jobs 50] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from standardwebhooks.webhooks import Webhook

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bridge import auth, events, jobs, models, profiles, schedules, snapshots
from bridge import sandbox as sim
from bridge.config import load_settings
from bridge.events import subscriptions
from bridge.harness import WaitTimeout, wait_until
from bridge.harness.redis_server import RedisServer
from bridge.migrate import upgrade
from bridge.services import Services

PROFILE = "4eb854340acb04e870000010"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-events-"))
    redis_server = RedisServer(work)
    redis_server.start()
    sandbox = sim.start(sim.SandboxConfig(seed=7, profiles=5, rate_limit=(100000, 60.0)))
    arrivals: dict[str, float] = {}
    secret_box: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            event = Webhook(secret_box["secret"]).verify(raw, headers)
            arrivals[str(event["id"])] = time.time()
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a: Any) -> None:
            return None

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        url = f"sqlite:///{work / 'bridge.db'}"
        upgrade(url)
        settings = load_settings(
            {
                "DATABASE_URL": url,
                "REDIS_URL": redis_server.url,
                "BUFFER_API_URL": sandbox.url,
                "BUFFER_ACCESS_TOKEN": "sandbox-token",
                "OUTBOUND_ALLOW_PRIVATE": "true",
                "SYNC_SETTLE": "0",
                "BUFFER_RATE_LIMIT": "100000/60s",  # the bridge's own limiter, not the point here
                "LOG_LEVEL": "WARNING",
                "LOG_FORMAT": "text",
            }
        )
        services = Services(settings)
        snapshots.take_account(services, "default")
        with services.db.session() as session:
            client, _token = auth.create_client(session, "bench")
        made = subscriptions.create(
            services, client, f"http://127.0.0.1:{receiver.server_port}/", ["*"], None
        )
        secret_box["secret"] = made.secret
        from celery.contrib.testing.worker import start_worker

        from tasks.celery_app import celery, use

        use(settings, services)
        with start_worker(
            celery,
            pool="threads",
            concurrency=args.concurrency,
            perform_ping_check=False,
            queues=["bridge"],
            loglevel="WARNING",
        ):
            time.sleep(1.0)
            # throughput
            started = time.time()
            ids = []
            for n in range(args.events):
                with services.db.session() as session:
                    event = events.emit(
                        session, events.SCHEDULE_CHANGED, "default", PROFILE, {"n": n}
                    )
                    ids.append(event.uid)
            stored = time.time() - started
            _wait(lambda: all(i in arrivals for i in ids), 120)
            took = max(arrivals[i] for i in ids) - started
            # delay with idle workers
            delays = []
            for n in range(args.jobs):
                with services.db.session() as session:
                    found = profiles.resolve(session, PROFILE)
                    op = schedules.Operation("set", days=("wed",), times=(f"10:{n % 60:02d}",))
                job, _ = jobs.submit(
                    services, jobs.NewJob(found, op, origin=jobs.Provenance("rest"))
                )
                _wait(lambda job_id=job.id: _finished(services, job_id), 30)
                with services.db.session() as session:
                    done = session.get(models.Job, job.id)
                    assert done is not None and done.finished_at is not None
                    finished = done.finished_at.timestamp()
                    uid = (
                        session.query(models.Event)
                        .filter(models.Event.type == events.JOB_SUCCEEDED)
                        .order_by(models.Event.id.desc())
                        .first()
                        .uid
                    )  # type: ignore[union-attr]
                try:
                    _wait(lambda uid=uid: uid in arrivals, 30)
                except SystemExit:
                    with services.db.session() as session:
                        rows = session.query(models.EventDelivery).join(models.Event)
                        for row in rows.filter(models.Event.uid == uid):
                            print(
                                "stuck:", row.status, row.attempts, row.last_status, row.last_error
                            )
                    raise
                delays.append((arrivals[uid] - finished) * 1000)
                time.sleep(0.05)
        print(
            f"events delivered: {args.events} in {took:.2f}s = {args.events / took:.0f} events/s "
            f"(stored at {args.events / stored:.0f}/s; {args.concurrency} worker threads, SQLite)"
        )
        print(
            f"job success -> delivery (idle workers, n={len(delays)}): "
            f"p50 {statistics.median(delays):.1f} ms, p99 {percentile(delays, 0.99):.1f} ms"
        )
        services.close()
    finally:
        receiver.shutdown()
        sandbox.stop()
        redis_server.stop()
        shutil.rmtree(work, ignore_errors=True)


def _finished(services: Services, job_id: int) -> bool:
    with services.db.session() as session:
        done = session.get(models.Job, job_id)
        return done is not None and done.finished_at is not None


def _wait(check: Any, timeout: float) -> None:
    try:
        wait_until(check, timeout, f"deliveries ({check})", interval=0.005)
    except WaitTimeout as error:
        raise SystemExit(str(error)) from None


if __name__ == "__main__":
    main()
