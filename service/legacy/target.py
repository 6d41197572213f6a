"""framestate's own database as the import sees it: read as it is for a dry run (opened read-only; a
missing or empty one holds no projects), migrated and opened as the service opens it for
`--apply`; and what it holds under the ids of a batch."""

import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Select, bindparam, inspect, null, select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from service.legacy.errors import CannotRun
from service.legacy.outcomes import Held
from service.legacy.source import first_line
from service.legacy.tables import LegacyImport
from service.settings import Settings
from service.store.db import Database
from service.store.records import PROJECT

LEGACY = LegacyImport.__table__  # type: ignore[attr-defined]
MISSING_DATABASE = "3D000"
"""PostgreSQL's invalid_catalog_name: the database does not exist (yet)."""


def _held_statement(markers: bool) -> Select[Any]:
    wanted = PROJECT.c.id.in_(bindparam("ids", expanding=True))
    base = (PROJECT.c.id, PROJECT.c.version, PROJECT.c.status, PROJECT.c.owner)
    if not markers:
        return select(*base, null(), null()).where(wanted)
    joined = PROJECT.outerjoin(LEGACY, LEGACY.c.project_id == PROJECT.c.id)
    return select(*base, LEGACY.c.version, LEGACY.c.fingerprint).select_from(joined).where(wanted)


PLAN_EACH_TIME = text("SET LOCAL plan_cache_mode = force_custom_plan")
"""PostgreSQL plans a prepared statement once for good after five runs. An import's first look-ups
see empty tables, and the plan made then scans the table whole, however many projects it holds
by the end: planned each time, the look-up of a batch's ids stays a probe of the key."""
HELD = _held_statement(markers=True)
HELD_BEFORE_IMPORTS = _held_statement(markers=False)


@dataclass(frozen=True, slots=True)
class Framestate:
    """framestate's database: `engine` None for a dry run on a database that does not exist yet."""

    engine: AsyncEngine | None
    markers: bool = True
    """Whether it has the import's table (a database made before it has none, so no imports)."""
    postgres: bool = False
    db: Database | None = None
    """The service's own engines, with `--apply`."""

    async def held(self, ids: Sequence[str]) -> dict[str, Held]:
        if self.engine is None or not ids:
            return {}
        statement = HELD if self.markers else HELD_BEFORE_IMPORTS
        async with self.engine.connect() as conn:
            if self.postgres:
                await conn.execute(PLAN_EACH_TIME)
            rows = (await conn.execute(statement, {"ids": list(ids)})).all()
        return {row[0]: Held(*row[1:]) for row in rows}

    async def close(self) -> None:
        if self.db is not None:
            await self.db.close()
        elif self.engine is not None:
            await self.engine.dispose()


def read_only_sqlite(database: str | None) -> str | None:
    """The SQLite URI filename that opens `database` read-only; None where there is no such file."""
    if not database or not Path(database).is_file():
        return None
    return f"file:{urllib.parse.quote(str(Path(database).resolve()))}?mode=ro&uri=true"


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


async def open_read_only(settings: Settings) -> Framestate:
    """For a dry run: nothing is created, and the connection cannot write."""
    url = make_url(settings.database_url)
    if settings.is_sqlite:
        location = read_only_sqlite(url.database)
        if location is None:
            return Framestate(None)
        engine = create_async_engine(f"sqlite+aiosqlite:///{location}")
    else:
        engine = create_async_engine(
            url, connect_args={"server_settings": {"default_transaction_read_only": "on"}}
        )
    try:
        async with engine.connect() as conn:
            tables = await conn.run_sync(_tables)
    except (DBAPIError, OSError) as exc:
        await engine.dispose()
        if getattr(getattr(exc, "orig", None), "sqlstate", None) == MISSING_DATABASE or (
            MISSING_DATABASE in repr(exc)
        ):
            return Framestate(None)
        raise CannotRun(f"framestate's database does not answer: {first_line(exc)}") from None
    if PROJECT.name not in tables:
        await engine.dispose()
        return Framestate(None)
    return Framestate(engine, markers=LEGACY.name in tables, postgres=not settings.is_sqlite)


def open_for_writes(settings: Settings) -> Framestate:
    """For `--apply`, once the database is migrated."""
    db = Database.open(settings)
    return Framestate(db.engine, postgres=not settings.is_sqlite, db=db)
