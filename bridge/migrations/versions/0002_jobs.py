"""Rename operations to jobs (the table holds jobs: changes and snapshot requests)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 21:20:00

Every row and id is kept: the table and the snapshots' reference column are renamed
in place (`ALTER TABLE ... RENAME`, which SQLite >= 3.26 and PostgreSQL both do, and
which carries the snapshots' foreign key along), and the indexes are made again under
their new names. SQLite cannot rename a constraint, so there the table is copied in
batch mode (foreign keys are off during migrations: see env.py).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = (
    ("profile_id", ["profile_id"]),
    ("status", ["status"]),
    ("profile_status", ["profile_id", "status"]),
)


def _rename(old: str, new: str, column_old: str, column_new: str) -> None:
    """Rename table `old` to `new`, its indexes, its unique constraint and the FK column."""
    for suffix, _columns in _INDEXES:
        op.drop_index(f"ix_{old}_{suffix}", table_name=old)
    op.rename_table(old, new)
    for suffix, columns in _INDEXES:
        op.create_index(f"ix_{new}_{suffix}", new, columns, unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"ALTER TABLE {new} RENAME CONSTRAINT uq_{old}_idempotency TO uq_{new}_idempotency"
        )
        op.execute(f"ALTER SEQUENCE {old}_id_seq RENAME TO {new}_id_seq")
    else:  # SQLite cannot rename a constraint: batch mode copies the table (rows and ids kept)
        with op.batch_alter_table(new, recreate="always") as batch_op:
            batch_op.drop_constraint(f"uq_{old}_idempotency", type_="unique")
            batch_op.create_unique_constraint(
                f"uq_{new}_idempotency", ["client", "idempotency_key"]
            )
    op.execute(f"ALTER TABLE snapshots RENAME COLUMN {column_old} TO {column_new}")


def upgrade() -> None:
    """operations -> jobs, snapshots.operation_id -> snapshots.job_id."""
    _rename("operations", "jobs", "operation_id", "job_id")


def downgrade() -> None:
    """jobs -> operations, snapshots.job_id -> snapshots.operation_id."""
    _rename("jobs", "operations", "job_id", "operation_id")
