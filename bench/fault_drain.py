"""(f) The drain under Buffer faults: 240 changes over 20 profiles with 40 % of calls failing.

A stack like the fault tests' "one machine" shape (tests/test_faults.py: one web process,
one worker, beat for the reconciler, SQLite, the fault tests' short timings), the sandbox
failing 20 % of calls with 500, 10 % with 429, dropping 5 % and answering 5 % past the
client's read timeout. One client sends the changes (PATCH, round-robin over the
profiles) while syncs run. Figures: the drain (first change to last job finished), the
Buffer calls, the faults injected and the 429s from the sandbox's own limit (must be 0).

It then explains the drain from the record rather than from a guess: for every profile
the gaps between its Buffer calls (and what the call before each gap met), and for the
slowest jobs their attempts. `--env KEY=VALUE` (repeatable) sets a bridge setting, and
`--compare KEY=VALUE` runs the whole thing a second time with that setting too, so a
before/after pair comes from one run under one load.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import random
import re
import time
from collections import Counter
from typing import Any

import requests
from harness import BIN, Figure, InfraError, Stack, StackOptions, common_args, print_table, run_main
from sqlalchemy import text

PROFILES = 20
CHANGES = 240
PACE = 0.005  # seconds between changes, as in the fault tests: syncs run while changes arrive
DRAIN_TIMEOUT = 300.0
FAULTS = {
    "error_rate": 0.20,
    "rate_429": 0.10,
    "drop_rate": 0.05,
    "slow_rate": 0.05,
    "slow_seconds": 2.5,  # past the client's read timeout (BUFFER_TIMEOUT=2,1.5)
}
# the fault tests' timings (tests/processes.py): a drain of seconds, not of minutes
FAULT_TEST_ENV = {
    "BUFFER_TIMEOUT": "2,1.5",
    "SYNC_MAX_ATTEMPTS": "40",
    "SYNC_BACKOFF_MAX": "2s",
    "RECONCILE_INTERVAL": "2s",
    "RECONCILE_AFTER": "3s",
}
DAYS = ("mon", "tue", "wed", "weekends", "weekdays", "fri", "sun")
TIMES = ("07:30", "08:00", "09:15", "12:00", "15:45", "18:00", "21:10")
PROFILE_IN_PATH = re.compile(r"/profiles/([0-9a-f]{24})")


def make_changes(profile_ids: list[str], count: int, seed: int) -> list[tuple[str, dict[str, Any]]]:
    """`count` (profile, PATCH body) pairs, round-robin over the profiles."""
    rng = random.Random(seed)
    return [
        (
            profile_ids[n % len(profile_ids)],
            {
                "days": rng.choice(DAYS),
                "times": sorted(rng.sample(TIMES, rng.randint(1, 2))),
                "mode": rng.choice(("set", "add")),
            },
        )
        for n in range(count)
    ]


def _stamp(value: Any) -> float:
    """A job row's timestamp (naive UTC, as stored) as unix seconds."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return float(value.timestamp())


def explain(records: list[dict[str, Any]], jobs: list[Any], started_unix: float) -> None:
    """Print the largest gaps between one profile's Buffer calls and the slowest jobs."""
    by_profile: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        found = PROFILE_IN_PATH.search(record["path"])
        if found:
            by_profile.setdefault(found.group(1), []).append(record)
    gaps = []
    for profile_id, calls in by_profile.items():
        calls.sort(key=lambda r: r["time"])
        for before, after in itertools.pairwise(calls):
            met = before["fault"] or str(before["status"])
            gaps.append((after["time"] - before["time"], profile_id, met, before, after))
    gaps.sort(key=lambda g: g[0], reverse=True)
    print("\nlargest gaps between one profile's Buffer calls (t from the first change):")
    for gap, profile_id, met, before, after in gaps[:8]:
        print(
            f"  {gap:5.1f} s  {profile_id[-6:]}  t={before['time'] - started_unix:5.1f} "
            f"{before['method']} {before['path'].rsplit('/', 1)[-1]} -> {met};  next "
            f"t={after['time'] - started_unix:5.1f} {after['method']} -> "
            f"{after['fault'] or after['status']}"
        )
    met_before_long = Counter(g[2] for g in gaps if g[0] > 20)
    print(f"  gaps over 20 s: {sum(met_before_long.values())}, after: {dict(met_before_long)}")
    slow = sorted(jobs, key=lambda j: _stamp(j.finished_at) - _stamp(j.created_at), reverse=True)
    print("slowest jobs (created -> finished, attempts, last error):")
    for job in slow[:5]:
        print(
            f"  job {job.id} {job.profile_id[-6:]} "
            f"{_stamp(job.created_at) - started_unix:5.1f} -> "
            f"{_stamp(job.finished_at) - started_unix:5.1f} s, attempts {job.attempts}, "
            f"{job.error_status} {job.error_message}"
        )


def one_run(args: argparse.Namespace, label: str, extra: dict[str, str]) -> list[Figure]:
    """One stack, one run of the changes; its figures (printed)."""
    env = {**FAULT_TEST_ENV, **extra}
    options = StackOptions(
        profiles=PROFILES,
        rate_limit=args.rate_limit,
        workers=1,
        worker_concurrency=args.concurrency,
        database_url=args.database_url,
        keep=args.keep,
        extra_env=env,
    )
    with Stack(options) as stack:
        stack.spawn(
            "beat",
            [str(BIN / "bridge"), "beat", "--schedule", str(stack.dir / "celerybeat-schedule")],
            stack.env(BEAT_HEARTBEAT_FILE=str(stack.dir / "beat.heartbeat")),
        )
        stack.fill_profile_cache()
        profile_ids = stack.profile_ids()[:PROFILES]
        stack.sandbox("PUT", "faults", json=dict.fromkeys(FAULTS, 0) if args.no_faults else FAULTS)
        load_before = os.getloadavg()
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {stack.token}"
        job_ids: list[int] = []
        started, started_unix = time.monotonic(), time.time()
        for profile_id, body in make_changes(profile_ids, CHANGES, args.seed):
            answer = session.patch(
                f"{stack.web_url}/v1/profiles/{profile_id}/schedules", json=body, timeout=30
            )
            if answer.status_code != 202:
                raise InfraError(f"PATCH: {answer.status_code} {answer.text[:200]}")
            job_ids.append(int(answer.json()["job_id"]))
            time.sleep(PACE)
        sent = time.monotonic() - started
        finished, counts = stack.wait_jobs(job_ids, DRAIN_TIMEOUT)
        drained = finished - started
        load_after = os.getloadavg()
        stack.sandbox("PUT", "faults", json=dict.fromkeys(FAULTS, 0))
        records = [r for r in stack.buffer_requests(args.dump) if r["time"] >= started_unix]
        with stack._engine().connect() as conn:
            jobs = list(
                conn.execute(
                    text("SELECT * FROM jobs WHERE id BETWEEN :a AND :b"),
                    {"a": min(job_ids), "b": max(job_ids)},
                )
            )
        session.close()
    injected = Counter(r["fault"] for r in records if r["fault"])
    limit_429 = sum(1 for r in records if r["status"] == 429 and not r["fault"])
    attempts = Counter(int(j.attempts) for j in jobs)
    figures = [
        Figure("settings", " ".join(f"{k}={v}" for k, v in extra.items()) or "(defaults)"),
        Figure("changes sent", f"{len(job_ids)} in {sent:.1f} s"),
        Figure("drain (first change -> last job)", f"{drained:.1f} s", "< 30 s", drained < 30),
        Figure("jobs by status", str(counts), "all succeeded", counts.get("succeeded") == CHANGES),
        Figure("job attempts", str(dict(sorted(attempts.items())))),
        Figure("Buffer calls", str(len(records))),
        Figure("faults injected", str(dict(injected))),
        Figure("429s from Buffer's own limit", str(limit_429), "0", limit_429 == 0),
        Figure("load average before / after", f"{load_before[0]:.2f} / {load_after[0]:.2f}"),
    ]
    faults = "Buffer healthy" if args.no_faults else "40 % faults"
    title = f"(f) {CHANGES} changes on {PROFILES} profiles, {faults}, limit {args.rate_limit}"
    print_table(f"{title}: {label}", figures)
    explain(records, jobs, started_unix)
    return figures


def _pairs(values: list[str]) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, setting = value.partition("=")
        if not sep:
            raise SystemExit(f"expected KEY=VALUE, got {value!r}")
        pairs[key] = setting
    return pairs


def run(args: argparse.Namespace) -> list[Figure]:
    """The run, and with --compare the same again with the compared settings."""
    base = _pairs(args.env)
    figures = one_run(args, "as configured", base)
    if args.compare:
        figures += one_run(args, "compared", {**base, **_pairs(args.compare)})
    return figures


def main() -> int:
    """Entry point."""
    parser = common_args(__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes in the pool")
    parser.add_argument(
        "--rate-limit", default="6000/60s", help="sandbox limit and BUFFER_RATE_LIMIT (Buffer's)"
    )
    parser.add_argument("--seed", type=int, default=7, help="fault draws and change bodies")
    parser.add_argument("--no-faults", action="store_true", help="the same run, Buffer healthy")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE bridge setting")
    parser.add_argument(
        "--compare", action="append", default=[], help="KEY=VALUE: run again with this too"
    )
    return run_main(run, parser.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
