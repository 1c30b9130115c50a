"""(c) Two workers under a 30 per 5 s limit, 200 changes on 200 profiles: 429s and pace.

The sandbox allows 30 requests per 5 s per token and the bridge is told the same
(``BUFFER_RATE_LIMIT=30/5s``). Two ``bridge worker`` processes share the Redis
limiter. Every change sets Sunday to a time no seeded schedule has, so every
sync costs exactly one read and one write (400 Buffer calls in all). Figures:
429s in the sandbox's record, and calls per second over the busy window (first
to last Buffer call) against the limit.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from changes import send_all
from harness import Figure, InfraError, Stack, StackOptions, common_args, print_table, run_main

PROFILES = 200
LIMIT, PERIOD = 30, 5.0
JOBS_TIMEOUT = 300.0


def pace(times: list[float]) -> dict[str, float]:
    """Calls per second over first..last call, and the long-run rate (first window excluded).

    A sliding window lets `LIMIT` calls through at once at the start, so N / span
    overstates the steady pace on short runs; (N - LIMIT) / span does not.
    """
    times = sorted(times)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    if span <= 0:
        return {"span": 0.0, "rate": 0.0, "steady": 0.0, "max_in_window": float(len(times))}
    busiest, start = 0, 0
    for end, moment in enumerate(times):
        while times[start] <= moment - PERIOD:
            start += 1
        busiest = max(busiest, end - start + 1)
    return {
        "span": span,
        "rate": len(times) / span,
        "steady": max(len(times) - LIMIT, 0) / span,
        "max_in_window": float(busiest),
    }


def run(args: Any) -> list[Figure]:
    """Start the stack with two workers, send the changes, wait, print the table."""
    options = StackOptions(
        profiles=PROFILES,
        rate_limit=f"{LIMIT}/{PERIOD:g}s",
        workers=args.workers,
        database_url=args.database_url,
        keep=args.keep,
    )
    with Stack(options) as stack:
        stack.fill_profile_cache()
        # the cache fill used a slot: let the sandbox's and the limiter's windows empty
        stack.wait_idle(PERIOD + 0.5)
        stack.clear_buffer_requests()
        profile_ids = stack.profile_ids()[:PROFILES]
        changes = [(pid, {"days": "sun", "times": ["06:05"], "mode": "set"}) for pid in profile_ids]
        sent = send_all(stack, changes, threads=4)
        if len(sent["job_ids"]) != PROFILES:
            raise InfraError(f"{len(sent['job_ids'])} of {PROFILES} accepted: {sent['errors'][:3]}")
        finished, counts = stack.wait_jobs(sent["job_ids"], JOBS_TIMEOUT)
        records = stack.buffer_requests(args.dump)
    statuses = Counter(r["status"] for r in records)
    too_many = statuses.get(429, 0)
    answered = [r["time"] for r in records if r["status"] != 429]
    figures_pace = pace(answered)
    limit_rate = LIMIT / PERIOD
    share = figures_pace["rate"] / limit_rate
    steady_share = figures_pace["steady"] / limit_rate
    figures = [
        Figure("worker processes", f"{args.workers} (pool of 2 each)"),
        Figure(
            "jobs by status", str(counts), "all succeeded", counts.get("succeeded", 0) == PROFILES
        ),
        Figure(
            "Buffer calls (by status)",
            f"{len(records)} {dict(statuses)}",
            f"{2 * PROFILES} (1 read + 1 write each)",
        ),
        Figure("429s from Buffer", str(too_many), "0", too_many == 0),
        Figure(
            "  429s on reads / writes",
            f"{sum(1 for r in records if r['status'] == 429 and r['method'] == 'GET')} / "
            f"{sum(1 for r in records if r['status'] == 429 and r['method'] == 'POST')}",
        ),
        Figure("busy window (first..last call)", f"{figures_pace['span']:.1f} s"),
        Figure(
            "calls/s over the busy window",
            f"{figures_pace['rate']:.2f} ({share:.0%} of {limit_rate:g}/s)",
            ">= 85% of the limit",
            share >= 0.85,
        ),
        Figure(
            "  long-run pace (first window's burst excluded)",
            f"{figures_pace['steady']:.2f} ({steady_share:.0%})",
            ">= 85%",
            steady_share >= 0.85,
        ),
        Figure(
            "most calls in any 5 s window",
            f"{figures_pace['max_in_window']:.0f}",
            f"<= {LIMIT}",
            figures_pace["max_in_window"] <= LIMIT,
        ),
        Figure("time until all jobs finished", f"{finished - sent['started']:.1f} s"),
    ]
    print_table(
        f"(c) {PROFILES} changes on {PROFILES} profiles, {LIMIT}/{PERIOD:g}s, "
        f"{args.workers} workers",
        figures,
    )
    return figures


def main() -> int:
    """Entry point."""
    parser = common_args(__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="bridge worker processes")
    return run_main(run, parser.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
