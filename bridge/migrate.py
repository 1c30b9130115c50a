"""Run the Alembic migrations programmatically (`bridge db upgrade`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from bridge.db import OUTAGE_ERRORS, make_engine, normalise_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointing at our migrations and `database_url`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalise_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema at `database_url` up to `revision`."""
    command.upgrade(alembic_config(database_url), revision)


def _sqlite_file(database_url: str) -> Path | None:
    """The file of a SQLite URL, None for an in-memory database or another server."""
    url = make_url(normalise_url(database_url))
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(url.database).resolve()
    return None


def describe(database_url: str) -> str:
    """The database in words for a person: a SQLite file's absolute path, otherwise the
    URL with its password hidden."""
    path = _sqlite_file(database_url)
    if path is not None:
        return f"the SQLite file {path}"
    return make_url(normalise_url(database_url)).render_as_string(hide_password=True)


def has_schema(database_url: str) -> bool:
    """False when the database holds no migrated schema (no alembic_version table), a
    SQLite file that does not exist included, which is then not created; True otherwise,
    an unreachable database included (the caller's own query says so in its words)."""
    path = _sqlite_file(database_url)
    if path is not None and not path.exists():
        return False
    engine = make_engine(database_url)
    try:
        return bool(inspect(engine).has_table("alembic_version"))
    except OUTAGE_ERRORS:
        return True
    finally:
        engine.dispose()
