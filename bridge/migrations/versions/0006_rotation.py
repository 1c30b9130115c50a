"""Presets and rotation plans; a job's group and lateness

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-09 10:00:00

`presets` are named weeks; `rotation_plans` their timetables and `rotation_targets` one
row per profile of a plan with its next run in UTC. `jobs.group_id` ties together the
jobs of one preset applied to several profiles, `jobs.late_seconds` says how late a
rotation run fired. New tables and nullable columns: existing rows need no value.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("group_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("late_seconds", sa.Integer(), nullable=True))
        batch.create_index("ix_jobs_group_id", ["group_id"])
    op.create_table(
        "presets",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(length=64), nullable=False, unique=True),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("week", sa.JSON(), nullable=False),
        sa.Column("client", sa.String(length=128), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
    )
    op.create_table(
        "rotation_plans",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(length=64), nullable=False, unique=True),
        sa.Column("client", sa.String(length=128), nullable=True),
        sa.Column("profiles", sa.JSON(), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=True),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
    )
    op.create_table(
        "rotation_targets",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "plan_id",
            sa.Integer(),
            sa.ForeignKey("rotation_plans.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("profile_id", sa.String(length=24), nullable=False),
        sa.Column("done_until", UTC, nullable=False),
        sa.Column("next_run_at", UTC, nullable=True),
        sa.Column("claimed_until", UTC, nullable=True),
        sa.Column("claim_token", sa.String(length=36), nullable=True),
        sa.Column("last_run_at", UTC, nullable=True),
        sa.Column("last_job_id", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("overrides", sa.JSON(), nullable=False),
        sa.UniqueConstraint("plan_id", "profile_id", name="uq_rotation_target"),
    )
    op.create_index("ix_rotation_targets_next_run_at", "rotation_targets", ["next_run_at"])


def downgrade() -> None:
    op.drop_index("ix_rotation_targets_next_run_at", table_name="rotation_targets")
    op.drop_table("rotation_targets")
    op.drop_table("rotation_plans")
    op.drop_table("presets")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_group_id")
        batch.drop_column("late_seconds")
        batch.drop_column("group_id")
