"""(c) Two workers on one Buffer token under sustained demand: 429s and the budget's share.

The sandbox allows ``--rate-limit`` requests (30 per 5 s by default; Buffer's own is
60/60s) per token and the bridge is told the same (``BUFFER_RATE_LIMIT``). Two
``bridge worker`` processes, each its own Celery node (``--name bench-worker<i>@machine-<i>``,
as on two machines), share the Redis limiter. Every change sets Sunday to a time no
seeded schedule has, so every sync costs exactly one read and one write
(twice ``--changes`` Buffer calls). Figures: 429s in the sandbox's record, and the share of
the budget used under that sustained demand (see `pace`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from changes import send_all
from harness import Figure, InfraError, Stack, StackOptions, common_args, print_table, run_main

from bridge.config import parse_rate_limit

CHANGES = 200
RATE_LIMIT = "30/5s"


def pace(times: list[float], limit: int, period: float) -> dict[str, float]:
    """Calls per second over first..last call, the long-run rate, the most calls in any
    window, and the sustained share of the budget.

    A sliding window lets `limit` calls through at once at the start, so N / span
    overstates the steady pace on short runs; (N - limit) / span understates it (the span
    still holds the first window). Under sustained demand a limiter that wastes nothing
    makes call i + limit exactly `period` after call i (the slot call i used is free again
    then), so the sustained share is period / mean(t[i + limit] - t[i]) over every i that
    has such a successor: the calls per window divided by the limit, whatever the phase
    of the bursts against any window's edges (which a count per fixed window is not).
    """
    times = sorted(times)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    busiest, start = 0, 0
    for end, moment in enumerate(times):
        while times[start] <= moment - period:
            start += 1
        busiest = max(busiest, end - start + 1)
    reuse = [times[i + limit] - times[i] for i in range(len(times) - limit)]
    return {
        "span": span,
        "rate": len(times) / span if span > 0 else 0.0,
        "steady": max(len(times) - limit, 0) / span if span > 0 else 0.0,
        "max_in_window": float(busiest),
        "reuses": float(len(reuse)),
        "reuse": sum(reuse) / len(reuse) if reuse else 0.0,
        "share": period * len(reuse) / sum(reuse) if reuse and sum(reuse) > 0 else 0.0,
    }


def run(args: Any) -> list[Figure]:
    """Start the stack with two workers, send the changes, wait, print the table."""
    limit = parse_rate_limit("--rate-limit", args.rate_limit)
    count, period = args.changes, limit.period
    options = StackOptions.of(
        args, profiles=count, rate_limit=args.rate_limit, workers=args.workers
    )
    with Stack(options) as stack:
        stack.fill_profile_cache()
        # the cache fill used a slot: let the sandbox's and the limiter's windows empty
        stack.wait_idle(period + 0.5)
        stack.clear_buffer_requests()
        profile_ids = stack.profile_ids()[:count]
        changes = [(pid, {"days": "sun", "times": ["06:05"], "mode": "set"}) for pid in profile_ids]
        sent = send_all(stack, changes, threads=4)
        if len(sent["job_ids"]) != count:
            raise InfraError(f"{len(sent['job_ids'])} of {count} accepted: {sent['errors'][:3]}")
        # 2 calls per change at the limit's pace, twice over, and a minute to spare
        timeout = 2 * (2 * count / limit.limit * period) + 60
        finished, counts = stack.wait_jobs(sent["job_ids"], timeout)
        records = stack.buffer_requests(args.dump)
    statuses = Counter(r["status"] for r in records)
    too_many = statuses.get(429, 0)
    answered = [r["time"] for r in records if r["status"] != 429]
    figures_pace = pace(answered, limit.limit, period)
    limit_rate = limit.limit / period
    share = figures_pace["rate"] / limit_rate
    steady_share = figures_pace["steady"] / limit_rate
    figures = [
        Figure("worker processes", f"{args.workers} Celery nodes (pool of 2 each)"),
        Figure("jobs by status", str(counts), "all succeeded", counts.get("succeeded", 0) == count),
        Figure(
            "Buffer calls (by status)",
            f"{len(records)} {dict(statuses)}",
            f"{2 * count} (1 read + 1 write each)",
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
            f"{figures_pace['rate']:.2f} ({share:.1%} of {limit_rate:g}/s)",
        ),
        Figure(
            "  long-run pace (first window's burst excluded)",
            f"{figures_pace['steady']:.2f} ({steady_share:.1%})",
        ),
        Figure(
            f"sustained share: {period:g} s / mean time from a call to the call "
            f"{limit.limit} later ({figures_pace['reuses']:.0f} pairs)",
            f"{figures_pace['share']:.1%} ({figures_pace['reuse']:.3f} s)",
            ">= 95%",
            figures_pace["share"] >= 0.95,
        ),
        Figure(
            f"most calls in any {period:g} s window",
            f"{figures_pace['max_in_window']:.0f}",
            f"<= {limit.limit}",
            figures_pace["max_in_window"] <= limit.limit,
        ),
        Figure("time until all jobs finished", f"{finished - sent['started']:.1f} s"),
    ]
    print_table(
        f"(c) {count} changes on {count} profiles, {args.rate_limit}, {args.workers} workers",
        figures,
    )
    return figures


def main() -> int:
    """Entry point."""
    parser = common_args(__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="bridge worker processes")
    parser.add_argument("--changes", type=int, default=CHANGES, help="changes, one per profile")
    parser.add_argument(
        "--rate-limit", default=RATE_LIMIT, help="the sandbox's and the bridge's limit"
    )
    return run_main(run, parser.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
