"""(a) Snapshot of 1,000 profiles: Buffer calls per account and wall time, on v1 and GraphQL.

Triggers ``POST /v1/snapshots`` against a sandbox with one account of 1,000
profiles (``--profiles``) and waits for the job. The first run fills an empty cache and
stores 1,000 snapshots; the second finds nothing changed (the hourly case). Then the same
with the account read through Buffer's GraphQL API (a key beside the token), its
1,000 channels in 3 organizations: the goal is 4 GraphQL calls or fewer
(``--skip-graphql`` leaves it out).

The bridge's own time: `snapshots.take_account` run in this process against the same
sandbox and store (cold on an empty cache, then warm), its total time minus the time
inside `backend.profiles()` (Buffer's answer, read and parsed by the client); goals
< 0.3 s for 1,000 profiles, < 2 s for 10,000. Memory: this process's peak RSS growth
over the cold run, and the worker's pool process peak RSS (VmHWM) after it snapshotted
through ``POST /v1/snapshots``.
"""

from __future__ import annotations

import resource
import time
from collections import Counter
from pathlib import Path
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


def _kib(field: str, pid: int) -> int:
    """A VmRSS / VmHWM figure of a process, in KiB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _worker_pool(stack: Stack) -> list[int]:
    """The pids of the worker's processes (the Celery parent and its pool children)."""
    parents = [p.popen.pid for p in stack.procs if p.name.startswith("worker")]
    pids = list(parents)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid in parents:
                pids.append(int(entry.name))
    return pids


def bridge_time(stack: Stack) -> dict[str, Any]:
    """`take_account` in this process, cold then warm: total vs Buffer's share, and memory."""
    from bridge import snapshots
    from bridge.config import load_settings
    from bridge.services import Services

    environ = {k: v for k, v in stack.env().items() if k.isupper()}
    environ["BUFFER_RATE_LIMIT"] = "100000/60s"  # the limiter is not what is measured
    services = Services(load_settings(environ))
    inside: list[float] = []
    real_backend = services.backend

    def timed_backend(account: str) -> Any:
        backend = real_backend(account)
        profiles = backend.profiles

        def timed() -> Any:
            begun = time.perf_counter()
            try:
                return profiles()
            finally:
                inside.append(time.perf_counter() - begun)

        backend.profiles = timed  # type: ignore[method-assign]
        return backend

    services.backend = timed_backend  # type: ignore[method-assign]
    found: dict[str, Any] = {}
    try:
        for label in ("cold", "warm"):
            inside.clear()
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            begun = time.perf_counter()
            outcome = snapshots.take_account(services, "default")
            total = time.perf_counter() - begun
            if outcome.error is not None or outcome.retry_in is not None:
                raise InfraError(f"take_account {label}: {outcome.error or outcome.retry_in}")
            found[label] = {
                "total": total,
                "buffer": sum(inside),
                "profiles": outcome.profiles,
                "changed": len(outcome.changed),
                "rss_growth_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before,
            }
    finally:
        services.close()
    return found


def bridge_figures(stack: Stack, profiles: int) -> list[Figure]:
    """The bridge's own time (in process), then the worker's memory over a real snapshot."""
    timing = bridge_time(stack)
    goal = 0.3 * profiles / 1000 if profiles <= 1000 else 2.0 * profiles / 10000
    figures: list[Figure] = []
    for label, t in timing.items():
        own = t["total"] - t["buffer"]
        figures += [
            Figure(
                f"{label}: take_account total / Buffer call (HTTP + parse)",
                f"{t['total']:.3f} s / {t['buffer']:.3f} s  ({t['profiles']} seen, "
                f"{t['changed']} stored)",
            ),
            Figure(f"{label}: bridge's own time", f"{own:.3f} s", f"< {goal:g} s", own < goal),
        ]
    figures.append(
        Figure(
            "cold: peak RSS growth of the process",
            f"{timing['cold']['rss_growth_kib'] / 1024:.0f} MiB",
        )
    )
    pool = _worker_pool(stack)
    before = {pid: _kib("VmHWM", pid) for pid in pool}
    run_ = one_snapshot(stack)  # the worker, on the cache the in-process runs filled
    after = {pid: (_kib("VmRSS", pid), _kib("VmHWM", pid)) for pid in pool}
    figures += [
        Figure(
            "worker: snapshot job status / wall time",
            f"{run_['job']['status']} / {run_['wall']:.2f} s",
        ),
        Figure(
            "worker processes: RSS now / peak (VmHWM) before -> after, MiB",
            "; ".join(
                f"{pid}: {after[pid][0] // 1024} / {before[pid] // 1024}->{after[pid][1] // 1024}"
                for pid in pool
            ),
        ),
    ]
    return figures


def run(args: Any) -> list[Figure]:
    """Start the stacks, snapshot twice on each, print the tables."""
    options = StackOptions.of(args, profiles=args.profiles, rate_limit="60/60s")
    with Stack(options) as stack:
        own = bridge_figures(stack, args.profiles)
    print_table(f"(a0) the bridge's own time over a snapshot of {args.profiles} profiles", own)
    accounts, profiles, cold, warm = snapshots_of(options)
    figures = v1_figures(accounts, profiles, cold, warm)
    print_table(f"(a) snapshot of {args.profiles} profiles through v1", figures)
    if args.skip_graphql:
        return own + figures
    graphql = graphql_figures(args, cold, warm)
    print_table(
        f"(a') snapshot of {args.profiles} channels in {ORGANIZATIONS} organizations "
        "through GraphQL",
        graphql,
    )
    return own + figures + graphql


def status_and_calls(
    label: str, run_: dict[str, Any], calls: int, goal: str, met: bool
) -> list[Figure]:
    """A snapshot run's job status and its Buffer calls (by path) against `goal`."""
    status = run_["job"]["status"]
    return [
        Figure(f"{label}: job status", status, "succeeded", status == "succeeded"),
        Figure(f"{label}: Buffer calls", f"{calls} ({dict(run_['by_path'])})", goal, met),
    ]


def graphql_figures(args: Any, v1_cold: dict[str, Any], v1_warm: dict[str, Any]) -> list[Figure]:
    """The same account read through GraphQL, beside the v1 figures."""
    options = StackOptions.of(
        args,
        profiles=args.profiles,
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
            *status_and_calls(
                label, run_, graphql_calls, f"<= {GRAPHQL_GOAL}", 0 < graphql_calls <= GRAPHQL_GOAL
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
            *status_and_calls(
                label,
                run_,
                run_["calls"],
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
    parser.add_argument("--profiles", type=int, default=PROFILES, help="profiles in the account")
    parser.add_argument("--skip-graphql", action="store_true", help="v1 only")
    return run_main(run, parser.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
