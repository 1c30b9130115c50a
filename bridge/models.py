"""The store: SQLAlchemy 2 models. Migrations live in bridge/migrations (Alembic).

The database, not Redis, is the source of truth: every accepted change is a
Job row before anything is queued.

Past 400 lines on purpose: every table in one module, as Alembic's migrations and the
schema checks read them; a feature's own tables live in its package (bridge/posting/models.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> dt.datetime:
    """Now, in UTC, timezone-aware."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timestamps stored in UTC; SQLite drops the zone, so it is put back on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        """Store aware datetimes in UTC."""
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        """Attach UTC to naive values coming back from SQLite."""
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


class Base(DeclarativeBase):
    """Declarative base of every table."""

    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


# Row ids are 64-bit integers in both databases; a larger number names nothing.
MAX_ID = 2**63 - 1

# Job statuses; "pending" ones are the ones a sync must still fold.
QUEUED, RUNNING, RETRYING, SUCCEEDED, FAILED = (
    "queued",
    "running",
    "retrying",
    "succeeded",
    "failed",
)
PENDING_STATUSES = (QUEUED, RUNNING, RETRYING)
STATUSES = (QUEUED, RUNNING, RETRYING, SUCCEEDED, FAILED)

# Snapshot reasons.
PERIODIC, BEFORE_CHANGE, AFTER_CHANGE, EXTERNAL_CHANGE = (
    "periodic",
    "before_change",
    "after_change",
    "external_change",
)


class Account(Base):
    """A Buffer account: a name and the environment variable that holds its token."""

    __tablename__ = "accounts"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_var: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Profile(Base):
    """The profile cache: Buffer's fields and schedules as last seen."""

    __tablename__ = "profiles"

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    account: Mapped[str] = mapped_column(ForeignKey("accounts.name"), index=True)
    service: Mapped[str] = mapped_column(String(64))
    service_username: Mapped[str] = mapped_column(String(255))
    formatted_username: Mapped[str] = mapped_column(String(255), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="")
    schedules: Mapped[list[Any]] = mapped_column(default=list)
    # days Buffer's GraphQL API reports paused (they keep their times); v1 reports none
    paused_days: Mapped[list[Any]] = mapped_column(default=list)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # the last outbound event's per-profile sequence number (bridge/events/__init__.py); bumped with
    # an UPDATE in the event's transaction, so the row lock orders concurrent events
    event_sequence: Mapped[int | None]

    __table_args__ = (Index("ix_profiles_username", "service_username"),)


class Job(Base):
    r"""One accepted change (or snapshot request), folded in id order per profile.

    Its state changes only through `start`, `succeed`, `retry_at` and `fail`:

        queued --start--> running --succeed--> succeeded
                             |  \--fail-----> failed
                             \--retry_at--> retrying --start--> running ...
    """

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    profile_id: Mapped[str | None] = mapped_column(String(24), index=True)
    account: Mapped[str] = mapped_column(String(64))
    client: Mapped[str | None] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    error_status: Mapped[int | None]
    error_code: Mapped[int | None]
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    # when the current (or last) attempt started: the reconciler's measure of a stuck one
    attempt_started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    next_attempt_at: Mapped[dt.datetime | None]
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # where to tell someone the outcome (e.g. a Slack response_url); never a secret
    notify: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # the Buffer write an attempt was about to make ({"before", "after"} in Buffer's
    # shape), kept before writing so a re-run after a crash can tell the write landed
    planned: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # jobs made together (a preset applied to several profiles) share a group id
    group_id: Mapped[str | None] = mapped_column(String(36), index=True)
    # a rotation run fired after its due time (the beat was down): by how many seconds
    late_seconds: Mapped[int | None]

    __table_args__ = (
        UniqueConstraint("client", "idempotency_key", name="uq_jobs_idempotency"),
        Index("ix_jobs_profile_status", "profile_id", "status"),
    )

    @property
    def finished(self) -> bool:
        """True once the job has succeeded or failed for good."""
        return self.status in (SUCCEEDED, FAILED)

    def start(self) -> None:
        """Count one more attempt and mark it running (`started_at` keeps the first start,
        `attempt_started_at` this one's)."""
        now = utcnow()
        self.status = RUNNING
        self.attempts = (self.attempts or 0) + 1
        self.started_at = self.started_at or now
        self.attempt_started_at = now

    def plan(self, before: list[Any], after: list[Any]) -> None:
        """Note, while running, the Buffer write this attempt is about to make (Buffer's
        schedules before and after), so that a re-run after a crash can report it."""
        self.planned = {"before": before, "after": after}

    def succeed(self, result: dict[str, Any] | None = None) -> None:
        """Finish successfully with `result`; an error from an earlier attempt is cleared."""
        self.result = result
        self._record_error(None, None, None)
        self._finish(SUCCEEDED)

    def retry_at(
        self,
        when: dt.datetime,
        error: str | None = None,
        status: int | None = None,
        code: int | None = None,
    ) -> None:
        """Wait until `when` for another attempt, keeping why the last one failed."""
        if error is not None:
            self._record_error(error, status, code)
        self.status = RETRYING
        self.next_attempt_at = when

    def fail(
        self, error: str | None = None, status: int | None = None, code: int | None = None
    ) -> None:
        """Finish for good; `error` (with Buffer's HTTP `status` and `code`) says why."""
        if error is not None:
            self._record_error(error, status, code)
        self._finish(FAILED)

    def _record_error(self, message: str | None, status: int | None, code: int | None) -> None:
        self.error_message, self.error_status, self.error_code = message, status, code

    def note_followup(self, state: str, reason: str | None = None, attempt: bool = False) -> None:
        """Record how telling someone the outcome went (`notify.state`: pending, sent,
        refused, gave_up), counting an attempt when `attempt`; the job itself is unchanged."""
        notify = dict(self.notify or {})
        notify["state"] = state
        if attempt:
            notify["attempts"] = int(notify.get("attempts", 0)) + 1
            notify["attempted_at"] = utcnow().isoformat()
        if reason is not None:
            notify["reason"] = reason
        self.notify = notify  # a new dict: JSON columns do not track changes in place

    def _finish(self, status: str) -> None:
        self.status = status
        self.finished_at = utcnow()
        self.next_attempt_at = None
        self.planned = None
        if self.notify:
            self.note_followup("pending")  # the reconciler re-sends it if its task is lost


class Snapshot(Base):
    """A profile's schedules at one moment, and why they were recorded."""

    __tablename__ = "snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    profile_id: Mapped[str] = mapped_column(String(24))
    taken_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    schedules: Mapped[list[Any]] = mapped_column(default=list)
    paused_days: Mapped[list[Any]] = mapped_column(default=list)
    content_hash: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(32))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"))

    __table_args__ = (Index("ix_snapshots_profile_taken", "profile_id", "taken_at"),)


class ApiClient(Base):
    """Someone allowed to call the bridge: only a hash of the token is kept."""

    __tablename__ = "api_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # profile references this client may touch; None means every profile
    profiles: Mapped[list[Any] | None] = mapped_column(JSON)
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]
    # Standard Webhooks secret (whsec_...), needed in clear to verify signatures
    signing_secret: Mapped[str | None] = mapped_column(String(255))
    slack_team: Mapped[str | None] = mapped_column(String(64), index=True)
    slack_channel: Mapped[str | None] = mapped_column(String(64))
    slack_user: Mapped[str | None] = mapped_column(String(64))
    mattermost_token_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    # the Mattermost server's base URL: follow-ups go there and nowhere else
    mattermost_url: Mapped[str | None] = mapped_column(String(255))
    # the dashboard's session generation: a sign-out adds one, so every cookie signed in
    # before it (a copy included) stops working, though its signature is still good
    ui_session: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    deliveries: Mapped[list[WebhookDelivery]] = relationship(back_populates="api_client")

    @property
    def revoked(self) -> bool:
        """True once the client has been revoked."""
        return self.revoked_at is not None


class WebhookDelivery(Base):
    """A signed webhook already answered: a replay gets the first answer back."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_clients.id"))
    webhook_id: Mapped[str] = mapped_column(String(255))
    status: Mapped[int]
    response: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    api_client: Mapped[ApiClient] = relationship(back_populates="deliveries")

    __table_args__ = (UniqueConstraint("client_id", "webhook_id", name="uq_webhook_delivery"),)


class Preset(Base):
    """A named week of posting times, owned by a Buffer account, applied to profiles.

    `owner_id` None: account-wide (made by an unscoped client or the operator), one per
    name; else the scoped client that made it, whose own names are unique among its own
    (bridge/presets.py says who reads, changes and applies which)."""

    __tablename__ = "presets"
    __table_args__ = (
        UniqueConstraint("owner_id", "name", name="uq_presets_owner_name"),
        # NULLs differ in a unique constraint: account-wide names need their own index
        Index(
            "uq_presets_shared_name",
            "name",
            unique=True,
            sqlite_where=text("owner_id IS NULL"),
            postgresql_where=text("owner_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_clients.id", name="fk_presets_owner_id")
    )
    account: Mapped[str] = mapped_column(String(64))
    # the week as `schedules.week_to_json` gives it (day -> times)
    week: Mapped[dict[str, Any]] = mapped_column(default=dict)
    client: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RotationPlan(Base):
    """A timetable of presets for some profiles. `client` is the creator whose scopes
    every run keeps (None: made by an operator through the CLI, every profile)."""

    __tablename__ = "rotation_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    client: Mapped[str | None] = mapped_column(String(128))
    profiles: Mapped[list[Any]] = mapped_column(default=list)
    service: Mapped[str | None] = mapped_column(String(64))
    steps: Mapped[list[Any]] = mapped_column(default=list)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    targets: Mapped[list[RotationTarget]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="RotationTarget.id"
    )


class RotationTarget(Base):
    """One profile of a plan: its next run in UTC, and what the runs so far left behind.

    `done_until` is the instant up to which every step has been dealt with; `next_run_at` the
    first step after it (None: no step comes any more). `claimed_until` is the lease of
    the tick firing it (SQLite has no row locks to skip)."""

    __tablename__ = "rotation_targets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("rotation_plans.id", ondelete="CASCADE"))
    profile_id: Mapped[str] = mapped_column(String(24))
    done_until: Mapped[dt.datetime]
    next_run_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    claimed_until: Mapped[dt.datetime | None]
    claim_token: Mapped[str | None] = mapped_column(String(36))
    last_run_at: Mapped[dt.datetime | None]
    last_job_id: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # override step index (as a string) -> the job that started it
    overrides: Mapped[dict[str, Any]] = mapped_column(default=dict)

    plan: Mapped[RotationPlan] = relationship(back_populates="targets")

    __table_args__ = (UniqueConstraint("plan_id", "profile_id", name="uq_rotation_target"),)


# Delivery statuses of an outbound event (bridge/events/outbound.py).
DELIVERY_PENDING, DELIVERED, DELIVERY_FAILED = "pending", "delivered", "failed"
DELIVERY_STATUSES = (DELIVERY_PENDING, DELIVERED, DELIVERY_FAILED)


class EventSubscription(Base):
    """Where a client wants outbound events sent: a signed webhook, Slack or Zapier."""

    __tablename__ = "event_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_clients.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # webhook | slack | zapier
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[Any]] = mapped_column(default=list)
    # profile ids; None: every profile the client can see
    profiles: Mapped[list[Any] | None] = mapped_column(JSON)
    # Standard Webhooks secret (whsec_...), needed in clear to sign
    secret: Mapped[str] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # since when every attempt failed (None after a success); 5 days of it disables
    failing_since: Mapped[dt.datetime | None]
    failures: Mapped[int] = mapped_column(default=0)  # deliveries given up on
    disabled_at: Mapped[dt.datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(String(255))
    deleted_at: Mapped[dt.datetime | None]


class Event(Base):
    """Something a subscriber may want to know, stored before anything is sent."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uid: Mapped[str] = mapped_column(String(40), unique=True)  # evt_...: the webhook-id
    type: Mapped[str] = mapped_column(String(40))
    account: Mapped[str | None] = mapped_column(String(64))
    profile_id: Mapped[str | None] = mapped_column(String(24))
    sequence: Mapped[int | None]  # per profile, strictly increasing
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_events_type_created", "type", "created_at"),)


class EventDelivery(Base):
    """The outbox: one event to one subscription, and how sending it went."""

    __tablename__ = "event_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("event_subscriptions.id"))
    profile_id: Mapped[str | None] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16), default=DELIVERY_PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime | None]
    # a sender holds the row until then; another sender (the reconciler's) waits
    claimed_until: Mapped[dt.datetime | None]
    last_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]

    event: Mapped[Event] = relationship()
    subscription: Mapped[EventSubscription] = relationship()

    __table_args__ = (
        Index("ix_event_deliveries_status_next", "status", "next_attempt_at"),
        Index("ix_event_deliveries_subscription", "subscription_id", "id"),
    )
