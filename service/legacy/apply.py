"""Writing a batch into framestate's database (`--apply`).

The projects to import and to sync of one batch share one transaction: each is written whole with
its history row and the import's own row (`legacy_import`), so a run stopped anywhere leaves whole
projects and the next run finishes the rest. Imports go by one `executemany` a table. On
PostgreSQL the projects written are announced with `pg_notify` in the same transaction (one
notification for as many as fit, in the servers' format), so event streams show them; no webhook
event is made.

Every project passes the status cross-check of every write before its rows are sent: one that
fails it (a bug) is logged as one and left out as a problem, and the others go on. A transaction
that framestate refuses (an id already taken, a value a column cannot hold) is rolled back and its
projects written again one a transaction, so that only the refused one is left out, reported as a
problem.
"""

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from fsm.facts import Action
from service.errors import StatusDisagreement
from service.legacy.bulk import Bulk
from service.legacy.outcomes import Held, Outcome
from service.legacy.plan import Planned
from service.legacy.rows import ImportRows
from service.legacy.source import first_line
from service.legacy.sync import Refused, sync_project
from service.legacy.target import LEGACY
from service.live.announcements import CHANNEL, NOTIFY, Announced, payloads
from service.store.db import Database
from service.store.faults import is_connection_fault
from service.store.records import CLIP, HISTORY, JOB, PROJECT, VIDEO
from service.store.tables import utcnow

log = logging.getLogger("framestate")
IMPORT_ORIGIN = "import"
"""The sender named in the import's notifications (no server skips them as its own)."""
TABLES = (
    ("projects", PROJECT),
    ("clips", CLIP),
    ("videos", VIDEO),
    ("jobs", JOB),
    ("history", HISTORY),
    ("markers", LEGACY),
)
"""The tables an import writes, in the order their foreign keys need."""


@dataclass(slots=True)
class Work:
    """A project to import (`held` None) or to sync."""

    planned: Planned
    held: Held | None


@dataclass(slots=True)
class Written:
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    """Why framestate refused a project, by id."""
    bugs: list[str] = field(default_factory=list)


class Writer:
    def __init__(self, db: Database, *, owner: str | None, postgres: bool) -> None:
        self.db = db
        self.owner = owner
        self.postgres = postgres
        self.inserts = [(name, Bulk(table, db.engine.dialect)) for name, table in TABLES]

    async def write(self, work: Sequence[Work]) -> Written:
        written = Written()
        if not work:
            return written
        try:
            async with self.db.writing() as conn:
                await self._write(conn, work, written)
        except (DBAPIError, Refused) as exc:
            if isinstance(exc, DBAPIError) and is_connection_fault(exc):
                raise
            if len(work) == 1:
                project_id = str(work[0].planned.id)
                written.outcomes = {project_id: Outcome.PROBLEM}
                written.problems[project_id] = f"framestate refused it: {first_line(exc)}"
                return written
            written = Written()
            for one in work:
                alone = await self.write([one])
                written.outcomes.update(alone.outcomes)
                written.problems.update(alone.problems)
                written.bugs += alone.bugs
        return written

    async def _write(self, conn: AsyncConnection, work: Sequence[Work], written: Written) -> None:
        """Fills `written`; a project whose status the cross-check refuses is left out before any of
        its rows is sent, so the others of the transaction go on."""
        now = utcnow()
        rows = ImportRows(owner=self.owner, now=now)
        announced: list[Announced] = []
        for item in work:
            if item.held is None:
                with self._refusing(item, written):
                    record = rows.add(item.planned, Action.PROJECT_IMPORTED.value)
                    written.outcomes[record.id] = Outcome.IMPORTED
                    announced.append((record.id, record.version, record.owner))
        for name, bulk in self.inserts:
            await bulk.run(conn, getattr(rows, name))
        for item in work:
            if item.held is not None:
                with self._refusing(item, written):
                    project_id = str(item.planned.id)
                    outcome = await sync_project(conn, item.planned, item.held, now=now)
                    written.outcomes[project_id] = outcome
                    if outcome is Outcome.SYNCED:
                        version = (item.held.imported_version or 0) + 1
                        announced.append((project_id, version, item.held.owner))
        if self.postgres and announced:
            notifications = payloads(IMPORT_ORIGIN, announced)
            await conn.execute(NOTIFY, [{"channel": CHANNEL, "payload": p} for p in notifications])

    @contextmanager
    def _refusing(self, item: Work, written: Written) -> Iterator[None]:
        try:
            yield
        except StatusDisagreement as exc:
            log.error("status disagreement (a bug; the project is left out): %s", exc)
            project_id = str(item.planned.id)
            written.outcomes[project_id] = Outcome.PROBLEM
            written.problems[project_id] = f"framestate's status cross-check failed (a bug): {exc}"
            written.bugs.append(str(exc))
