"""Placing and moving posts: the part of a profile's sync that runs after its changes.

Under the profile's lock (the sync's), in this order:

1. read the channel's scheduled posts once (one `posts` page per 100 posts);
2. if the kept week changed since the posts that follow it were placed, lay those posts
   again onto the new week's first free slots, in their order (one editPost per post
   whose slot changes; a post already on its slot costs nothing), and report each move
   on the change job that made the week (`result.posts`: moved N of M, from, to);
3. place the queued post jobs in arrival order (job id): `queue` takes the next free slot
   of the kept week (`bridge` mode) or Buffer's own queue (`buffer` mode), `now` is
   shared at once, an explicit time is kept.

Every GraphQL call takes its slot from the account's GraphQL limiter first; when the
budget is spent the work done so far is committed and the sync runs again when the
budget has room, so a long queue spreads over windows and never meets a 429. A post
whose move Buffer refuses stays where it was, and the job says which.

Past 400 lines on purpose: reading, moving and placing share one budget, one read of the
channel's posts and one claim-and-record protocol (a post's time noted before createPost,
found again after a crash); apart, that protocol would be spread over modules.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge import events, metrics, models
from bridge.buffer.backend import BudgetExhausted, GraphQLBackend, poster
from bridge.buffer.posts import BufferPost, PostRefused
from bridge.errors import BufferAPIError
from bridge.locks import Renewer
from bridge.posting import kept, posts
from bridge.posting.models import (
    AT,
    BRIDGE,
    BUFFER,
    NOW,
    POST_JOB,
    QUEUE,
    PlacedPost,
    ProfileSettings,
)
from bridge.posting.slots import NoFreeSlot, Slot, SlotFinder
from bridge.retry import backoff
from bridge.services import Services

log = logging.getLogger(__name__)

MAX_REPORTED_MOVES = 500  # moves listed in a job's result; the counts cover every one
NO_KEY = (
    "posts need Buffer's GraphQL API: set BUFFER_API_KEY (or BUFFER_API_KEY_<NAME>) for "
    "this account"
)


class LockLost(Exception):
    """The profile lock stopped being ours: nothing more is written or recorded."""


@dataclass
class PlacementOutcome:
    """What placing and moving did; `retry_in` set means: run again after that long."""

    state: str  # idle | succeeded | rate_limited | retrying
    retry_in: float | None = None
    job_ids: list[int] = field(default_factory=list)
    buffer_calls: int = 0


@dataclass
class _Context:
    """What one run works with: the profile, its settings, mode, Buffer side and clock."""

    services: Services
    profile: models.Profile
    settings: ProfileSettings | None
    mode: str
    graphql: GraphQLBackend | None
    guard: Renewer
    now: dt.datetime
    calls: int = 0

    def fence(self) -> None:
        """Raise LockLost unless the lock is still ours (asked right before a write)."""
        if not self.guard.held():
            raise LockLost

    def local(self, instant: dt.datetime | None) -> str | None:
        """`instant` in ISO 8601 in the profile's timezone (None stays None)."""
        if instant is None:
            return None
        return instant.astimezone(kept.timezone_of(self.profile)).isoformat()

    def finder(self, taken: list[dt.datetime]) -> SlotFinder:
        """The free slots of the kept week after now plus POST_LEAD_SECONDS."""
        lead = dt.timedelta(seconds=self.services.settings.post_lead_seconds)
        settings = self.settings
        return SlotFinder(
            kept.week_of(settings, self.profile),
            kept.timezone_of(self.profile),
            self.now + lead,
            taken,
            kept.excluded(settings),
            dt.timedelta(minutes=settings.min_gap_minutes if settings else 0),
        )


def run(services: Services, profile_id: str, guard: Renewer) -> PlacementOutcome:
    """Move the posts that follow a changed week, then place the queued posts."""
    with services.db.session() as session:
        jobs = _queued_posts(session, profile_id)
        settings = kept.settings_of(session, profile_id)
        moving = settings is not None and settings.moving_job_id is not None
        profile = session.get(models.Profile, profile_id)
        if (not jobs and not moving) or profile is None:
            return PlacementOutcome("idle")
        session.expunge_all()
    backend = services.backend(profile.account)
    abilities = backend.capabilities(models.utcnow().date())
    context = _Context(
        services,
        profile,
        settings,
        kept.mode_of(abilities, settings),
        poster(backend),
        guard,
        models.utcnow(),
    )
    job_ids = [job.id for job in jobs]
    moving = moving and context.mode == BRIDGE  # only a kept week moves its posts
    if context.graphql is None:
        _fail_jobs(services, job_ids, NO_KEY)
        return PlacementOutcome("succeeded", job_ids=job_ids)
    try:
        scheduled = _scheduled(context)
        slots = _moves(context, scheduled) if moving else None
        _place(context, job_ids, scheduled, slots)
    except BudgetExhausted as spent:
        return PlacementOutcome("rate_limited", spent.seconds, job_ids, context.calls)
    except BufferAPIError as error:
        return _failed_read(services, job_ids, error, context.calls)
    return PlacementOutcome("succeeded", job_ids=job_ids, buffer_calls=context.calls)


def _queued_posts(session: Session, profile_id: str) -> list[models.Job]:
    """The profile's post jobs still to place, in arrival order."""
    query = (
        select(models.Job)
        .where(
            models.Job.profile_id == profile_id,
            models.Job.kind == POST_JOB,
            models.Job.status.in_(models.PENDING_STATUSES),
        )
        .order_by(models.Job.id)
    )
    return list(session.scalars(query))


def _scheduled(context: _Context) -> list[BufferPost]:
    """The channel's scheduled posts from now (one call per page of 100)."""
    assert context.graphql is not None
    organization = str((context.profile.data or {}).get("organization_id") or "")
    context.calls += 1
    found = context.graphql.scheduled_posts(organization, context.profile.id, context.now)
    _forget_gone(context, {post.id for post in found})
    return found


def _forget_gone(context: _Context, scheduled_ids: set[str]) -> None:
    """Placed posts Buffer no longer has scheduled (sent, or deleted) stop following."""
    with context.services.db.session() as session:
        query = select(PlacedPost).where(
            PlacedPost.profile_id == context.profile.id, PlacedPost.gone.is_(False)
        )
        for placed in session.scalars(query):
            if placed.buffer_post_id not in scheduled_ids:
                placed.gone = True


# --- moves ------------------------------------------------------------------------------


def _moves(context: _Context, scheduled: list[BufferPost]) -> SlotFinder:
    """Lay the posts that follow the week onto the new week's slots; the finder, with
    every slot now taken counted, for the posts placed next."""
    settings = context.settings
    assert settings is not None and settings.moving_job_id is not None
    with context.services.db.session() as session:
        following = _following(session, context.profile.id)
        session.expunge_all()
    ours = {placed.buffer_post_id for placed in following}
    finder = context.finder([p.due_at for p in scheduled if p.id not in ours and p.due_at])
    report = _MoveReport(context, settings.moving_job_id, len(following))
    try:
        _lay(context, report, finder, following, settings.week_version)
    except BudgetExhausted:
        report.save()  # the moves made so far; the rest when the budget has room
        raise
    report.finish()
    return finder


def _lay(
    context: _Context,
    report: _MoveReport,
    finder: SlotFinder,
    following: list[PlacedPost],
    version: int,
) -> None:
    """Each following post onto the finder's next slot, in order."""
    for placed in following:
        try:
            slot = finder.take()
        except NoFreeSlot as error:
            report.failed(placed, str(error))
            continue
        if placed.week_version >= version:
            report.unchanged(placed, slot)  # moved by an earlier run of this change
            continue
        _move_one(context, report, placed, slot)


def _following(session: Session, profile_id: str) -> list[PlacedPost]:
    """The placed posts that move with the week, in their order (due time, then arrival)."""
    query = select(PlacedPost).where(
        PlacedPost.profile_id == profile_id,
        PlacedPost.gone.is_(False),
        PlacedPost.when == QUEUE,
    )
    posts = list(session.scalars(query))
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    return sorted(posts, key=lambda p: (p.due_at or far, p.id))


def _move_one(context: _Context, report: _MoveReport, placed: PlacedPost, slot: Slot) -> None:
    """One post onto `slot`: no call when it is there already; a refusal leaves it."""
    assert context.graphql is not None
    if placed.due_at is not None and abs((placed.due_at - slot.at).total_seconds()) < 60:
        report.unchanged(placed, slot)
        return
    context.fence()
    try:
        context.calls += 1
        moved = context.graphql.move_post(placed.buffer_post_id, slot.at)
    except PostRefused as refused:
        report.failed(placed, refused.message)
        return
    except BufferAPIError as error:
        if error.retryable:
            report.save()
            raise
        report.failed(placed, error.message)
        return
    report.moved(placed, slot, moved.due_at or slot.at)


class _MoveReport:
    """Moves of one change, saved on its job as they happen (`result.posts`)."""

    def __init__(self, context: _Context, job_id: int, total: int) -> None:
        self.context = context
        self.job_id = job_id
        self.total = total
        self.pending: list[tuple[str, PlacedPost, Slot | None, dt.datetime | None, str]] = []

    def moved(self, placed: PlacedPost, slot: Slot, due_at: dt.datetime) -> None:
        self.pending.append(("moved", placed, slot, due_at, ""))
        self.save()  # a move Buffer made is recorded at once: a crash cannot repeat it

    def unchanged(self, placed: PlacedPost, slot: Slot) -> None:
        self.pending.append(("unchanged", placed, slot, placed.due_at, ""))

    def failed(self, placed: PlacedPost, why: str) -> None:
        self.pending.append(("failed", placed, None, placed.due_at, why))

    def save(self, done: bool = False) -> None:
        """Commit the recorded outcomes: the posts, the job's progress, the events."""
        context = self.context
        with context.services.db.session() as session:
            settings = session.get(ProfileSettings, context.profile.id)
            job = session.get(models.Job, self.job_id)
            version = settings.week_version if settings is not None else 0
            summary = _progress(job)
            for state, placed, slot, due_at, why in self.pending:
                row = session.get(PlacedPost, placed.id)
                if row is None:
                    continue
                self._record(session, summary, state, row, slot, due_at, why)
                row.week_version = version
            self.pending.clear()
            summary["to_move"] = self.total
            summary["state"] = "done" if done else "moving"
            if job is not None:
                job.result = {**(job.result or {}), "posts": summary}
            if done and settings is not None and settings.moving_job_id == self.job_id:
                settings.moving_job_id = None
            context.fence()

    def _record(
        self,
        session: Session,
        summary: dict[str, Any],
        state: str,
        row: PlacedPost,
        slot: Slot | None,
        due_at: dt.datetime | None,
        why: str,
    ) -> None:
        context = self.context
        entry: dict[str, Any] = {"post_id": row.buffer_post_id, "excerpt": row.excerpt}
        if state == "moved" and slot is not None:
            entry.update(
                {"from": context.local(row.due_at), "to": context.local(due_at), "slot": slot.label}
            )
            row.due_at, row.slot = due_at, slot.label
            summary["moved"] += 1
            if len(summary["moves"]) < MAX_REPORTED_MOVES:
                summary["moves"].append(entry)
            events.post_event(
                session, events.POST_MOVED, context.profile.account, context.profile.id, entry
            )
        elif state == "unchanged":
            summary["unchanged"] += 1
        else:
            entry.update({"due_at": context.local(row.due_at), "error": why})
            summary["failed"].append(entry)
            events.post_event(
                session, events.POST_FAILED, context.profile.account, context.profile.id, entry
            )

    def finish(self) -> None:
        self.save(done=True)


def _progress(job: models.Job | None) -> dict[str, Any]:
    """The job's move progress so far (a fresh one on its first save)."""
    posts = dict(((job.result or {}) if job else {}).get("posts") or {})
    posts.setdefault("moved", 0)
    posts.setdefault("unchanged", 0)
    posts["failed"] = list(posts.get("failed") or [])
    posts["moves"] = list(posts.get("moves") or [])
    return posts


# --- placing new posts ------------------------------------------------------------------


def _place(
    context: _Context,
    job_ids: list[int],
    scheduled: list[BufferPost],
    finder: SlotFinder | None,
) -> None:
    """Place each queued post job in order; the finder (from the moves, or fresh) hands
    out the kept week's free slots. A job whose earlier attempt died after Buffer made
    its post (the post is there, at the time noted before the call) takes that post
    instead of making a second one."""
    if not job_ids:
        return
    finder = finder or context.finder([p.due_at for p in scheduled if p.due_at])
    known = _known_ids(context)
    for job_id in job_ids:
        with context.services.db.session() as session:
            job = session.get(models.Job, job_id)
            if job is None or job.finished:
                continue
            job.start()
            post = posts.from_params(job.params)
            noted = (job.planned or {}).get("post")
        landed = _landed(noted, post, scheduled, known)
        if landed is not None:
            _post_placed(context, job_id, post, landed, None, noted.get("slot") if noted else None)
            continue
        _place_one(context, job_id, post, finder)


def _known_ids(context: _Context) -> set[str]:
    """The Buffer ids of every post the bridge has recorded for this profile."""
    with context.services.db.session() as session:
        query = select(PlacedPost.buffer_post_id).where(PlacedPost.profile_id == context.profile.id)
        return set(session.scalars(query))


def _landed(
    noted: dict[str, Any] | None,
    post: posts.PostRequest,
    scheduled: list[BufferPost],
    known: set[str],
) -> BufferPost | None:
    """The post an earlier attempt made: one not yet recorded, with this text, at the time
    noted before its createPost call; None when there is none (or nothing was noted)."""
    if not noted or not noted.get("due_at"):
        return None
    due = dt.datetime.fromisoformat(noted["due_at"])
    for found in scheduled:
        if found.id in known or found.text != post.full_text or found.due_at is None:
            continue
        if abs((found.due_at - due).total_seconds()) < 60:
            return found
    return None


def _note(context: _Context, job_id: int, due_at: dt.datetime | None, slot: Slot | None) -> None:
    """Before createPost: the time and slot the post is about to take, committed, so a
    re-run after a crash can find the post instead of making another."""
    with context.services.db.session() as session:
        job = session.get(models.Job, job_id)
        if job is not None:
            noted = {"due_at": due_at.isoformat() if due_at else None, "slot": slot and slot.label}
            job.planned = {"post": noted}
        context.fence()


def _place_one(context: _Context, job_id: int, post: posts.PostRequest, finder: SlotFinder) -> None:
    """createPost for one job, then its result; Buffer's refusal fails the job alone."""
    assert context.graphql is not None
    try:
        mode, slot, due_at = _mode_and_time(context, post, finder)
        _note(context, job_id, due_at, slot)
        context.calls += 1
        placed = context.graphql.place_post(context.profile.id, post.full_text, mode, due_at)
    except (NoFreeSlot, ValueError) as error:
        _post_failed(context, job_id, post, str(error))
        return
    except PostRefused as refused:
        _post_failed(context, job_id, post, refused.message, refused.status)
        return
    except BufferAPIError as error:
        if not error.retryable:
            _post_failed(context, job_id, post, error.message, error.status)
            return
        _retry_job(context.services, job_id, error)
        raise
    _post_placed(context, job_id, post, placed, slot)


def _mode_and_time(
    context: _Context, post: posts.PostRequest, finder: SlotFinder
) -> tuple[str, Slot | None, dt.datetime | None]:
    """Buffer's share mode, the kept week's slot (queue posts in `bridge` mode) and the
    due time for `post`; ValueError for an explicit time that has passed."""
    if post.when == NOW:
        return "shareNow", None, None
    if post.when == AT:
        assert post.at is not None
        if post.at <= context.now:
            raise ValueError(f"the time asked for, {post.at.isoformat()}, has passed")
        finder.mark(post.at)
        return "customScheduled", None, post.at
    if context.mode == BRIDGE:
        slot = finder.take()
        return "customScheduled", slot, slot.at
    return "addToQueue", None, None  # Buffer's own schedule places it


def _post_placed(
    context: _Context,
    job_id: int,
    post: posts.PostRequest,
    placed: BufferPost,
    slot: Slot | None,
    slot_label: str | None = None,
) -> None:
    """Remember the post, finish its job with the post's id, time and slot, tell."""
    with context.services.db.session() as session:
        settings = session.get(ProfileSettings, context.profile.id)
        row = PlacedPost(
            profile_id=context.profile.id,
            job_id=job_id,
            buffer_post_id=placed.id,
            # a queue post of a `buffer`-mode profile follows Buffer's schedule, not ours
            when=BUFFER if post.when == QUEUE and context.mode != BRIDGE else post.when,
            due_at=placed.due_at,
            slot=slot.label if slot else slot_label,
            excerpt=post.excerpt,
            adopted=False,
            week_version=settings.week_version if settings else 0,
            gone=False,
        )
        session.add(row)
        result = {
            "post_id": placed.id,
            "due_at": context.local(placed.due_at),
            "slot": row.slot,
            "when": post.when,
            "status": placed.status,
            "schedule_mode": context.mode,
            "excerpt": post.excerpt,
        }
        job = session.get(models.Job, job_id)
        if job is not None:
            job.succeed(result)
            metrics.count_operation(job)
            events.job_finished(session, job)  # job.succeeded, as for every job
        events.post_event(
            session, events.POST_SCHEDULED, context.profile.account, context.profile.id, result
        )
        context.fence()


def _post_failed(
    context: _Context,
    job_id: int,
    post: posts.PostRequest,
    why: str,
    status: int | None = None,
) -> None:
    """Fail one post job for good, and tell."""
    with context.services.db.session() as session:
        job = session.get(models.Job, job_id)
        if job is not None:
            job.fail(why, status)
            metrics.count_operation(job)
            events.job_finished(session, job)  # job.failed, as for every job
        data = {"job_id": job_id, "excerpt": post.excerpt, "error": why, "due_at": None}
        events.post_event(
            session, events.POST_FAILED, context.profile.account, context.profile.id, data
        )


def _retry_job(services: Services, job_id: int, error: BufferAPIError) -> None:
    """A transient failure: the job waits for the retry the sync is told to make."""
    with services.db.session() as session:
        job = session.get(models.Job, job_id)
        if job is not None and not job.finished:
            wait = backoff(job.attempts, services.settings.sync_backoff_max)
            job.retry_at(models.utcnow() + dt.timedelta(seconds=wait), error.message, error.status)


def _fail_jobs(services: Services, job_ids: list[int], why: str) -> None:
    with services.db.session() as session:
        for job_id in job_ids:
            job = session.get(models.Job, job_id)
            if job is not None and not job.finished:
                job.fail(why)
                metrics.count_operation(job)


def _failed_read(
    services: Services, job_ids: list[int], error: BufferAPIError, calls: int
) -> PlacementOutcome:
    """Reading or moving failed: retry (transient) or fail the queued posts with it."""
    if not error.retryable:
        _fail_jobs(services, job_ids, f"Buffer refused to list the posts: {error.message}")
        return PlacementOutcome("succeeded", job_ids=job_ids, buffer_calls=calls)
    with services.db.session() as session:
        attempts = max(
            (j.attempts for j in (session.get(models.Job, i) for i in job_ids) if j), default=1
        )
    wait = backoff(max(attempts, 1), services.settings.sync_backoff_max)
    log.warning("placing posts: Buffer error %s, retry in %.1fs", error, wait)
    return PlacementOutcome("retrying", wait, job_ids, calls)
