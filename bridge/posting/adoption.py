"""Adopting Buffer's queue: posts added in Buffer's own app ("Add to queue") follow the
kept week too, for profiles with `adopt_queue` (off by default).

Every ADOPT_INTERVAL (beat), one `posts` query per organization (its adopting channels
together, pages of 100) finds the scheduled posts with `shareMode: addToQueue` the bridge
does not know yet. Each becomes a PlacedPost that follows the week, under an `adopt` job
of its profile; that profile's sync then lays them on the kept week's free slots (one
editPost per post whose slot changes), as for a changed week, and the job reports it.

Cost, in GraphQL calls a day: 48 runs times (one query per organization with an adopting
profile, one more per extra 100 posts) + one editPost per post adopted; a key's 24-hour
window is 250 calls on paid plans (docs/buffer-apis.md).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select

from bridge import jobs, models
from bridge.buffer.backend import BudgetExhausted, poster
from bridge.buffer.posts import BufferPost
from bridge.errors import BufferAPIError
from bridge.posting import kept
from bridge.posting.models import BRIDGE, QUEUE, PlacedPost, ProfileSettings
from bridge.posting.posts import excerpt_of
from bridge.services import Services

log = logging.getLogger(__name__)
ADOPT_JOB = "adopt"


@dataclass
class AdoptionOutcome:
    """What one run adopted: profile id -> posts, and the organizations it could not ask."""

    adopted: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def run(services: Services) -> AdoptionOutcome:
    """Adopt the new `addToQueue` posts of every adopting profile in `bridge` mode."""
    outcome = AdoptionOutcome()
    for (account, organization), profile_ids in _adopting(services).items():
        graphql = poster(services.backend(account))
        if graphql is None:
            continue
        try:
            found = graphql.organization_posts(organization, profile_ids, models.utcnow())
        except (BudgetExhausted, BufferAPIError) as error:
            log.warning("adopting Buffer's queue of %s: %s", organization, error)
            outcome.skipped.append(organization)
            continue
        for profile_id in profile_ids:
            mine = [p for p in found if p.channel_id == profile_id]
            count = _adopt(services, account, profile_id, mine)
            if count:
                outcome.adopted[profile_id] = count
                services.queue.wake(profile_id)
    return outcome


def _adopting(services: Services) -> dict[tuple[str, str], list[str]]:
    """(account, organization) -> the profiles adopting their queue, in `bridge` mode."""
    today = models.utcnow().date()
    grouped: dict[tuple[str, str], list[str]] = defaultdict(list)
    with services.db.session() as session:
        query = select(ProfileSettings, models.Profile).join(
            models.Profile, models.Profile.id == ProfileSettings.profile_id
        )
        for settings, profile in session.execute(query.where(ProfileSettings.adopt_queue)):
            abilities = services.backend(profile.account).capabilities(today)
            organization = str((profile.data or {}).get("organization_id") or "")
            if kept.mode_of(abilities, settings) == BRIDGE and organization:
                grouped[(profile.account, organization)].append(profile.id)
    return grouped


def _adopt(services: Services, account: str, profile_id: str, found: list[BufferPost]) -> int:
    """Record the profile's new queue posts as following the week, under one adopt job."""
    queued = [p for p in found if p.share_mode == "addToQueue" and p.status == "scheduled"]
    if not queued:
        return 0
    with services.db.session() as session:
        known = set(
            session.scalars(
                select(PlacedPost.buffer_post_id).where(
                    PlacedPost.buffer_post_id.in_([p.id for p in queued])
                )
            )
        )
        new = [p for p in queued if p.id not in known]
        if not new:
            return 0
        profile = session.get(models.Profile, profile_id)
        settings = kept.ensure_settings(session, profile_id)
        if profile is not None:
            kept.start_keeping(session, profile)
        job = jobs.row(
            jobs.Provenance("buffer"),
            None,
            account,
            profile_id,
            ADOPT_JOB,
            {"posts": [p.id for p in new]},
        )
        job.status, job.finished_at = models.SUCCEEDED, models.utcnow()
        job.result = {"adopted": len(new)}
        session.add(job)
        session.flush()
        for post in new:
            session.add(
                PlacedPost(
                    profile_id=profile_id,
                    job_id=job.id,
                    buffer_post_id=post.id,
                    when=QUEUE,
                    due_at=post.due_at,
                    excerpt=excerpt_of(post.text),
                    adopted=True,
                    week_version=-1,  # older than any week: laid on the kept week next sync
                    gone=False,
                )
            )
        settings.moving_job_id = job.id
        settings.adopted_at = models.utcnow()
        settings.updated_at = models.utcnow()
    return len(new)
