"""Paused days on cached profiles and snapshots (Buffer's GraphQL API reports them)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 21:30:00

Existing rows came from v1, which has no pauses: they get an empty list.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("profiles", "snapshots")


def upgrade() -> None:
    """Add `paused_days` (a JSON list of day names, empty for v1) to both tables."""
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(
                sa.Column("paused_days", sa.JSON(), nullable=False, server_default="[]")
            )


def downgrade() -> None:
    """Drop `paused_days` again."""
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("paused_days")
