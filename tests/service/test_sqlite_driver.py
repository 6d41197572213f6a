"""The SQLite driver: one trip to the driver's thread a statement, and a write's plain writes held
until its next read or its COMMIT, each checked to change exactly one row.

The engines are the service's own (`service.store.db.Database`) on a real SQLite file; trips are
counted where they happen, at aiosqlite's one door to its thread.
"""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from service.context import Context
from service.operations.exports import report_progress
from service.settings import Settings
from service.store.db import Database
from service.store.sqlite_driver import MissedRow, hold_writes
from tests.api import Api

pytestmark = pytest.mark.anyio


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """The service's engines on a table of two rows; one connection, so that a write's successor
    gets the connection it left."""
    db = Database.open(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}"))
    async with db.writing() as conn:
        await conn.execute(text("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"))
        await conn.execute(text("INSERT INTO item (id, name) VALUES (1, 'one'), (2, 'two')"))
    yield db
    await db.close()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of the function each trip to the driver's thread ran."""
    seen: list[str] = []
    real = aiosqlite.Connection._execute

    async def counting(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(fn.__name__)
        return await real(self, fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counting)
    return seen


async def held_write(
    db: Database, *held: str, first: str | None = None, then: Exception | None = None
) -> None:
    """A write transaction: `first` sent as usual, then `held` held; `then` raised before COMMIT."""
    async with db.writing() as conn:
        if first is not None:
            await conn.execute(text(first))
        await hold_writes(conn)
        for statement in held:
            await conn.execute(text(statement))
        if then is not None:
            raise then


async def names(db: Database) -> list[str]:
    async with db.reading() as conn:
        return list((await conn.execute(text("SELECT name FROM item ORDER BY id"))).scalars())


async def test_a_statement_is_one_trip_with_its_rows_count_and_last_id(
    db: Database, trips: list[str]
) -> None:
    async with db.reading() as conn:
        rows = (await conn.execute(text("SELECT id, name FROM item ORDER BY id"))).all()
    assert ([tuple(row) for row in rows], trips) == ([(1, "one"), (2, "two")], ["_run"])
    async with db.writing() as conn:
        inserted = await conn.execute(text("INSERT INTO item (name) VALUES ('three')"))
        assert (inserted.rowcount, inserted.lastrowid) == (1, 3)
        changed = await conn.execute(text("UPDATE item SET name = name || '!' WHERE id < 3"))
        assert changed.rowcount == 2
    assert trips == ["_run", "_run", "_run", "commit"]  # BEGIN IMMEDIATE travels with the INSERT
    assert await names(db) == ["one!", "two!", "three"]


async def test_the_begin_travels_with_the_first_statement_which_runs_inside_it(
    db: Database, trips: list[str]
) -> None:
    async with db.writing() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        assert not driver.in_transaction  # type: ignore[union-attr]
        assert trips == []
        assert (await conn.execute(text("SELECT count(*) FROM item"))).scalar_one() == 2
        assert driver.in_transaction  # type: ignore[union-attr]
        assert trips == ["_run"]


async def test_a_transaction_that_sends_nothing_costs_no_trip(db: Database, trips: list[str]) -> None:
    async with db.writing():
        pass
    with pytest.raises(LookupError):
        async with db.writing():
            raise LookupError("refused before any statement")
    assert trips == []
    async with db.writing() as conn:
        await conn.execute(text("UPDATE item SET name = 'after' WHERE id = 1"))
    assert await names(db) == ["after", "two"]


async def test_held_writes_travel_with_the_commit(db: Database, trips: list[str]) -> None:
    async with db.writing() as conn:
        await hold_writes(conn)
        assert (await conn.execute(text("UPDATE item SET name = 'uno' WHERE id = 1"))).rowcount == 1
        await conn.execute(text("INSERT INTO item (id, name) VALUES (3, 'tres')"))
    assert trips == ["_commit"]  # BEGIN IMMEDIATE, the writes and COMMIT, all at once
    assert await names(db) == ["uno", "two", "tres"]


async def test_a_read_after_held_writes_sees_them_in_the_same_trip(db: Database, trips: list[str]) -> None:
    async with db.writing() as conn:
        await hold_writes(conn)
        await conn.execute(text("DELETE FROM item WHERE id = 2"))
        count = (await conn.execute(text("SELECT count(*) FROM item"))).scalar_one()
        assert (count, trips) == (1, ["_run"])


@pytest.mark.parametrize(
    "missing",
    [
        "UPDATE item SET name = 'x' WHERE id = 9",
        "DELETE FROM item WHERE id = 9",
        "UPDATE item SET name = name",  # two rows
    ],
)
async def test_a_held_write_that_misses_one_row_rolls_everything_back(db: Database, missing: str) -> None:
    with pytest.raises(MissedRow):
        await held_write(
            db,
            "UPDATE item SET name = 'held' WHERE id = 2",
            missing,
            first="UPDATE item SET name = 'x' WHERE id = 1",
        )
    assert await names(db) == ["one", "two"]


async def test_a_held_write_that_breaks_a_constraint_fails_at_commit(db: Database) -> None:
    with pytest.raises(IntegrityError):
        await held_write(db, "INSERT INTO item (name) VALUES ('one')")
    assert await names(db) == ["one", "two"]


async def test_a_write_that_raises_leaves_nothing_held_for_the_next(db: Database) -> None:
    with pytest.raises(LookupError):
        await held_write(db, "UPDATE item SET name = 'lost' WHERE id = 1", then=LookupError("refused"))
    async with db.writing() as conn:
        await conn.execute(text("UPDATE item SET name = 'kept' WHERE id = 2"))
    assert await names(db) == ["one", "kept"]


async def test_a_progress_report_is_two_trips(
    api: Api, ctx: Context, settings: Settings, trips: list[str]
) -> None:
    """`BEGIN IMMEDIATE` with the load of the job and its project's facts, and the COMMIT carrying
    the compare-and-set and the job's update."""
    if not settings.is_sqlite:
        pytest.skip("the trips are SQLite's: PostgreSQL is spoken to over a socket")
    project = await api.framed_project()
    job = await api.start(project["id"], "framing")
    await report_progress(job["id"], progress=20.0, message=None, ctx=ctx)  # opens the connection
    trips.clear()
    out = await report_progress(job["id"], progress=40.0, message="encoding", ctx=ctx)
    assert (out.progress, out.message) == (40.0, "encoding")
    assert trips == ["_run", "_commit"]
    assert (await api.project(project["id"]))["version"] == project["version"] + 4
