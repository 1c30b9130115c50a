"""The store on SQLite and PostgreSQL: migrations, clients, idempotency, snapshots."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from bridge import auth, models, profiles, schedules, snapshots
from bridge.buffer.models import Profile as BufferProfile
from bridge.db import Database
from bridge.errors import Conflict, Forbidden, ProfileNotFound, Unauthorized
from bridge.models import utcnow
from tests.conftest import make_settings


@pytest.fixture
def db(any_database_url: str) -> Database:
    database = Database(any_database_url)
    yield database
    database.dispose()


def buffer_profile(pid: str, service: str, username: str) -> BufferProfile:
    return BufferProfile.from_json(
        {
            "id": pid,
            "service": service,
            "service_username": username,
            "formatted_username": f"@{username}",
            "timezone": "Europe/London",
            "schedules": [{"days": ["mon"], "times": ["09:00"]}],
            "counts": {"pending": 3},
        }
    )


def seed(db: Database) -> None:
    with db.session() as session:
        profiles.ensure_accounts(session, make_settings(BUFFER_ACCESS_TOKEN="t"))
        profiles.upsert(
            session,
            "default",
            [
                buffer_profile("a" * 24, "twitter", "brand"),
                buffer_profile("b" * 24, "facebook", "brand"),
                buffer_profile("c" * 24, "linkedin", "solo"),
            ],
            utcnow(),
        )


def test_migrations_create_every_table(db: Database) -> None:
    tables = set(inspect(db.engine).get_table_names())
    assert set(models.Base.metadata.tables) <= tables


def test_profile_references(db: Database) -> None:
    seed(db)
    with db.session() as session:
        assert profiles.resolve(session, "a" * 24).service == "twitter"
        assert profiles.resolve(session, "Twitter:Brand").id == "a" * 24
        assert profiles.resolve(session, "@solo").id == "c" * 24
        assert profiles.resolve(session, "twitter:@brand").id == "a" * 24
        brand = profiles.resolve(session, "a" * 24)
        for ref in ("a" * 24, "Twitter:Brand", "twitter:@brand", "@BRAND"):
            assert profiles.matches(brand, [ref]), ref  # scopes read refs as resolve does
        assert not profiles.matches(brand, ["facebook:brand", "@solo", "b" * 24])
        with pytest.raises(ProfileNotFound, match="several profiles"):
            profiles.resolve(session, "@brand")
        with pytest.raises(ProfileNotFound, match="unknown profile"):
            profiles.resolve(session, "@nobody")
        cached = profiles.resolve(session, "a" * 24)
        assert cached.data["counts"] == {"pending": 3}  # extra Buffer fields are kept


def test_client_tokens_are_hashed_scoped_and_revocable(db: Database) -> None:
    seed(db)
    with db.session() as session:
        client, token = auth.create_client(session, "zap", ["@solo"], read_only=False)
        assert token not in (client.token_hash, str(client.profiles))
    with db.session() as session:
        found = auth.authenticate(session, token)
        solo = profiles.resolve(session, "@solo")
        other = profiles.resolve(session, "twitter:brand")
        auth.check_write(found, solo)
        with pytest.raises(ProfileNotFound):  # outside the scopes answers as unknown
            auth.check_read(found, other)
        with pytest.raises(Conflict):
            auth.create_client(session, "zap")
    with db.session() as session:
        reader, _reader_token = auth.create_client(session, "viewer", read_only=True)
        with pytest.raises(Forbidden, match="read-only"):
            auth.check_write(reader)
        auth.revoke(session, "zap")
    with db.session() as session, pytest.raises(Unauthorized, match="revoked"):
        auth.authenticate(session, token)
    with db.session() as session, pytest.raises(Unauthorized):
        auth.authenticate(session, "bb_not-a-token")


def test_snapshots_only_when_changed_and_external_marked(db: Database) -> None:
    seed(db)
    week = schedules.from_buffer([{"days": ["mon"], "times": ["09:00"]}])
    changed = schedules.apply(week, schedules.Operation.add("tue", "10:00"))
    with db.session() as session:
        assert snapshots.record_if_changed(session, "a" * 24, week)
        assert not snapshots.record_if_changed(session, "a" * 24, week)
        assert snapshots.record_if_changed(session, "a" * 24, changed)
    with db.session() as session:
        items = snapshots.listing(session, "a" * 24)
        assert [s.reason for s in items] == ["external_change", "periodic"]
        view = snapshots.to_json(items[0], items[1])
        assert view["diff"] == {
            "tue": {"before": [], "after": ["10:00"], "added": ["10:00"], "removed": []}
        }
        target = snapshots.restore_target(session, "a" * 24, None)
        assert target.id == items[1].id
        assert items[0].taken_at.tzinfo is not None


def test_idempotency_key_unique_per_client(db: Database) -> None:
    from sqlalchemy.exc import IntegrityError

    with db.session() as session:
        for client in ("one", "two"):
            session.add(
                models.Job(
                    profile_id="a" * 24,
                    account="default",
                    client=client,
                    source="rest",
                    kind="set",
                    idempotency_key="k1",
                )
            )
    with pytest.raises(IntegrityError), db.session() as session:
        session.add(
            models.Job(
                profile_id="a" * 24,
                account="default",
                client="one",
                source="rest",
                kind="set",
                idempotency_key="k1",
            )
        )


def test_bulk_snapshot_takes_a_fixed_number_of_statements(db: Database) -> None:
    """The cache upsert and the snapshots cost the same statements for 3 or 1,200 profiles
    (one more per chunk of 500 ids), keep the newest hash per profile, and tell drift."""
    from sqlalchemy import event

    def found(prefix: int, count: int, time: str) -> list[BufferProfile]:
        made = []
        for n in range(count):
            profile = buffer_profile(f"{prefix:04x}{n:020x}", "twitter", f"user{prefix}-{n}")
            if n < 2:  # two of them drift when `time` changes
                profile = BufferProfile.from_json(
                    {**profile.to_json(), "schedules": [{"days": ["mon"], "times": [time]}]}
                )
            made.append(profile)
        return made

    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        for prefix, size in ((1, 3), (2, 1200)):
            for time, expect in (("09:00", size), ("09:00", 0), ("10:00", 2)):
                statements.clear()
                with db.session() as session:
                    profiles.ensure_accounts(session, make_settings(BUFFER_ACCESS_TOKEN="t"))
                    batch = found(prefix, size, time)
                    profiles.upsert_bulk(session, "default", batch, utcnow())
                    changed = snapshots.record_changed(session, "default", batch)
                assert len(changed) == expect
                chunks = -(-size // profiles.BULK_CHUNK)
                # accounts, select/insert/update per chunk, latest hashes, one insert; a
                # drifted profile costs its previous snapshot and its event
                assert len(statements) <= 10 + 3 * chunks + 4 * min(expect, 2), statements[:20]
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    first = f"{2:04x}{0:020x}"
    with db.session() as session:
        newest = snapshots.latest_hashes(session, "default")
        assert len(newest) == 1203
        drifted = snapshots.latest(session, first)
        assert drifted is not None and drifted.reason == models.EXTERNAL_CHANGE
        assert drifted.schedules == [{"days": ["mon"], "times": ["10:00"]}]
        assert newest[first] == (drifted.id, drifted.content_hash)
        row = session.get(models.Profile, first)
        assert row is not None and row.schedules == drifted.schedules
        kinds = [e.type for e in session.query(models.Event).all()]
    assert kinds.count("schedule.drifted") == 4


def test_no_statement_is_kept_prepared_on_postgresql(db: Database) -> None:
    """psycopg prepares a statement the 5th time one connection runs it, and PostgreSQL may
    then keep one generic plan: planned while `profiles` was empty, the bulk upsert's
    `id IN (...)` lookups stayed sequential scans over 10,000 rows (docs/BENCHMARKS.md).
    Every statement is planned afresh instead."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("server-side prepared statements are PostgreSQL's")
    from sqlalchemy import select, text

    with db.engine.connect() as conn:
        for _ in range(8):
            conn.execute(select(models.Profile.id).where(models.Profile.id.in_(["a", "b"])))
        kept = conn.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar_one()
        assert kept == 0
        # a batch (executemany) is prepared once for all its rows, not planned per row
        rows = [{"name": f"acct{n}", "token_var": "X", "created_at": utcnow()} for n in range(3)]
        conn.execute(models.Account.__table__.insert(), rows)
        batches = conn.execute(
            text("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'INSERT%'")
        ).scalar_one()
        assert batches == 1
        for _ in range(8):  # and a lone statement after it is still planned afresh
            conn.execute(select(models.Profile.id).where(models.Profile.id.in_(["a", "b"])))
        kept = conn.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar_one()
    assert kept == 1


def test_an_unchanged_profile_only_has_its_seen_at_touched(db: Database) -> None:
    """The cache compares Buffer's profile with the JSON text it stored: the same profile
    again is recognised as unchanged on both stores (only `seen_at` is written), a changed
    one is rewritten."""
    from sqlalchemy import event

    batch = [buffer_profile(f"{n:024x}", "twitter", f"user{n}") for n in range(3)]
    written: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        if statement.lstrip().upper().startswith(("UPDATE", "INSERT")):
            written.append(" ".join(statement.split())[:60])

    with db.session() as session:
        profiles.ensure_accounts(session, make_settings(BUFFER_ACCESS_TOKEN="t"))
        profiles.upsert_bulk(session, "default", batch, utcnow())
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        with db.session() as session:
            profiles.upsert_bulk(session, "default", batch, utcnow())
        assert written and all(w.startswith("UPDATE profiles SET seen_at") for w in written)
        written.clear()
        renamed = BufferProfile.from_json({**batch[0].to_json(), "timezone": "Asia/Tokyo"})
        with db.session() as session:
            profiles.upsert_bulk(session, "default", [renamed, *batch[1:]], utcnow())
        assert any(not w.startswith("UPDATE profiles SET seen_at") for w in written), written
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    with db.session() as session:
        row = session.get(models.Profile, batch[0].id)
        assert row is not None and row.timezone == "Asia/Tokyo"


def _tricky_profile() -> BufferProfile:
    """A profile whose strings COPY's text format would mangle unescaped."""
    return BufferProfile.from_json(
        {
            "id": "d" * 24,
            "service": "twitter",
            "service_username": "tab\there\nnew\\line \\N é ✓ \"q\" 'q'",
            "formatted_username": "\\N",
            "timezone": "",
            "schedules": [{"days": ["mon", "sat"], "times": ["09:00", "23:59"]}],
            "counts": {"nested": {"list": [1, 2.5, None, True, "\t\\"]}},
        }
    )


def test_copy_stores_exactly_what_an_insert_stores(db: Database) -> None:
    """`db.insert_rows` (COPY FROM STDIN on PostgreSQL) stores what the Core INSERT it
    replaced stores, column by column as the database's own text: JSON as SQLAlchemy
    serialises it, byte for byte (the cache's unchanged-row check compares that text), a
    timestamp given in another zone as the same instant, read back in UTC, and strings
    with a tab, a newline, a backslash or `\\N` intact."""
    import datetime as dt
    import json

    from sqlalchemy import String, cast, select

    from bridge import db as store

    tricky, plain = _tricky_profile(), buffer_profile("e" * 24, "facebook", "plain")
    elsewhere = dt.datetime(2026, 3, 29, 1, 30, 15, 123456, dt.timezone(dt.timedelta(hours=5)))
    rows = [
        {"id": p.id, **profiles._cached_values("default", p), "seen_at": elsewhere}
        for p in (tricky, plain)
    ]
    copied = [{**row, "id": row["id"][:-1] + "0"} for row in rows]
    week = schedules.from_buffer(tricky.to_json()["schedules"])
    snapshot = {
        "profile_id": tricky.id,
        "schedules": schedules.to_buffer(week),
        "paused_days": ["sat"],
        "content_hash": snapshots.content_hash(week.with_pauses(["sat"])),
        "reason": models.PERIODIC,
        "job_id": None,
        "taken_at": elsewhere,
    }
    profile_table = models.Base.metadata.tables["profiles"]
    snapshot_table = models.Base.metadata.tables["snapshots"]
    with db.session() as session:
        profiles.ensure_accounts(session, make_settings(BUFFER_ACCESS_TOKEN="t"))
        session.execute(profile_table.insert(), rows)
        session.execute(snapshot_table.insert(), [snapshot])
        store.insert_rows(session, profile_table, copied)
        store.insert_rows(session, snapshot_table, [snapshot])

    def as_text(table) -> dict[object, tuple[object, ...]]:
        """id -> every other column, as the database's own text."""
        others = [cast(c, String) for c in table.c if c.name != "id"]
        return {r[0]: tuple(r[1:]) for r in session.execute(select(table.c.id, *others))}

    with db.session() as session:
        stored = as_text(profile_table)
        assert [stored[c["id"]] for c in copied] == [stored[r["id"]] for r in rows]
        data = [c.name for c in profile_table.c if c.name != "id"].index("data")
        assert [stored[c["id"]][data] for c in copied] == [json.dumps(r["data"]) for r in rows]
        first, second = as_text(snapshot_table).values()
        assert first == second
        read = session.get(models.Profile, copied[0]["id"])
        assert read is not None and read.data == tricky.to_json()
        assert read.service_username == tricky.service_username
        assert read.seen_at == elsewhere and read.seen_at.utcoffset() == dt.timedelta(0)


def test_a_connection_lost_under_a_copy_is_the_database_unavailable(db: Database) -> None:
    """COPY runs on the driver's connection, below SQLAlchemy: a connection the server
    ends under it is still told as DatabaseUnavailable (a 503, as for any statement),
    not as the driver's own error, and the next session gets a working connection."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    from bridge import db as store
    from bridge.errors import DatabaseUnavailable

    with db.session() as session:
        profiles.ensure_accounts(session, make_settings(BUFFER_ACCESS_TOKEN="t"))
    plain = buffer_profile("f" * 24, "twitter", "plain")
    rows = [{"id": plain.id, **profiles._cached_values("default", plain), "seen_at": utcnow()}]
    killer = create_engine(db.url)
    raised: list[Exception] = []
    try:
        with pytest.raises(DatabaseUnavailable), db.session() as session:
            pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
            with killer.begin() as conn:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            try:
                store.insert_rows(session, models.Base.metadata.tables["profiles"], rows)
            except Exception as error:
                raised.append(error)
                raise
    finally:
        killer.dispose()
    # SQLAlchemy's, not psycopg's (the failed rollback after it would be one either way)
    assert [type(e) for e in raised] == [OperationalError], raised
    with db.session() as session:
        assert session.execute(text("SELECT count(*) FROM profiles")).scalar_one() == 0
