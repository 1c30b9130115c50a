"""(a) Snapshot of 1,000 profiles: Buffer calls per account and wall time, on v1 and GraphQL.

Triggers ``POST /v1/snapshots`` against a sandbox with one account of 1,000
profiles and waits for the job. The first run fills an empty cache and stores
1,000 snapshots; the second finds nothing changed (the hourly case). Then the same
with the account read through Buffer's GraphQL API (a key beside the token), its
1,000 channels in 3 organizations: the goal is 4 GraphQL calls or fewer.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from harness import Figure, InfraError, Stack, StackOptions, common_args, print_table, run_main

PROFILES = 1000
JOB_TIMEOUT = 180.0


def one_snapshot(stack: Stack) -> dict[str, Any]:
    """POST /v1/snapshots, wait for its job; the timings and the Buffer calls it cost."""
    stack.clear_buffer_requests()
    started = time.perf_counter()
    response = stack.api("POST", "/v1/snapshots", json={})
    call_time = time.perf_counter() - started
    if response.status_code != 202:
        raise InfraError(f"POST /v1/snapshots: {response.status_code} {response.text[:300]}")
    job = stack.wait_job(response.json()["job_id"], JOB_TIMEOUT)
    wall = time.perf_counter() - started
    calls = stack.buffer_requests()
    return {
        "call_time": call_time,
        "wall": wall,
        "job": job,
        "calls": len(calls),
        "by_path": Counter(f"{c['method']} {c['path']}" for c in calls),
        "buffer_seconds": sum(c["duration"] for c in calls),
    }


ORGANIZATIONS = 3
GRAPHQL_GOAL = 4  # Organizations + one Channels per organization


def snapshots_of(options: StackOptions) -> tuple[int, int, dict[str, Any], dict[str, Any]]:
    """(accounts, profiles, cold run, warm run) of one stack."""
    with Stack(options) as stack:
        accounts = len(stack.sandbox("GET", "accounts"))
        profiles = len(stack.profile_ids())
        return accounts, profiles, one_snapshot(stack), one_snapshot(stack)


def run(args: Any) -> list[Figure]:
    """Start the stacks, snapshot twice on each, print the tables."""
    options = StackOptions(
        profiles=PROFILES, database_url=args.database_url, keep=args.keep, rate_limit="60/60s"
    )
    accounts, profiles, cold, warm = snapshots_of(options)
    figures = v1_figures(accounts, profiles, cold, warm)
    print_table(f"(a) snapshot of {PROFILES} profiles through v1", figures)
    graphql = graphql_figures(args, cold, warm)
    print_table(
        f"(a') snapshot of {PROFILES} channels in {ORGANIZATIONS} organizations through GraphQL",
        graphql,
    )
    return figures + graphql


def graphql_figures(args: Any, v1_cold: dict[str, Any], v1_warm: dict[str, Any]) -> list[Figure]:
    """The same account read through GraphQL, beside the v1 figures."""
    options = StackOptions(
        profiles=PROFILES,
        database_url=args.database_url,
        keep=args.keep,
        rate_limit="60/60s",
        sandbox_args=["--organizations", str(ORGANIZATIONS)],
    )
    stack = Stack(options)  # its ports are chosen here, so the bridge can be told the URL
    options.extra_env.update(
        BUFFER_API_KEY="sandbox-key", BUFFER_GRAPHQL_URL=f"{stack.sandbox_root}graphql"
    )
    with stack:
        cold, warm = one_snapshot(stack), one_snapshot(stack)
    figures: list[Figure] = []
    for label, run_, v1 in (("cold", cold, v1_cold), ("warm", warm, v1_warm)):
        graphql_calls = run_["by_path"].get("POST /graphql", 0)
        figures += [
            Figure(
                f"{label}: job status",
                run_["job"]["status"],
                "succeeded",
                run_["job"]["status"] == "succeeded",
            ),
            Figure(
                f"{label}: GraphQL calls",
                f"{graphql_calls} ({dict(run_['by_path'])})",
                f"<= {GRAPHQL_GOAL}",
                0 < graphql_calls <= GRAPHQL_GOAL,
            ),
            Figure(f"{label}: Buffer answered in (sum)", f"{run_['buffer_seconds'] * 1000:.1f} ms"),
            Figure(
                f"{label}: wall time, GraphQL / v1", f"{run_['wall']:.2f} s / {v1['wall']:.2f} s"
            ),
        ]
    return figures


def v1_figures(
    accounts: int, profiles: int, cold: dict[str, Any], warm: dict[str, Any]
) -> list[Figure]:
    """The v1 table: calls per account, profiles changed, timings."""
    figures: list[Figure] = [
        Figure("accounts / profiles in the sandbox", f"{accounts} / {profiles}")
    ]
    for label, run_ in (("cold (empty cache)", cold), ("warm (no changes)", warm)):
        result = run_["job"].get("result") or {}
        figures += [
            Figure(
                f"{label}: job status",
                run_["job"]["status"],
                "succeeded",
                run_["job"]["status"] == "succeeded",
            ),
            Figure(
                f"{label}: Buffer calls",
                f"{run_['calls']} ({dict(run_['by_path'])})",
                f"exactly 1 per account = {accounts}",
                run_["calls"] == accounts,
            ),
            Figure(
                f"{label}: profiles seen / changed",
                f"{result.get('profiles')} / {len(result.get('changed') or [])}",
            ),
            Figure(
                f"{label}: POST /v1/snapshots answered in", f"{run_['call_time'] * 1000:.1f} ms"
            ),
            Figure(
                f"{label}: Buffer answered GET /profiles in",
                f"{run_['buffer_seconds'] * 1000:.1f} ms",
            ),
            Figure(f"{label}: wall time until the job succeeded", f"{run_['wall']:.2f} s"),
        ]
    return figures


def main() -> int:
    """Entry point."""
    parser = common_args(__doc__.splitlines()[0])
    return run_main(run, parser.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
