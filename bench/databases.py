"""The benchmark's databases: a fresh SQLite file, or a PostgreSQL database made and dropped."""

import asyncio
import contextlib
from collections.abc import Iterator

import asyncpg

from bench.common import PG_DATABASE, PG_HOST, VAR
from bench.postgres import admin


@contextlib.contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        VAR.mkdir(parents=True, exist_ok=True)
        path = VAR / "bench.db"
        for leftover in VAR.glob("bench.db*"):
            leftover.unlink()
        yield f"sqlite+aiosqlite:///{path}"
        return
    asyncio.run(admin(PG_HOST, f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
    asyncio.run(admin(PG_HOST, f'CREATE DATABASE "{PG_DATABASE}"'))
    try:
        yield f"postgresql+asyncpg://{PG_HOST}/{PG_DATABASE}"
    finally:
        asyncio.run(admin(PG_HOST, f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))


def pg_version() -> str:
    try:
        version: str = asyncio.run(admin(PG_HOST, "SHOW server_version"))
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return ""
    return f"PostgreSQL {version.split()[0]}"
