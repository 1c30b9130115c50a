"""(d) Sync latency and coalescing: a lone change's 202 -> Buffer write, and a burst's cost.

Sandbox and BUFFER_RATE_LIMIT at Buffer's 60/60 s, idle workers. Two phases on one stack:

1. burst: 60 PATCHes on one profile spread over ~2 s from one client; figure: the
   Buffer calls that profile cost (goal <= 4) and the time until its jobs finished;
2. lone changes: `--lone` PATCHes, each on a profile of its own (so no change folds
   into another's sync), one every 0.3 s; figure: from the client receiving the 202 to
   the sandbox recording that profile's write (`POST .../schedules/update.json`),
   p50 / p99 (goals < 100 ms / < 250 ms).

The burst runs first so the lone changes' calls (2 each) and its own stay inside one
60/60 s window of the limiter (1 + 4 + 2 x 20 < 60): nothing here waits on the limiter.
"""

from __future__ import annotations

import time
from typing import Any

import harness
import requests
from changes import calls_per_profile

BURST = 60
BURST_SECONDS = 2.0
LONE = 20
LONE_GAP = 0.3
JOBS_TIMEOUT = 120.0
TIMES = ("07:30", "08:00", "09:15", "12:00", "12:30", "15:45", "18:00", "21:10")


def patch(
    session: requests.Session, stack: harness.Stack, profile_id: str, body: dict[str, Any]
) -> int:
    """One PATCH; its job id (InfraError unless 202)."""
    url = f"{stack.web_url}/v1/profiles/{profile_id}/schedules"
    response = session.patch(url, json=body, timeout=30)
    if response.status_code != 202:
        raise harness.InfraError(
            f"PATCH {profile_id}: {response.status_code} {response.text[:200]}"
        )
    return int(response.json()["job_id"])


def burst(stack: harness.Stack, session: requests.Session, profile_id: str) -> dict[str, Any]:
    """BURST changes on one profile, evenly over BURST_SECONDS."""
    started = time.monotonic()
    job_ids = []
    for number in range(BURST):
        due = started + number * BURST_SECONDS / BURST
        time.sleep(max(0.0, due - time.monotonic()))
        body = {"days": "mon", "times": [TIMES[number % len(TIMES)]], "mode": "add"}
        job_ids.append(patch(session, stack, profile_id, body))
    sent = time.monotonic() - started
    finished, counts = stack.wait_jobs(job_ids, JOBS_TIMEOUT)
    return {"sent": sent, "finished": finished - started, "counts": counts}


def lone(stack: harness.Stack, session: requests.Session, profile_ids: list[str]) -> list[float]:
    """One change per profile; seconds from each 202 to the sandbox recording its write."""
    accepted: dict[str, float] = {}
    job_ids = []
    for number, profile_id in enumerate(profile_ids):
        body = {"days": "sun", "times": [f"{(number % 12) + 6:02d}:17"], "mode": "set"}
        job_ids.append(patch(session, stack, profile_id, body))
        accepted[profile_id] = time.time()
        time.sleep(LONE_GAP)
    stack.wait_jobs(job_ids, JOBS_TIMEOUT)
    writes = {
        r["path"].split("/")[3]: r["time"]
        for r in stack.buffer_requests()
        if r["path"].endswith("update.json")
    }
    missing = [p for p in profile_ids if p not in writes]
    if missing:
        raise harness.InfraError(f"no Buffer write recorded for {missing[:3]}")
    return [writes[p] - accepted[p] for p in profile_ids]


def run(args: Any) -> list[harness.Figure]:
    """Start the stack, run both phases, print the table."""
    options = harness.StackOptions.of(
        args, profiles=args.lone + 1, rate_limit="60/60s", extra_env=dict(args.env or [])
    )
    with harness.Stack(options) as stack:
        stack.fill_profile_cache()
        ids = stack.profile_ids()
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {stack.token}"
        try:
            burst_run = burst(stack, session, ids[0])
            burst_calls = calls_per_profile(stack.buffer_requests(args.dump)).get(ids[0], {})
            stack.clear_buffer_requests()
            time.sleep(0.5)  # idle workers again
            delays = lone(stack, session, ids[1 : 1 + args.lone])
        finally:
            session.close()
    p50, p99 = harness.median(delays), harness.percentile(delays, 99)
    calls = sum(burst_calls.values())
    figures = [
        harness.Figure(
            f"lone change: 202 -> Buffer write p50 ({args.lone} changes)",
            f"{p50 * 1000:.0f} ms",
            "< 100 ms",
            p50 < 0.1,
        ),
        harness.Figure(
            "lone change: 202 -> Buffer write p99", f"{p99 * 1000:.0f} ms", "< 250 ms", p99 < 0.25
        ),
        harness.Figure(
            "lone change: min / max", f"{min(delays) * 1000:.0f} / {max(delays) * 1000:.0f} ms"
        ),
        harness.Figure(
            f"burst of {BURST} on one profile in {burst_run['sent']:.2f} s: Buffer calls",
            f"{calls} ({burst_calls.get('read', 0)} reads + {burst_calls.get('write', 0)} writes)",
            "<= 4",
            calls <= 4,
        ),
        harness.Figure("burst: all jobs finished after", f"{burst_run['finished']:.2f} s"),
        harness.Figure("burst: jobs by status", str(burst_run["counts"])),
    ]
    harness.print_table("(d) sync latency and coalescing", figures)
    return figures


def main() -> int:
    """Entry point."""
    parser = harness.common_args(__doc__.splitlines()[0])
    parser.add_argument("--lone", type=int, default=LONE, help="lone changes (one profile each)")
    parser.add_argument(
        "--env", nargs=2, action="append", metavar=("NAME", "VALUE"), help="extra bridge env"
    )
    return harness.run_main(run, parser.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
