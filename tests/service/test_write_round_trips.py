"""On PostgreSQL a unit of work reads before it sends `BEGIN`, and a write of one statement runs
without a transaction: a progress report is its load and one statement (the compare-and-set with
the job's update), two round trips. A compare-and-set that misses must then leave the job as it
was, since there is no transaction to roll back.

Statements are counted with a `before_cursor_execute` listener on a second process's engine (the
`ctx` fixture: no timers of its own), and transactions where the driver's adapter starts them.
"""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection

from fsm.facts import JobType
from service.context import Context
from service.operations.exports import report_progress, start_export
from service.settings import Settings
from service.writes.unit_of_work import Target, UnitOfWork, write
from tests.api import Api

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def postgresql_only(settings: Settings) -> None:
    if settings.is_sqlite:
        pytest.skip("SQLite's writes take its lock first (BEGIN IMMEDIATE): see test_sqlite_driver")


@pytest.fixture
async def sent(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[str]]:
    """What the write sends: each statement's first words, and `BEGIN` where the driver's adapter
    starts a transaction.
    The engine's connection is opened before (it asks the server a few things once); the app's
    own connections (its timers) are left out."""
    async with ctx.db.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
        ours: Any = (await conn.get_raw_connection()).dbapi_connection
    seen: list[str] = []
    engine = ctx.db.engine.sync_engine
    real_start = AsyncAdapt_asyncpg_connection._start_transaction

    async def start(self: AsyncAdapt_asyncpg_connection) -> None:
        if self is ours and self.isolation_level != "autocommit":
            seen.append("BEGIN")
        await real_start(self)  # type: ignore[no-untyped-call]

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()[:2]))

    monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "_start_transaction", start)
    event.listen(engine, "before_cursor_execute", before)
    yield seen
    event.remove(engine, "before_cursor_execute", before)


async def test_a_progress_report_is_two_statements_and_no_transaction(
    api: Api, ctx: Context, sent: list[str]
) -> None:
    project = await api.framed_project()
    job = await api.start(project["id"], "framing")
    out = await report_progress(job["id"], progress=40.0, message="encoding", ctx=ctx)
    assert (out.status, out.progress, out.message) == ("running", 40.0, "encoding")
    assert sent == ["SELECT project.id,", "WITH compare_and_set"]
    card = await api.project(project["id"])
    assert card["version"] == project["version"] + 3  # the clip, the start, the report
    assert card["active_exports"][0]["progress"] == 40.0


async def test_a_write_of_several_statements_is_one_transaction(
    api: Api, ctx: Context, sent: list[str]
) -> None:
    project = await api.framed_project()
    await start_export(project["id"], job_type=JobType.FRAMING, key=None, ctx=ctx)
    # The adapter opens the transaction as it sends the first write (after the listener saw it).
    assert sent == ["SELECT project.id,", "UPDATE project", "BEGIN", "INSERT INTO", "INSERT INTO"]
    assert (await api.project(project["id"]))["status"] == "exporting_framing"


async def test_a_missed_compare_and_set_leaves_the_job_as_it_was(api: Api, ctx: Context) -> None:
    """Between the first attempt's read and its write, another replica moves the project on: the
    attempt's one statement must change nothing, and the second attempt starts from fresh facts."""
    project = await api.framed_project()
    job = await api.start(project["id"], "framing")
    attempts: list[int] = []

    async def work(uow: UnitOfWork) -> None:
        attempts.append(uow.read_version)
        if len(attempts) == 1:
            async with ctx.db.engine.begin() as other:
                await other.execute(
                    text("UPDATE project SET version = version + 1 WHERE id = :id"), {"id": project["id"]}
                )
            loaded = uow.job(job["id"])
            assert loaded is not None
            loaded.message = "from the attempt that lost"
            loaded.progress = 70.0
            uow.touch()

    await write(ctx, Target(job_id=job["id"]), work)
    assert attempts == [project["version"] + 2, project["version"] + 3]  # after the clip and the start
    card = await api.project(project["id"])
    assert card["active_exports"][0]["progress"] == 0.0
    assert card["active_exports"][0]["message"] is None
