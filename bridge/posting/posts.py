"""A post asked for, checked, and stored as a job (the intake side of posts).

`PostRequest` is what every adapter (REST, webhooks, chat) turns its input into;
`submit` resolves the profile, checks the caller may write to it and the account can
place posts, stores the job (idempotently, as changes are) and wakes the profile's sync.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from bridge import auth, catalog, jobs, models
from bridge.errors import InvalidInput, WritesUnavailable
from bridge.posting.models import AT, NOW, QUEUE
from bridge.services import Services

MAX_TEXT = 10_000
MAX_URL = 2048
EXCERPT = 80
NO_GRAPHQL = (
    "this account cannot place posts: posts go through Buffer's GraphQL API, and the "
    "account has no API key (set BUFFER_API_KEY, or BUFFER_API_KEY_<NAME>)"
)
NO_IMAGES = (
    "images cannot be attached yet: the part of Buffer's GraphQL API the bridge is written "
    "to has no assets (docs/buffer-apis.md); send the image's link in `link` instead"
)


@dataclass(frozen=True)
class PostRequest:
    """One post: its text, an optional link, and when (`queue`, `now`, or `at`)."""

    text: str
    when: str = QUEUE
    at: dt.datetime | None = None
    link: str | None = None

    @property
    def full_text(self) -> str:
        """The text Buffer gets: the link goes inside it (no link field in the subset)."""
        return f"{self.text}\n{self.link}" if self.link else self.text

    @property
    def excerpt(self) -> str:
        """What answers and events show of the post."""
        return excerpt_of(self.text)

    def to_params(self) -> dict[str, Any]:
        """The job's params."""
        params: dict[str, Any] = {"text": self.text, "when": self.when}
        if self.at is not None:
            params["at"] = self.at.isoformat()
        if self.link:
            params["link"] = self.link
        return params


def excerpt_of(text: str) -> str:
    """The first EXCERPT characters of a post's text, on one line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT else flat[: EXCERPT - 1] + "…"


def from_params(params: dict[str, Any]) -> PostRequest:
    """The PostRequest a job's params hold (written by `to_params`)."""
    at = dt.datetime.fromisoformat(params["at"]) if params.get("at") else None
    return PostRequest(params["text"], params.get("when", QUEUE), at, params.get("link"))


def parse(
    text: Any,
    when: Any = None,
    link: Any = None,
    image_url: Any = None,
    now: dt.datetime | None = None,
) -> PostRequest:
    """Check a post's fields from outside; InvalidInput naming the field that is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("a post needs text", "text")
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"must be at most {MAX_TEXT} characters", "text")
    if image_url not in (None, ""):
        raise InvalidInput(NO_IMAGES, "image_url")
    checked_link = check_url(link, "link") if link not in (None, "") else None
    kind, at = parse_when(when, now or models.utcnow())
    return PostRequest(text, kind, at, checked_link)


def parse_when(value: Any, now: dt.datetime) -> tuple[str, dt.datetime | None]:
    """`queue` (default), `now`, or an ISO 8601 time with its offset, in the future."""
    if value in (None, "", QUEUE):
        return QUEUE, None
    if value == NOW:
        return NOW, None
    if not isinstance(value, str) or len(value) > 40:
        raise InvalidInput("must be queue, now or an ISO 8601 time with offset", "when")
    try:
        at = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            "must be queue, now or an ISO 8601 time with offset, e.g. 2027-03-01T09:00:00+01:00",
            "when",
        ) from None
    if at.tzinfo is None:
        raise InvalidInput("the time needs its offset, e.g. +01:00 or Z", "when")
    if at <= now:
        raise InvalidInput("the time has passed", "when")
    return AT, at.astimezone(dt.UTC)


def check_url(value: Any, field: str) -> str:
    """An http(s) URL of at most MAX_URL characters, without spaces."""
    if not isinstance(value, str) or len(value) > MAX_URL:
        raise InvalidInput(f"must be an http(s) URL of at most {MAX_URL} characters", field)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
        raise InvalidInput("must be an http(s) URL", field)
    return value


def submit(
    services: Services,
    client: models.ApiClient,
    ref: str,
    post: PostRequest,
    origin: jobs.Provenance,
) -> tuple[models.Job, models.Profile, bool]:
    """Store `post` for profile `ref` as a job and wake its sync: (job, profile, created).

    Raises Forbidden (read-only client), NotFound (unknown or out-of-scope profile),
    WritesUnavailable (the account has no GraphQL key) and Conflict (an Idempotency-Key
    reused for another request)."""
    auth.check_write(client)

    def build(session: Session) -> jobs.NewJob:
        profile = catalog.lookup(session, ref, client)
        abilities = services.backend(profile.account).capabilities(models.utcnow().date())
        if not abilities.can_post:
            raise WritesUnavailable(NO_GRAPHQL)
        return jobs.NewJob(profile, None, origin, client.name, post=post.to_params())

    job, created, change = catalog.refreshing_on_miss(
        services, lambda: jobs.store_and_wake(services, build)
    )
    return job, change.profile, created
