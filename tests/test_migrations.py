"""Migrations keep every row and leave the schema the models describe, on both databases."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from bridge import models
from bridge.db import Database
from bridge.migrate import alembic_config, upgrade

PROFILE = "4eb854340acb04e870000010"


def _old_rows(url: str) -> None:
    """A job and its snapshot as revision 0001 stored them."""
    db = Database(url)
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO operations (id, profile_id, account, source, kind, params, status,"
                " attempts, created_at) VALUES (7, :p, 'default', 'rest', 'set', '{}',"
                " 'succeeded', 1, CURRENT_TIMESTAMP)"
            ),
            {"p": PROFILE},
        )
        conn.execute(
            text(
                "INSERT INTO snapshots (id, profile_id, taken_at, schedules, content_hash, reason,"
                " operation_id) VALUES (3, :p, CURRENT_TIMESTAMP, '[]', 'h', 'after_change', 7)"
            ),
            {"p": PROFILE},
        )
    db.dispose()


def test_renaming_operations_to_jobs_keeps_every_row(unmigrated_database_url: str) -> None:
    url = unmigrated_database_url
    upgrade(url, "0001")
    _old_rows(url)
    upgrade(url)
    db = Database(url)
    with db.session() as session:
        job = session.get(models.Job, 7)
        snapshot = session.get(models.Snapshot, 3)
        assert job is not None and job.status == models.SUCCEEDED and job.profile_id == PROFILE
        assert snapshot is not None and snapshot.job_id == 7
        session.add(models.Job(profile_id=PROFILE, account="default", source="rest", kind="set"))
    with db.session() as session:
        ids = [j.id for j in session.query(models.Job)]
        assert len(ids) == 2 and 7 in ids
    db.dispose()
    command.downgrade(alembic_config(url), "0001")
    db = Database(url)
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT operation_id FROM snapshots")).scalar() == 7
        assert conn.execute(text("SELECT count(*) FROM operations")).scalar() == 2
    db.dispose()


def test_the_migrated_schema_is_the_models_schema(any_database_url: str) -> None:
    db = Database(any_database_url)
    with db.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), models.Base.metadata)
    db.dispose()
    assert differences == []


def test_presets_of_scoped_clients_become_their_own(unmigrated_database_url: str) -> None:
    """0009: a preset a scoped client made is its own; any other is account-wide."""
    url = unmigrated_database_url
    upgrade(url, "0007")
    db = Database(url)
    with db.engine.begin() as conn:
        for id_, name, scope in ((1, "scoped", '["p1"]'), (2, "all", None)):
            conn.execute(
                text(
                    "INSERT INTO api_clients (id, name, token_hash, profiles, read_only,"
                    " created_at) VALUES (:i, :n, :h, :s, false, CURRENT_TIMESTAMP)"
                ),
                {"i": id_, "n": name, "h": f"hash{id_}", "s": scope},
            )
        for id_, name, owner in ((1, "mine", "scoped"), (2, "shared", "all"), (3, "cli", None)):
            conn.execute(
                text(
                    "INSERT INTO presets (id, name, account, week, client, created_at,"
                    " updated_at) VALUES (:i, :n, 'default', '{}', :c, CURRENT_TIMESTAMP,"
                    " CURRENT_TIMESTAMP)"
                ),
                {"i": id_, "n": name, "c": owner},
            )
    db.dispose()
    upgrade(url)
    db = Database(url)
    with db.session() as session:
        owners = {p.name: p.owner_id for p in session.query(models.Preset)}
    db.dispose()
    assert owners == {"mine": 1, "shared": None, "cli": None}
    command.downgrade(alembic_config(url), "0007")
