"""Worker state: per-attempt start times, the planned Buffer write, a Mattermost base URL

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 10:00:00

`jobs.attempt_started_at` lets the reconciler tell a stuck attempt from a running one;
`jobs.planned` keeps the Buffer write an attempt was about to make, so a re-run after a
crash reports it; `api_clients.mattermost_url` is the only place a Mattermost client's
follow-ups may go. All three are nullable: existing rows need no value.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("attempt_started_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("planned", sa.JSON(), nullable=True))
    with op.batch_alter_table("api_clients") as batch:
        batch.add_column(sa.Column("mattermost_url", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_clients") as batch:
        batch.drop_column("mattermost_url")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("planned")
        batch.drop_column("attempt_started_at")
