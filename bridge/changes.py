"""The service layer: a change arrives. Every adapter (REST, webhooks, chat, the CLI, the
rotation timer) turns its input into one `ChangeRequest` and calls `submit`, which
resolves the profile, checks the caller's scopes, stores the job (idempotently) and wakes
a worker. Nothing here speaks HTTP.

One vocabulary, the same word everywhere:

    replace    the whole week becomes `days` at `times` (or `week`); days not named get none
    set        `days` get exactly `times`; other days are kept
    add        `times` are added to `days`
    remove     `times` are removed from `days`
    clear      `days` get no times
    restore    the profile goes back to snapshot `snapshot_id` (default: before the last change)
    snapshot   record the current schedules of the profile's account (one Buffer call)

`set_days`, the webhooks' old name for `set`, is kept as an alias. `pause` and `resume`
are refused with the reason: Buffer has no way to write a pause.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from bridge import auth, catalog, jobs, models, profiles, schedules, snapshots
from bridge.errors import InvalidInput, WritesUnavailable
from bridge.services import Services

ACTIONS = ("replace", "set", "add", "remove", "clear", "restore", "snapshot")
ALIASES = {"set_days": "set"}
# asked for often, and impossible: Buffer has no way to write a pause (schedules.py says why)
PAUSES = ("pause", "resume", "unpause")
MAX_WAIT = 25  # seconds a caller may wait for the outcome: under Zapier's 30 s request limit
POLL_INTERVAL = 0.2


@dataclass(frozen=True)
class ChangeRequest:
    """One change asked for by any adapter: validated in shape, not yet resolved.

    `times` None means "not given" (an error for the actions that need times); an empty
    tuple means "no times" (allowed for set and replace: those days are emptied). A
    replace carries either `days` and `times` or a whole `week` (day -> times)."""

    action: str
    profile: str | None = None
    days: tuple[str, ...] = ()
    times: tuple[str, ...] | None = None
    week: Mapping[str, Sequence[str]] | None = None
    snapshot_id: int | None = None

    def __post_init__(self) -> None:
        """Normalise the action's name and check it has the fields it needs.

        Raises InvalidInput naming the first field missing or not allowed."""
        action = ALIASES.get(self.action, self.action)
        if action in PAUSES:
            raise InvalidInput(schedules.PAUSE_NOT_WRITABLE, "action")
        if action not in ACTIONS:
            raise InvalidInput(f"must be one of: {', '.join(ACTIONS)}", "action")
        object.__setattr__(self, "action", action)
        if action != "snapshot" and not self.profile:
            raise InvalidInput(f"{action} needs a profile", "profile")
        if action == "replace" and self.week is not None:
            return
        if action in ("replace", "set", "add", "remove", "clear") and not self.days:
            raise InvalidInput(f"{action} needs days, e.g. mon-fri", "days")
        if action in ("replace", "set") and self.times is None:
            hint = "; to empty days use action clear"
            raise InvalidInput(f"{action} needs times, e.g. 9am, 12:30{hint}", "times")
        if action in ("add", "remove") and not self.times:
            raise InvalidInput(f"{action} needs times, e.g. 9am, 12:30", "times")
        if action == "clear" and self.times:
            raise InvalidInput("clear takes no times", "times")

    def operation(self) -> schedules.Operation:
        """The schedule operation of replace/set/add/remove/clear."""
        if self.action == "replace":
            week = self.week if self.week is not None else {d: self.times for d in self.days}
            return schedules.Operation.replace(week)
        return schedules.Operation(self.action, days=self.days, times=self.times or ())

    def view(self) -> dict[str, Any]:
        """The change as understood, for answers a Zap can map in later steps."""
        view: dict[str, Any] = {"action": self.action, "days": list(self.days)}
        view["times"] = list(self.times or ())
        if self.action == "restore":
            view["snapshot_id"] = self.snapshot_id
        return view


@dataclass
class Submitted:
    """A stored change: its job, its profile (None for account snapshots), the request."""

    job: models.Job
    request: ChangeRequest
    profile: models.Profile | None = None
    created: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def submit(
    services: Services,
    client: models.ApiClient,
    request: ChangeRequest,
    origin: jobs.Provenance,
) -> Submitted:
    """Store `request` as a job for `client` and wake a worker; `origin` says where it
    came from and what follows it (its key, who to tell, its group, its lateness).

    Raises Forbidden (a read-only client), NotFound (an unknown profile or snapshot, and
    a profile outside the client's scopes, answered alike), Conflict (an Idempotency-Key
    reused for another change).
    A key seen before with the same change returns the first job, `created` False."""
    auth.check_write(client)
    if request.action == "snapshot":
        return snapshot(services, client, origin, request)
    ref = request.profile
    assert ref is not None  # ChangeRequest requires one for every other action
    notices: list[str | None] = []

    def build(session: Session) -> jobs.NewJob:
        """The job, from the profile and snapshot looked up in the storing transaction."""
        profile = catalog.lookup(session, ref, client)
        abilities = services.backend(profile.account).capabilities(models.utcnow().date())
        if not abilities.can_write:
            raise WritesUnavailable(abilities.write_refusal or "this account cannot write")
        notices.append(abilities.notice())
        operation, snapshot_id = _operation(session, request, profile)
        return jobs.NewJob(profile, operation, origin, client.name, snapshot_id)

    # one transaction looks the profile up and stores the job; a profile new in Buffer
    # is looked for again after a refresh of the cache
    job, created, change = catalog.refreshing_on_miss(
        services, lambda: jobs.store_and_wake(services, build)
    )
    notice = notices[-1]
    return Submitted(
        job, request, change.profile, created, extra={"notice": notice} if notice else {}
    )


def _operation(
    session: Session, request: ChangeRequest, profile: models.Profile
) -> tuple[schedules.Operation, int | None]:
    """The operation of a request; a restore reads the snapshot it puts back."""
    if request.action != "restore":
        return request.operation(), None
    target = snapshots.restore_target(session, profile.id, request.snapshot_id)
    # pauses cannot be written (v1 has no field for them): the times come back, and
    # Buffer keeps whatever pauses it has now
    week = snapshots.week_of(target).unpaused()
    return schedules.Operation.replace(week), target.id


def snapshot(
    services: Services,
    client: models.ApiClient,
    origin: jobs.Provenance,
    request: ChangeRequest | None = None,
    account: str | None = None,
) -> Submitted:
    """Queue a snapshot: of the account of the request's profile, of `account`, or of
    every account. Only a client scoped to every profile may snapshot whole accounts.

    Raises Forbidden for a read-only client; InvalidInput for an unknown account, a scoped
    client naming no profile, or a bridge with no account configured."""
    auth.check_write(client)
    request = request or ChangeRequest("snapshot")
    if request.profile is not None:
        profile = catalog.readable(services, client, request.profile)
        job = jobs.submit_snapshot(services, profile.account, client.name, origin)
        return Submitted(job, request, profile, extra={"accounts": [profile.account]})
    if client.profiles is not None:
        raise InvalidInput("a client scoped to some profiles must name one to snapshot", "profile")
    accounts = services.settings.account_names()
    if account is not None:
        if account not in accounts:
            raise InvalidInput(f"unknown account {account!r}", "account")
        accounts = [account]
    if not accounts:
        raise InvalidInput("no Buffer account is configured (set BUFFER_ACCESS_TOKEN)")
    created = [jobs.submit_snapshot(services, a, client.name, origin) for a in accounts]
    return Submitted(
        created[0], request, extra={"accounts": accounts, "jobs": [j.id for j in created]}
    )


def answer_body(submitted: Submitted) -> dict[str, Any]:
    """The 202 body beside the job: the change as understood, the profile, the operation."""
    body: dict[str, Any] = {**submitted.request.view(), **submitted.extra}
    profile = submitted.profile
    if profile is not None:
        body.update(profile=profiles.label(profile), profile_id=profile.id)
    if submitted.job.kind != "snapshot":
        body["change"] = submitted.job.params
    if not submitted.created:
        body["replayed"] = True  # an Idempotency-Key seen before: this is the first job
    return body


def wait_for(services: Services, job_id: int, seconds: float) -> models.Job | None:
    """The job once it has finished, polling the database (never Buffer); None when it
    has not finished within `seconds` (at most MAX_WAIT)."""
    deadline = time.monotonic() + min(max(seconds, 0.0), MAX_WAIT)
    while True:
        with services.db.session() as session:
            job = jobs.get(session, job_id)
        if job.finished:
            return job
        if time.monotonic() >= deadline:
            return None
        time.sleep(min(POLL_INTERVAL, max(deadline - time.monotonic(), 0.01)))
