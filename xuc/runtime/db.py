"""SQLAlchemy engines and Alembic migrations, one database (or table prefix) per service.

A URL is given in its plain form (`sqlite:///path`, `postgresql://user@host/db`); the driver is
chosen here: aiosqlite/psycopg for the async engine the service uses, the sync drivers for
Alembic, which runs once at start in a worker thread. Each service prefixes its tables and keeps
its own Alembic version table, so several services may share one PostgreSQL database while each
still owns its data.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction, create_async_engine

from xuc.errors import Unreachable


def _driver_url(url: str, *, asynchronous: bool) -> URL:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite" if asynchronous else "sqlite")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    raise ValueError(f"unsupported database URL scheme {parsed.drivername!r}: use sqlite:// or postgresql://")


def _prepare_sqlite_file(url: URL) -> None:
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The sqlite3 driver opens transactions lazily and commits at each SAVEPOINT release; taking
    # over BEGIN (below) makes a unit of work one real transaction, as on PostgreSQL.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # The busy timeout rides out short write contention; first, so that the pragmas below wait too.
    cursor.execute("PRAGMA busy_timeout=5000")
    # WAL lets readers run during a write (the migration already switched the file to it: see
    # `_migration_engine`; here it only confirms).
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL keeps the database consistent and skips an fsync per commit; a power cut
    # may lose the last commits, not corrupt the file (SQLite's recommended WAL setting).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # IMMEDIATE takes the write lock at once (waiting up to busy_timeout for it): a deferred
    # transaction that reads then writes fails with "database is locked", without waiting, when
    # another writer committed in between. SQLite has one writer at a time anyway.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine_for(url: str) -> AsyncEngine:
    driver_url = _driver_url(url, asynchronous=True)
    _prepare_sqlite_file(driver_url)
    if driver_url.get_backend_name() == "sqlite":
        # No overflow: an overflow connection is opened per request under load and closed after it
        # (a thread and four PRAGMAs each time, with aiosqlite); waiting for a pooled one is cheaper.
        engine = create_async_engine(driver_url, pool_size=8, max_overflow=0)
        event.listen(engine.sync_engine, "connect", _sqlite_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    # A fixed pool, for the same reason; no pre-ping (a round trip per checkout): a connection found
    # dead invalidates the pool, that request answers Unreachable and the next ones reconnect.
    return create_async_engine(driver_url, pool_size=16, max_overflow=0, pool_recycle=1800)


# How long a replica waits for another one's migrations on SQLite (PostgreSQL waits without limit,
# bounded by the launcher's start timeout).
MIGRATION_LOCK_TIMEOUT_SECONDS = 120.0
WAL_SWITCH_RETRY_SECONDS = 0.05


def _migration_lock_key(version_table: str) -> int:
    """The PostgreSQL advisory lock of one service's migrations: a signed 64-bit number of its own."""
    digest = hashlib.sha256(f"xuc.migrate:{version_table}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _migration_engine(driver_url: URL) -> Any:
    """The engine migrations run on. On SQLite its transactions begin IMMEDIATE: the migration is
    one write transaction from its first read of the version table, so a replica starting at the
    same time waits for the database's own write lock, then finds the tables at head. (Left to the
    sqlite3 driver, DDL runs outside any transaction, and two replicas would both see an empty
    database and both create the tables.)"""
    if driver_url.get_backend_name() != "sqlite":
        return create_engine(driver_url)
    engine = create_engine(driver_url, connect_args={"timeout": MIGRATION_LOCK_TIMEOUT_SECONDS})

    def manual_transactions(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        # Switch the file to WAL here, waiting as long as for the migration lock: switching needs
        # the database to itself, which a replica's first connections would otherwise fight over
        # ("database is locked" at start, seen with two auth replicas under load). WAL persists in
        # the file, so the services' connections then find it set.
        _switch_to_wal(dbapi_connection)

    event.listen(engine, "connect", manual_transactions)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _switch_to_wal(dbapi_connection: Any) -> None:
    """PRAGMA journal_mode=WAL, tried again while another replica holds the database: SQLite may
    answer "database is locked" to a journal mode change at once, without waiting out the busy
    timeout (seen in CI: two auth replicas starting together, one of them migrating)."""
    deadline = time.monotonic() + MIGRATION_LOCK_TIMEOUT_SECONDS
    while True:
        try:
            dbapi_connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(WAL_SWITCH_RETRY_SECONDS)


def _upgrade(url: str, script_location: Path, version_table: str) -> None:
    driver_url = _driver_url(url, asynchronous=False)
    _prepare_sqlite_file(driver_url)
    engine = _migration_engine(driver_url)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Replicas starting together: one migrates, the others wait here, then find the
                # version table at head. Released with the transaction (or the connection, if the
                # process dies), so a crashed migration blocks nobody.
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                   {"key": _migration_lock_key(version_table)})
            config = Config()
            config.set_main_option("script_location", str(script_location))
            config.attributes["connection"] = connection
            config.attributes["version_table"] = version_table
            command.upgrade(config, "head")
    finally:
        engine.dispose()


async def migrate(url: str, script_location: Path, version_table: str) -> None:
    """Bring the service's tables to the newest revision (idempotent), once when several replicas
    start together: they take turns (see `_upgrade`)."""
    await asyncio.to_thread(_upgrade, url, script_location, version_table)


def run_alembic_env(context: Any) -> None:
    """Body of every service's migrations/env.py: online migrations on the given connection."""
    connection: Connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        version_table=context.config.attributes["version_table"],
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


class SqlUnitOfWork:
    """One transaction, rolled back unless committed; a lost database becomes `Unreachable`.

    Each service's unit of work subclasses it and binds its repositories to the connection in
    `_bind`. Use cases run `async with uow: ...; await uow.commit()` and publish events after.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._transaction: AsyncTransaction | None = None

    def _bind(self, connection: AsyncConnection) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        try:
            self._connection = await self._engine.connect()
            self._transaction = await self._connection.begin()
        except DBAPIError as exc:
            if self._connection is not None:
                await self._connection.close()
            raise Unreachable(f"The database is not reachable: {exc.orig}") from None
        self._bind(self._connection)
        return self

    async def commit(self) -> None:
        assert self._transaction is not None
        try:
            await self._transaction.commit()
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise Unreachable("The database connection was lost") from None
            raise

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._connection is not None
        assert self._transaction is not None
        try:
            if self._transaction.is_active:
                await self._transaction.rollback()
        finally:
            await self._connection.close()
        if isinstance(error, DBAPIError) and error.connection_invalidated:
            raise Unreachable("The database connection was lost") from None
