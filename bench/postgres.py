"""The local PostgreSQL that the benchmark and the tests use: whether it answers, and statements
run on its administrative database (`test`), such as creating and dropping a database. The tests
import it from here: the benchmark imports nothing of theirs."""

import asyncio
from typing import Any

import asyncpg

ADMIN_DATABASE = "test"
TIMEOUT_S = 5.0


def admin_dsn(host: str) -> str:
    """`host` is `user@address:port`."""
    return f"postgresql://{host}/{ADMIN_DATABASE}"


async def admin(host: str, sql: str) -> Any:
    """Run `sql` on the administrative database; its first value, where it returns rows."""
    conn = await asyncpg.connect(admin_dsn(host), timeout=TIMEOUT_S)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


def postgres_error(host: str) -> str | None:
    """None when PostgreSQL at `host` answers, else why not."""
    try:
        asyncio.run(admin(host, "SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None
