"""Engine and sessions: SQLite by default (WAL, busy timeout), PostgreSQL in production."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import JSON, Engine, Table, create_engine, event, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import TypeDecorator, TypeEngine

from bridge.errors import DatabaseUnavailable

log = logging.getLogger(__name__)
SQLITE_BUSY_TIMEOUT_MS = 10_000
# Bounds on how long a request waits for PostgreSQL when it is down or swamped, so the
# caller gets a 503 in seconds instead of a hung thread: a new connection (libpq's
# connect_timeout: a host that drops packets instead of refusing), and a free pooled
# connection when every one is in use (SQLAlchemy's pool_timeout, 30 s by default).
CONNECT_TIMEOUT = 5
POOL_TIMEOUT = 5
# what callers are told: the driver's own words name hosts and ports, so they go to the log
UNAVAILABLE = "the database is unavailable"
OUTBOX = "bridge.outbox"  # session.info key: outbox rows to send once committed (events.py)
# What "the database is unavailable" is made of: it refused or dropped the connection, or
# ended our session (OperationalError: refused, shutting down, terminated by an
# administrator, crashed), the driver found the connection closed under it
# (InterfaceError), or no pooled connection came free within POOL_TIMEOUT.
OUTAGE_ERRORS = (OperationalError, InterfaceError, PoolTimeout)


def normalise_url(url: str) -> str:
    """Let `postgres://` and `postgresql://` URLs use psycopg 3, the driver we install."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite gets WAL and a busy timeout so several processes can write."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # a connection the server dropped (a restart) is replaced at checkout, not failed on
    kwargs.setdefault("pool_pre_ping", True)
    # psycopg prepares a statement server-side once a connection has run it 5 times (its
    # prepare_threshold), and PostgreSQL may then keep one generic plan for it. A plan
    # made while a table was empty (a first snapshot's chunked `id IN (...)` lookups) stayed
    # a sequential scan once the table held 10,000 rows, until an ANALYZE: 0.2 s per chunk,
    # 4 s per warm snapshot (docs/BENCHMARKS.md). Planned each time, every statement sees
    # the table as it is; planning costs about a millisecond at most (a 500-id IN list).
    kwargs.setdefault("pool_timeout", POOL_TIMEOUT)
    kwargs["connect_args"] = {
        "connect_timeout": CONNECT_TIMEOUT,
        "prepare_threshold": None,
        **kwargs.get("connect_args", {}),
    }
    engine = create_engine(url, **kwargs)
    event.listen(engine, "before_cursor_execute", _prepare_only_batches)
    return engine


def _prepare_only_batches(
    _conn: Any, cursor: Any, _statement: str, _params: Any, _context: Any, executemany: bool
) -> None:
    """An executemany (a bulk INSERT, or UPDATE by primary key) runs one statement for
    thousands of rows: prepared at once, it is parsed and planned once instead of per row
    (twice as fast for 10,000 rows), and such a statement has one sensible plan whatever
    the table holds. Every other statement is planned afresh (see make_engine)."""
    cursor.connection.prepare_threshold = 0 if executemany else None


def insert_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT `rows` (dicts with the same keys; columns left out take the table's server
    defaults, e.g. a serial id) into `table` in `session`'s transaction, storing what
    `session.execute(table.insert(), rows)` stores. On PostgreSQL by one COPY FROM STDIN:
    one stream of rows instead of one bound statement per row in a pipeline: 10,000 cache
    rows in half the time, 10,000 snapshots in a third (docs/BENCHMARKS.md); elsewhere
    that executemany.

    No Python-side column default is applied and no id comes back: give every column the
    caller cares about, and read ids back if needed."""
    if not rows:
        return
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        session.execute(table.insert(), list(rows))
        return
    columns = list(rows[0])
    encoders = [_copy_encoder(table.c[name].type, dialect) for name in columns]
    quote = dialect.identifier_preparer
    statement = (
        f"COPY {quote.format_table(table)} ({', '.join(quote.quote(c) for c in columns)}) "
        "FROM STDIN"
    )
    driver = session.connection().connection.driver_connection  # psycopg, in our transaction
    assert driver is not None  # a checked-out connection always has one
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(
                    [encode(row[c]) for encode, c in zip(encoders, columns, strict=True)]
                )
    except dialect.loaded_dbapi.Error as error:
        # COPY runs below SQLAlchemy: its errors are raised as SQLAlchemy raises the
        # driver's errors of its own statements, so a lost connection is an
        # OperationalError (a DatabaseUnavailable, see OUTAGE_ERRORS), a duplicate key an
        # IntegrityError, and not the driver's own exception
        raise DBAPIError.instance(
            statement, None, error, dialect.loaded_dbapi.Error, dialect=dialect
        ) from error


def _copy_encoder(column_type: TypeEngine[Any], dialect: Any) -> Callable[[Any], Any]:
    """How a value of `column_type` goes into COPY so the row stored is the INSERT's:
    JSON as the text SQLAlchemy's psycopg dialect sends (psycopg's Json with its default
    dumps, `json.dumps`; a `json` column keeps it verbatim, which the profile cache's
    unchanged-row check relies on), a TypeDecorator's value after its own bind step (UTC
    for timestamps), anything else as psycopg adapts it."""
    if isinstance(column_type, JSON):
        # SQLAlchemy stores None as JSON `null` unless none_as_null; ours never set it
        assert not column_type.none_as_null
        return json.dumps
    if isinstance(column_type, TypeDecorator):
        decorator = column_type
        return lambda value: decorator.process_bind_param(value, dialect)
    return lambda value: value


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers and one writer work at once; busy_timeout waits instead of failing."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Database:
    """One engine and its session factory."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # called with the outbox delivery ids a committed session wrote (bridge/events/__init__.py)
        self.after_commit: Callable[[list[int]], None] | None = None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on error; DB outages become 503s
        that say only that (the driver's message, with hosts and ports, is logged)."""
        try:
            with self.sessions.begin() as session:
                yield session
        except OUTAGE_ERRORS as exc:
            log.error("database unavailable: %s", getattr(exc, "orig", None) or exc)
            raise DatabaseUnavailable(UNAVAILABLE) from exc
        outbox = session.info.pop(OUTBOX, None)
        if outbox and self.after_commit is not None:
            self.after_commit(list(outbox))

    def ping(self) -> None:
        """Raise DatabaseUnavailable unless the database answers."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            log.error("database unavailable: %s", getattr(exc, "orig", None) or exc)
            raise DatabaseUnavailable(UNAVAILABLE) from exc

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
