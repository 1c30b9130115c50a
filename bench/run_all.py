"""Run the benchmarks, (a) snapshot, (b) changes, (c) rate limit, (d) latency, one by one.

Each runs as its own process with its own private stack. Options given here
(``--database-url``, ``--keep``) are passed to every one. The exit status is
non-zero only when a benchmark could not run; missed goals are in the tables.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("snapshot.py", "changes.py", "ratelimit.py", "latency.py")
TIMEOUT = 900.0  # per benchmark


def main() -> int:
    """Run every benchmark; 0 when all ran, else the first failing exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (SQLite if omitted)")
    parser.add_argument("--keep", action="store_true", help="keep each temp dir with its logs")
    args = parser.parse_args()
    extra: list[str] = []
    if args.database_url:
        extra += ["--database-url", args.database_url]
    if args.keep:
        extra.append("--keep")
    failures: list[tuple[str, int]] = []
    for script in BENCHMARKS:
        started = time.monotonic()
        print(f"\n### {script}", flush=True)
        try:
            code = subprocess.run(
                [sys.executable, str(HERE / script), *extra], timeout=TIMEOUT, check=False
            ).returncode
        except subprocess.TimeoutExpired:
            code = 124
            print(f"{script}: did not finish within {TIMEOUT:.0f}s", file=sys.stderr)
        print(f"### {script}: exit {code} after {time.monotonic() - started:.0f}s", flush=True)
        if code != 0:
            failures.append((script, code))
    if failures:
        print(f"benchmarks that could not run: {failures}", file=sys.stderr)
        return failures[0][1] or 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
