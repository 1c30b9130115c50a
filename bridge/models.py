"""The store: SQLAlchemy 2 models. Migrations live in bridge/migrations (Alembic).

The database, not Redis, is the source of truth: every accepted change is an
Operation row before anything is queued.
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


# Operation statuses; "pending" ones are the ones a sync must still fold.
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
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_profiles_username", "service_username"),)


class Operation(Base):
    """One accepted change (or snapshot request): a job, folded in id order per profile."""

    __tablename__ = "operations"

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
    finished_at: Mapped[dt.datetime | None]
    next_attempt_at: Mapped[dt.datetime | None]
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # where to tell someone the outcome (e.g. a Slack response_url); never a secret
    notify: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        UniqueConstraint("client", "idempotency_key", name="uq_operations_idempotency"),
        Index("ix_operations_profile_status", "profile_id", "status"),
    )


class Snapshot(Base):
    """A profile's schedules at one moment, and why they were recorded."""

    __tablename__ = "snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    profile_id: Mapped[str] = mapped_column(String(24))
    taken_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    schedules: Mapped[list[Any]] = mapped_column(default=list)
    content_hash: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(32))
    operation_id: Mapped[int | None] = mapped_column(ForeignKey("operations.id"))

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
