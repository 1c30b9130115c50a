"""Rotation plans: presets on a timetable, fired by beat through the normal pipeline.

A plan names profiles (or every profile of a service, resolved when the plan is saved)
and steps (`bridge.timetable`). Each profile is a target row with `done_until` (every
step up to that instant is dealt with) and `next_run_at` (the first step after it), in
UTC. A tick:

1. claims due targets: on PostgreSQL `SELECT ... FOR UPDATE SKIP LOCKED`, on SQLite a
   conditional UPDATE; either way the claim is a lease (`claimed_until`, a token) held
   while firing, so two beats, or a beat and "run now", never fire one target at once;
2. fires the latest due step only (after downtime, never a burst of stale ones), as a
   job with source `rotation`, its `late_seconds`, and an idempotency key naming the
   target and the instant, so a tick that dies after storing the job and before
   advancing cannot store it twice;
3. advances `done_until` to now and `next_run_at` to the next step, and drops the lease.

Runs act as the plan's creator (`principal`): a client's scopes and read-only flag are
checked on every run, and a revoked creator fails the runs saying so. Plans made with
the CLI act as the operator (`SYSTEM`, every profile).

A target's run that cannot happen (the profile left Buffer, the account cannot write,
a preset was deleted) is a failed job saying why; the other targets go on.


The package: `plans` (saving, pausing, previewing, showing plans; who their runs act as)
and `firing` (claiming, firing, reverting, recording). Its public names are here.
"""

from bridge.rotation.firing import (
    LEASE,
    START,
    TickReport,
    begin,
    claim,
    fire,
    report_json,
    resume,
    run_now,
    tick,
)
from bridge.rotation.plans import (
    MAX_PREVIEW,
    SYSTEM,
    delete,
    get,
    listing,
    names,
    preview,
    principal,
    save,
    set_paused,
    shown,
    shown_one,
    system_client,
    to_json,
    visible,
)

__all__ = [
    "LEASE",
    "MAX_PREVIEW",
    "START",
    "SYSTEM",
    "TickReport",
    "begin",
    "claim",
    "delete",
    "fire",
    "get",
    "listing",
    "names",
    "preview",
    "principal",
    "report_json",
    "resume",
    "run_now",
    "save",
    "set_paused",
    "shown",
    "shown_one",
    "system_client",
    "tick",
    "to_json",
    "visible",
]
