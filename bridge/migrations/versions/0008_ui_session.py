"""The dashboard's session generation per client (a sign-out ends every copy of a cookie)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 18:30:00

Existing clients start at 0; cookies made before this revision carry no generation and
are refused, so everyone signs in to the dashboard once more.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_clients") as batch:
        batch.add_column(sa.Column("ui_session", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("api_clients") as batch:
        batch.drop_column("ui_session")
