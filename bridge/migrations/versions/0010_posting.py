"""Kept weeks and placed posts: profile_settings, placed_posts

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 19:00:00

Nothing existing changes: a profile without a settings row follows its account's mode.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "profile_settings",
        sa.Column("profile_id", sa.String(length=24), primary_key=True),
        sa.Column("mode", sa.String(length=8), nullable=True),
        sa.Column("adopt_queue", sa.Boolean(), nullable=False),
        sa.Column("min_gap_minutes", sa.Integer(), nullable=False),
        sa.Column("excluded_dates", sa.JSON(), nullable=False),
        sa.Column("week", sa.JSON(), nullable=True),
        sa.Column("paused_days", sa.JSON(), nullable=False),
        sa.Column("week_version", sa.Integer(), nullable=False),
        sa.Column("moving_job_id", sa.Integer(), nullable=True),
        sa.Column("adopted_at", NOW, nullable=True),
        sa.Column("updated_at", NOW, nullable=False),
    )
    op.create_table(
        "placed_posts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("profile_id", sa.String(length=24), nullable=False),
        sa.Column("job_id", sa.Integer(), sa.ForeignKey("jobs.id"), nullable=True),
        sa.Column("buffer_post_id", sa.String(length=64), nullable=False),
        sa.Column("when", sa.String(length=8), nullable=False),
        sa.Column("due_at", NOW, nullable=True),
        sa.Column("slot", sa.String(length=16), nullable=True),
        sa.Column("excerpt", sa.Text(), nullable=False),
        sa.Column("adopted", sa.Boolean(), nullable=False),
        sa.Column("week_version", sa.Integer(), nullable=False),
        sa.Column("gone", sa.Boolean(), nullable=False),
        sa.Column("created_at", NOW, nullable=False),
    )
    op.create_index("ix_placed_posts_profile", "placed_posts", ["profile_id", "gone"])
    op.create_index("ix_placed_posts_buffer_id", "placed_posts", ["buffer_post_id"], unique=True)


def downgrade() -> None:
    op.drop_table("placed_posts")
    op.drop_table("profile_settings")
