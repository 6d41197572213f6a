"""SQLite through aiosqlite with one hand-off to the driver's thread per statement, and a write's
last statements sent together with its COMMIT.

aiosqlite runs every call of the `sqlite3` connection in a thread of its own, and SQLAlchemy's
adapter makes one call per cursor step: open the cursor, execute, fetch the rows, close it. Each
call is a trip to that thread and back through the event loop, and it waits behind everything else
the loop has to do (under 500 event streams, a whole fan-out round), while the write holds the
database's lock. Here:

- a statement is one trip: the thread opens the cursor, executes, fetches, reads the description,
  row count and last row id, and closes the cursor;
- a transaction's `BEGIN` (handed to the connection's `begin` by the engine's begin hook) is sent
  with its first statement, or with its COMMIT when it has none to send before, and not at all
  when it sends nothing;
- after `hold_writes(conn)`, an `INSERT`, `UPDATE` or `DELETE` without `RETURNING` is kept and sent
  with the next statement that is not held (a read, a batch, a write with `RETURNING`), or with the
  COMMIT: each must change exactly one row, which is what a unit of work's writes are (the
  compare-and-set of its project row, its job and clip rows, its history). Else the whole
  transaction is rolled back and `MissedRow` raised: on SQLite a write holds the database's lock
  from its first statement, so the compare-and-set cannot lose a race, and a miss is a bug, not
  a retry (it is answered as an internal error and logged).

A progress report (`BEGIN IMMEDIATE` with the load, then the compare-and-set and the job's update
with the `COMMIT`) goes from about fourteen trips to two. It is SQLAlchemy's own `sqlite+aiosqlite`
dialect in every other respect (this is passed to the engine as its DBAPI module), and the
benchmark's baseline uses the same engines.
"""

import collections
import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

Outcome = tuple[Any, int, int | None, list[Any] | None]
"""A statement's description, row count, last row id and rows (None when it returns none)."""
Held = list[tuple[str, Any]]
NO_OUTCOME: Outcome = (None, -1, None, None)
HELD_OUTCOME: Outcome = (None, 1, None, None)
_WRITES = ("INSERT", "UPDATE", "DELETE")


class MissedRow(Exception):
    """A held write changed no row, or more than one: its transaction was rolled back. For a
    compare-and-set, the row moved on meanwhile."""


async def _no_trip() -> None:
    pass


def _holdable(operation: str) -> bool:
    return operation.lstrip()[:6].upper() in _WRITES and "RETURNING" not in operation.upper()


def _run_held(cursor: sqlite3.Cursor, held: Held) -> None:
    for operation, parameters in held:
        cursor.execute(operation, parameters)
        if cursor.rowcount != 1:
            raise MissedRow(f"{cursor.rowcount} rows changed by: {operation}")


def _run(
    conn: sqlite3.Connection, begin: str | None, held: Held, operation: str, parameters: Any, many: bool
) -> Outcome:
    """In the driver's thread: the transaction's `BEGIN` if it is still to be sent, the held
    writes, then the whole statement, cursor opened and closed. A held write that fails rolls the
    transaction back: the caller's statement was never run."""
    cursor = conn.cursor()
    try:
        if begin is not None:
            cursor.execute(begin)
        try:
            _run_held(cursor, held)
        except BaseException:
            conn.rollback()
            raise
        if many:
            cursor.executemany(operation, parameters)
        else:
            cursor.execute(operation, () if parameters is None else parameters)
        rows = cursor.fetchall() if cursor.description else None
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


def _commit(conn: sqlite3.Connection, begin: str | None, held: Held) -> None:
    cursor = conn.cursor()
    try:
        if begin is not None:
            cursor.execute(begin)
        _run_held(cursor, held)
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor whose statement runs in one trip to the driver's thread; its rows are kept here."""

    __slots__ = ("_outcome",)
    _awaitable_cursor_close = False
    _adapt_connection: "OneTripConnection"

    def __init__(self, adapt_connection: "OneTripConnection") -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]  # the thread's cursor lives one trip
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._outcome = NO_OUTCOME

    @property
    def description(self) -> Any:
        return self._outcome[0]

    @property
    def rowcount(self) -> int:
        return self._outcome[1]

    @property
    def lastrowid(self) -> Any:
        return self._outcome[2]

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass

    def execute(self, operation: Any, parameters: Any = None) -> None:
        held = self._adapt_connection._held
        if held is not None and _holdable(operation):
            held.append((operation, () if parameters is None else parameters))
            self._outcome = HELD_OUTCOME
            self._rows = collections.deque()
            await_(_no_trip())  # SQLAlchemy's async execute insists that the driver awaited
            return
        self._trip(operation, parameters, many=False)

    def executemany(self, operation: Any, seq_of_parameters: Sequence[Any]) -> None:
        self._trip(operation, seq_of_parameters, many=True)

    def _trip(self, operation: Any, parameters: Any, many: bool) -> None:
        adapt = self._adapt_connection
        held: Held = []
        if adapt._held:
            held, adapt._held = adapt._held, []
        begin, adapt._begin = adapt._begin, None
        try:
            self._outcome = await_(adapt._in_thread(_run, begin, held, operation, parameters, many))
        except Exception as error:
            adapt._handle_exception(error)
        rows = self._outcome[3]
        self._rows = collections.deque(rows) if rows else collections.deque()

    def close(self) -> None:
        self._rows.clear()


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("_begin", "_held")
    _cursor_cls = OneTripCursor  # type: ignore[assignment]  # a cursor of the same adapter, narrowed

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._held: Held | None = None
        self._begin: str | None = None

    def begin(self, statement: str) -> None:
        """Start a transaction with `statement`, sent with the next trip."""
        self._begin = statement

    async def _in_thread(self, fn: Any, *args: Any) -> Any:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        async with self._execute_mutex:
            return await connection._execute(fn, connection._conn, *args)  # type: ignore[no-untyped-call]

    def hold_writes(self) -> None:
        if self._held is None:
            self._held = []

    def forget_held(self) -> None:
        """The transaction ended without a COMMIT (SQLAlchemy skips the rollback of a connection in
        autocommit: the pool's reset rolls it back), so its held writes, and its `BEGIN` if it was
        never sent, are void."""
        self._held = None
        self._begin = None

    def commit(self) -> None:
        held, self._held = self._held, None
        begin, self._begin = self._begin, None
        if not held:
            if begin is None:
                super().commit()
            return  # else nothing was sent: no transaction to commit
        try:
            await_(self._in_thread(_commit, begin, held))
        except Exception as error:
            self._handle_exception(error)

    def rollback(self) -> None:
        self._held = None
        if self._begin is not None:
            self._begin = None  # never sent: no transaction to roll back
            return
        super().rollback()


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module to give `create_async_engine(..., module=...)` for `sqlite+aiosqlite`."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)


def dbapi() -> OneTripDBAPI:
    return OneTripDBAPI(aiosqlite, sqlite3)


async def hold_writes(conn: AsyncConnection) -> None:
    """From here until COMMIT, send this transaction's plain writes with its next read or its
    COMMIT (see the module's docstring). On another driver, nothing changes."""
    raw = await conn.get_raw_connection()
    if isinstance(driver := raw.dbapi_connection, OneTripConnection):
        driver.hold_writes()
