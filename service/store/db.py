"""The database engine and its two session factories: one for reads, one for writes.

On SQLite a write transaction starts with `BEGIN IMMEDIATE`, so writers queue on the database
lock (up to the busy timeout) instead of failing when a reader upgrades to a writer; reads start
with a plain `BEGIN` and, in WAL mode, never wait for a writer. Within one process, writers also
queue on an asyncio lock first: SQLite's busy handler polls in sleeps of up to 100 ms, which made
a contended write wait seconds (p99) for a lock held a few milliseconds.

A read of one statement (a card, a page of cards) runs on `reading()`, in autocommit: one
statement already reads one consistent snapshot, so it needs no `BEGIN` and no `ROLLBACK`, which
are a round trip each on PostgreSQL and a hop to the driver's thread each on SQLite. On SQLite the
driver's connection is always in autocommit (the begin hook starts transactions), so SQLAlchemy
is told to skip the driver's rollback (`skip_autocommit_rollback`), and the pool's reset rolls back
a connection going back to the pool only when it is inside a transaction: a write that failed.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import PoolResetState
from sqlmodel.ext.asyncio.session import AsyncSession

from service.errors import CommitOutcomeUnknown
from service.settings import Settings
from service.store import sqlite_driver
from service.store.faults import is_connection_fault
from service.store.sqlite_driver import hold_writes

_WRITE = "framestate_write"
_ONE_STATEMENT = "framestate_one_statement"
_POSTPONED_BEGIN = "framestate_postponed_begin"
_ALONE = "framestate_alone"
SQLITE_BUSY_TIMEOUT_MS = 30_000
POOL_TIMEOUT_S = 5.0
"""How long a request waits for a free connection of the pool before it is answered 503."""


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # let the "begin" hook below issue BEGIN itself
    cursor = dbapi_connection.cursor()
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "foreign_keys=ON",
        f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_on_reset(dbapi_connection: Any, _record: Any, reset_state: PoolResetState) -> None:
    """Roll back a connection going back to the pool only when it is inside a transaction: the
    usual rollback on return is one more hop to the driver's thread after every request. Writes
    held for a COMMIT that never came are dropped."""
    dbapi_connection.forget_held()
    if reset_state.terminate_only or dbapi_connection.driver_connection.in_transaction:
        dbapi_connection.rollback()


def _sqlite_on_begin(conn: Connection) -> None:
    """The transaction's `BEGIN` travels with its first statement (see `service.store.sqlite_driver`)."""
    options = conn.get_execution_options()
    driver = conn.connection.dbapi_connection
    if options.get(_WRITE):
        driver.begin("BEGIN IMMEDIATE")  # type: ignore[union-attr]
    elif not options.get(_ONE_STATEMENT):
        driver.begin("BEGIN")  # type: ignore[union-attr]


async def _postpone_begin(conn: AsyncConnection, info: dict[Any, Any]) -> None:
    driver = (await conn.get_raw_connection()).dbapi_connection
    if isinstance(driver, AsyncAdapt_asyncpg_connection):
        info[_POSTPONED_BEGIN] = (driver, driver.isolation_level)
        driver.isolation_level = "autocommit"


def _end_postponed(info: dict[Any, Any]) -> bool:
    """Put the driver's connection back as it was; True when a statement that commits by itself
    was sent. Works on `info` taken while the connection was sound: a broken connection may refuse
    to be asked for anything."""
    if (postponed := info.pop(_POSTPONED_BEGIN, None)) is not None:
        driver, level = postponed
        driver.isolation_level = level
    return bool(info.pop(_ALONE, False))


async def begin_writes(conn: AsyncConnection, *, alone: bool) -> None:
    """The work of a `writing(reads_first=True)` block has read what it needs and is about to
    write. `alone`: its writes are one statement. On PostgreSQL, that statement then runs without
    a transaction (it is atomic by itself; its end is the commit), and more statements get their
    `BEGIN` now, sent with the first of them. On SQLite, the writes are held until COMMIT (see
    `service.store.sqlite_driver`)."""
    if _POSTPONED_BEGIN not in conn.info:
        await hold_writes(conn)
        return
    if alone:
        conn.info[_ALONE] = True
        return
    driver, level = conn.info.pop(_POSTPONED_BEGIN)
    driver.isolation_level = level


def create_engine(settings: Settings) -> AsyncEngine:
    url = make_url(settings.database_url)
    if settings.is_sqlite:
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url,
            module=sqlite_driver.dbapi(),
            pool_reset_on_return=None,
            skip_autocommit_rollback=True,
            pool_timeout=POOL_TIMEOUT_S,
        )
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        event.listen(engine.sync_engine.pool, "reset", _sqlite_on_reset)
        event.listen(engine.sync_engine, "begin", _sqlite_on_begin)
        return engine
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=POOL_TIMEOUT_S,
        pool_pre_ping=False,
    )


def _one_statement_options(settings: Settings) -> dict[str, Any]:
    """SQLite's connections are in autocommit already: setting it again would cost a PRAGMA on
    every checkout and return."""
    options: dict[str, Any] = {_ONE_STATEMENT: True}
    if not settings.is_sqlite:
        options["isolation_level"] = "AUTOCOMMIT"
    return options


@dataclass(frozen=True, slots=True)
class Database:
    engine: AsyncEngine
    one_statement: AsyncEngine
    write_engine: AsyncEngine
    read: async_sessionmaker[AsyncSession]
    write: async_sessionmaker[AsyncSession]
    write_lock: asyncio.Lock | None = None

    @asynccontextmanager
    async def writing(self, *, reads_first: bool = False) -> AsyncIterator[AsyncConnection]:
        """A write transaction; committed when the block ends, rolled back when it raises.

        With `reads_first` (a unit of work: it reads, then writes), PostgreSQL sends no `BEGIN`
        until `begin_writes`: reads of one statement each see the latest committed rows, as they
        would in a READ COMMITTED transaction, and a write of one statement needs no transaction
        around it at all. That makes a progress report two round trips instead of five."""
        commit_sent = False
        try:
            async with self.write_lock or contextlib.nullcontext(), self.write_engine.begin() as conn:
                info = conn.info
                if reads_first:
                    await _postpone_begin(conn, info)
                try:
                    yield conn
                finally:
                    commit_sent = _end_postponed(info)
                commit_sent = True
        except Exception as exc:
            if commit_sent and is_connection_fault(exc):
                raise CommitOutcomeUnknown(
                    "The connection to the database broke during COMMIT: the "
                    "change may or may not be stored; read it back before retrying."
                ) from exc
            raise

    @asynccontextmanager
    async def writing_session(self) -> AsyncIterator[AsyncSession]:
        """As `writing`, with an ORM session: for the paths that are not hot (webhook endpoints and
        the dispatcher's bookkeeping)."""
        async with self.write_lock or contextlib.nullcontext(), self.write() as session, session.begin():
            yield session

    def reading(self) -> AsyncConnection:
        """A connection for a read of one statement (`async with db.reading() as conn`)."""
        return self.one_statement.connect()

    @classmethod
    def open(cls, settings: Settings) -> "Database":
        engine = create_engine(settings)
        write_engine = engine.execution_options(**{_WRITE: True})
        return cls(
            engine=engine,
            one_statement=engine.execution_options(**_one_statement_options(settings)),
            write_engine=write_engine,
            read=async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False),
            write=async_sessionmaker(write_engine, class_=AsyncSession, expire_on_commit=False),
            write_lock=asyncio.Lock() if settings.is_sqlite else None,
        )

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:  # any failure to reach the database means "not healthy"
            return False
        return True

    async def close(self) -> None:
        await self.engine.dispose()
