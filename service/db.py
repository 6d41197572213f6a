"""The database engine and its two session factories: one for reads, one for writes.

On SQLite a write transaction starts with `BEGIN IMMEDIATE`, so writers queue on the database
lock (up to the busy timeout) instead of failing when a reader upgrades to a writer; reads start
with a plain `BEGIN` and, in WAL mode, never wait for a writer. Within one process, writers also
queue on an asyncio lock first: SQLite's busy handler polls in sleeps of up to 100 ms, which made
a contended write wait seconds (p99) for a lock held a few milliseconds.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from service.settings import Settings

_WRITE = "framestate_write"
SQLITE_BUSY_TIMEOUT_MS = 30_000


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


def _sqlite_on_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")


def create_engine(settings: Settings) -> AsyncEngine:
    url = make_url(settings.database_url)
    if settings.is_sqlite:
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_on_begin)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=False)


@dataclass(frozen=True, slots=True)
class Database:
    engine: AsyncEngine
    read: async_sessionmaker[AsyncSession]
    write: async_sessionmaker[AsyncSession]
    write_lock: asyncio.Lock | None = None

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncSession]:
        """A write transaction; committed when the block ends, rolled back when it raises."""
        async with self.write_lock or contextlib.nullcontext(), self.write() as session, session.begin():
            yield session

    @classmethod
    def open(cls, settings: Settings) -> "Database":
        engine = create_engine(settings)
        write_engine = engine.execution_options(**{_WRITE: True})
        return cls(
            engine=engine,
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
