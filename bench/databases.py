"""The benchmark's databases: a fresh SQLite file, or a PostgreSQL database made and dropped."""

import asyncio
import contextlib
from collections.abc import Iterator

import asyncpg

from bench.common import PG_DATABASE, PG_HOST, VAR


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(f"postgresql://{PG_HOST}/test", timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        VAR.mkdir(parents=True, exist_ok=True)
        path = VAR / "bench.db"
        for leftover in VAR.glob("bench.db*"):
            leftover.unlink()
        yield f"sqlite+aiosqlite:///{path}"
        return
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
    asyncio.run(_pg_admin(f'CREATE DATABASE "{PG_DATABASE}"'))
    try:
        yield f"postgresql+asyncpg://{PG_HOST}/{PG_DATABASE}"
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))


def postgres_error() -> str | None:
    try:
        asyncio.run(_pg_admin("SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def pg_version() -> str:
    async def ask() -> str:
        conn = await asyncpg.connect(f"postgresql://{PG_HOST}/test", timeout=5)
        try:
            version: str = await conn.fetchval("SHOW server_version")
            return f"PostgreSQL {version.split()[0]}"
        finally:
            await conn.close()

    try:
        return asyncio.run(ask())
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return ""
