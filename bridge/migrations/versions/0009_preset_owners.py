"""Presets get owners: account-wide ones (no owner) and a scoped client's own

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 18:40:00

Before, a preset's name was unique across all clients and any writer could change any
preset, so a client scoped to some profiles could rewrite what another client's rotation
plan put on profiles outside those scopes (issue 20). Now `owner_id` says whose it is:
None is account-wide (only unscoped writers change it), otherwise the scoped client that
made it. Existing presets made by a scoped client become that client's own; every other
preset becomes account-wide. A plan of another client that named a scoped client's
preset no longer finds it (its runs fail saying "unknown preset"), which is the point.

The name's unique constraint was created unnamed: PostgreSQL called it presets_name_key,
SQLite keeps none by name, so batch mode names it through a naming convention to drop it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONVENTION = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
SHARED_ONLY = sa.text("owner_id IS NULL")


def _old_unique() -> str:
    return "presets_name_key" if op.get_bind().dialect.name == "postgresql" else "uq_presets_name"


def upgrade() -> None:
    with op.batch_alter_table("presets", naming_convention=CONVENTION) as batch:
        batch.add_column(sa.Column("owner_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_presets_owner_id", "api_clients", ["owner_id"], ["id"])
        batch.drop_constraint(_old_unique(), type_="unique")
        batch.create_unique_constraint("uq_presets_owner_name", ["owner_id", "name"])
    op.create_index(
        "uq_presets_shared_name",
        "presets",
        ["name"],
        unique=True,
        sqlite_where=SHARED_ONLY,
        postgresql_where=SHARED_ONLY,
    )
    _own_presets_of_scoped_clients()


def _own_presets_of_scoped_clients() -> None:
    """Presets made by a scoped client become its own (its scopes are JSON: read in Python,
    as a JSON null and an SQL NULL look alike to neither database's SQL in the same way)."""
    bind = op.get_bind()
    clients = sa.table(
        "api_clients",
        sa.column("id", sa.Integer()),
        sa.column("name"),
        sa.column("profiles", sa.JSON()),
    )
    presets = sa.table(
        "presets", sa.column("owner_id", sa.Integer()), sa.column("client", sa.String())
    )
    for client_id, name, scope in bind.execute(
        sa.select(clients.c.id, clients.c.name, clients.c.profiles)
    ):
        if scope:
            bind.execute(
                sa.update(presets).where(presets.c.client == name).values(owner_id=client_id)
            )


def downgrade() -> None:
    # names were unique across owners: every preset but the oldest of a name is renamed
    # `<name>-<id>` (kept, not dropped)
    op.drop_index("uq_presets_shared_name", "presets")
    op.execute(
        "UPDATE presets SET name = substr(name, 1, 50) || '-' || CAST(id AS VARCHAR(12)) "
        "WHERE id NOT IN (SELECT MIN(id) FROM presets GROUP BY name)"
    )
    with op.batch_alter_table("presets", naming_convention=CONVENTION) as batch:
        batch.drop_constraint("uq_presets_owner_name", type_="unique")
        batch.drop_constraint("fk_presets_owner_id", type_="foreignkey")
        batch.drop_column("owner_id")
        batch.create_unique_constraint(_old_unique(), ["name"])
