"""(b) 500 changes on 10 profiles as fast as the API takes them: coalescing and accept rate.

A few client threads send ``PATCH /v1/profiles/<id>/schedules`` (a mix of
``set`` and ``add`` on various days) round-robin over 10 profiles. Figures: the
API's accept rate and 202 latency, the time until every job is finished, and
the Buffer calls per profile counted by the sandbox.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from typing import Any

import requests
from harness import (
    Figure,
    InfraError,
    Stack,
    StackOptions,
    common_args,
    median,
    percentile,
    print_table,
    run_main,
)

PROFILES = 10
CHANGES = 500
THREADS = 4
SEND_TIMEOUT = 120.0
JOBS_TIMEOUT = 300.0
DAYS = ("weekdays", "weekends", "mon", "tue-thu", "daily", "fri", "sat")
# a small pool keeps every day well under Buffer's per-day limit however many adds land
TIMES = ("07:30", "08:00", "09:15", "12:00", "12:30", "15:45", "18:00", "21:10")


def make_changes(
    profile_ids: list[str], count: int, seed: int = 3
) -> list[tuple[str, dict[str, Any]]]:
    """`count` (profile, PATCH body) pairs, round-robin over the profiles."""
    rng = random.Random(seed)
    changes = []
    for number in range(count):
        mode = rng.choice(("set", "add"))
        times = sorted(rng.sample(TIMES, rng.randint(1, 3)))
        body = {"days": rng.choice(DAYS), "times": times, "mode": mode}
        changes.append((profile_ids[number % len(profile_ids)], body))
    return changes


def send_all(
    stack: Stack, changes: list[tuple[str, dict[str, Any]]], threads: int
) -> dict[str, Any]:
    """Send every change from `threads` threads; latencies, statuses, job ids, timings."""
    lock = threading.Lock()
    cursor = iter(range(len(changes)))
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    job_ids: list[int] = []
    errors: list[str] = []
    deadline = time.monotonic() + SEND_TIMEOUT

    def worker() -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {stack.token}"
        try:
            while time.monotonic() < deadline:
                with lock:
                    index = next(cursor, None)
                if index is None:
                    return
                profile_id, body = changes[index]
                url = f"{stack.web_url}/v1/profiles/{profile_id}/schedules"
                started = time.perf_counter()
                try:
                    response = session.patch(url, json=body, timeout=30)
                except requests.RequestException as error:
                    with lock:
                        errors.append(str(error))
                    continue
                took = time.perf_counter() - started
                with lock:
                    statuses[response.status_code] += 1
                    if response.status_code == 202:
                        latencies.append(took)
                        job_ids.append(int(response.json()["job_id"]))
                    elif len(errors) < 5:
                        errors.append(f"{response.status_code} {response.text[:200]}")
        finally:
            session.close()

    pool = [threading.Thread(target=worker, name=f"client{i}") for i in range(threads)]
    started = time.monotonic()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(SEND_TIMEOUT + 35)
    sent = time.monotonic()
    return {
        "started": started,
        "sent": sent,
        "latencies": latencies,
        "statuses": statuses,
        "job_ids": job_ids,
        "errors": errors,
    }


def calls_per_profile(records: list[dict[str, Any]]) -> dict[str, Counter[str]]:
    """profile id -> Counter of 'read' / 'write' / 'other' Buffer calls."""
    found: dict[str, Counter[str]] = {}
    for record in records:
        parts = record["path"].split("/")  # '', '1', 'profiles', id, 'schedules(.json)', ...
        if len(parts) < 5 or parts[2] != "profiles":
            key, kind = "(account)", "other"
        else:
            key = parts[3]
            kind = "write" if record["path"].endswith("update.json") else "read"
        found.setdefault(key, Counter())[kind] += 1
    return found


def run(args: Any) -> list[Figure]:
    """Start the stack, send the changes, wait for the jobs, print the table."""
    options = StackOptions.of(
        args, profiles=PROFILES, rate_limit=args.rate_limit, worker_concurrency=args.concurrency
    )
    with Stack(options) as stack:
        stack.fill_profile_cache()
        profile_ids = stack.profile_ids()[:PROFILES]
        changes = make_changes(profile_ids, CHANGES)
        sent = send_all(stack, changes, args.threads)
        if not sent["job_ids"]:
            raise InfraError(f"no change was accepted: {sent['errors'][:3]}")
        finished, counts = stack.wait_jobs(sent["job_ids"], JOBS_TIMEOUT)
        records = stack.buffer_requests(args.dump)
    per_profile = calls_per_profile(records)
    totals = {pid: sum(c.values()) for pid, c in per_profile.items()}
    worst = max(totals.values(), default=0)
    send_seconds = sent["sent"] - sent["started"]
    accepted = len(sent["job_ids"])
    rate_limited = sum(1 for r in records if r["status"] == 429)
    figures = [
        Figure(
            "changes sent / accepted (202)",
            f"{CHANGES} / {accepted}",
            f"{CHANGES} accepted",
            accepted == CHANGES,
        ),
        Figure("other answers", str(dict(sent["statuses"] - Counter({202: accepted}))) or "-"),
        Figure("API accept rate", f"{accepted / send_seconds:.0f} req/s ({args.threads} threads)"),
        Figure(
            "202 latency p50 / p95",
            f"{median(sent['latencies']) * 1000:.1f} / "
            f"{percentile(sent['latencies'], 95) * 1000:.1f} ms",
        ),
        Figure("time to send all", f"{send_seconds:.2f} s"),
        Figure("time until all jobs finished", f"{finished - sent['started']:.2f} s"),
        Figure(
            "jobs by status", str(counts), "all succeeded", counts.get("succeeded", 0) == accepted
        ),
        Figure(
            "Buffer calls in total",
            str(len(records)),
            f"<= {4 * PROFILES} (1 per change: {CHANGES})",
            len(records) <= 4 * PROFILES,
        ),
        Figure("Buffer calls per profile (max)", str(worst), "<= 4", worst <= 4),
        Figure(
            "  per profile: reads+writes",
            " ".join(f"{c['read']}+{c['write']}" for c in per_profile.values()),
        ),
        Figure("429s from Buffer", str(rate_limited), "0", rate_limited == 0),
    ]
    if sent["errors"]:
        figures.append(Figure("first errors", "; ".join(sent["errors"][:3])))
    print_table(f"(b) {CHANGES} changes on {PROFILES} profiles", figures)
    return figures


def main() -> int:
    """Entry point."""
    parser = common_args(__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=THREADS, help="client threads")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes in the pool")
    parser.add_argument(
        "--rate-limit", default="60/60s", help="sandbox limit and BUFFER_RATE_LIMIT (Buffer's)"
    )
    return run_main(run, parser.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
