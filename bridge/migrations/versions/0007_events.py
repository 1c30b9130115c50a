"""Outbound events: subscriptions, the events themselves and their deliveries (the outbox)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-09 10:00:00

`profiles.event_sequence` is nullable: profiles with no event yet need no value.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("profiles") as batch:
        batch.add_column(sa.Column("event_sequence", sa.Integer(), nullable=True))
    op.create_table(
        "event_subscriptions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.Integer(), sa.ForeignKey("api_clients.id"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("profiles", sa.JSON(), nullable=True),
        sa.Column("secret", sa.String(length=255), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", NOW, nullable=False),
        sa.Column("failing_since", NOW, nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("disabled_at", NOW, nullable=True),
        sa.Column("disabled_reason", sa.String(length=255), nullable=True),
        sa.Column("deleted_at", NOW, nullable=True),
    )
    op.create_index("ix_event_subscriptions_client_id", "event_subscriptions", ["client_id"])
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("uid", sa.String(length=40), nullable=False, unique=True),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=True),
        sa.Column("profile_id", sa.String(length=24), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", NOW, nullable=False),
    )
    op.create_index("ix_events_type_created", "events", ["type", "created_at"])
    op.create_table(
        "event_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.Integer(), sa.ForeignKey("events.id"), nullable=False),
        sa.Column(
            "subscription_id",
            sa.Integer(),
            sa.ForeignKey("event_subscriptions.id"),
            nullable=False,
        ),
        sa.Column("profile_id", sa.String(length=24), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", NOW, nullable=True),
        sa.Column("claimed_until", NOW, nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", NOW, nullable=False),
        sa.Column("finished_at", NOW, nullable=True),
    )
    op.create_index("ix_event_deliveries_event_id", "event_deliveries", ["event_id"])
    op.create_index(
        "ix_event_deliveries_status_next", "event_deliveries", ["status", "next_attempt_at"]
    )
    op.create_index(
        "ix_event_deliveries_subscription", "event_deliveries", ["subscription_id", "id"]
    )


def downgrade() -> None:
    op.drop_table("event_deliveries")
    op.drop_table("events")
    op.drop_index("ix_event_subscriptions_client_id", "event_subscriptions")
    op.drop_table("event_subscriptions")
    with op.batch_alter_table("profiles") as batch:
        batch.drop_column("event_sequence")
