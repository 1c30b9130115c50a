"""Alembic environment: the URL comes from the caller (bridge db upgrade), never from a file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from bridge.db import make_engine
from bridge.models import Base
from bridge.posting import models as _posting_models  # noqa: F401  (its tables in Base)

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on a live connection (batch mode so SQLite can alter tables)."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: Connection) -> None:
    """Configure the context on `connection` and migrate.

    On SQLite, foreign keys are off while migrating, as Alembic's batch mode needs: it
    copies a table and drops the old one, which a referencing row would otherwise stop.
    The pragma only takes effect outside a transaction, so it is set before ours begins,
    and `foreign_key_check` proves nothing was left dangling before the commit."""
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first():
            raise RuntimeError("migration left rows pointing at rows that no longer exist")
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
