"""How many connections PostgreSQL leaves to framestate, checked before `serve --workers N` starts.

Each worker process may open its pool, its overflow and its LISTEN connection. When N of them
could open more than the server would take (its `max_connections`, less the slots reserved for
superusers and the connections open now; the database's and the role's own limits too), the
last ones to try would be turned away under load: better to refuse at start with one line that
says what to change.
"""

from dataclasses import replace

from sqlalchemy import text

from service.settings import Settings
from service.store.db import create_engine

ROOM = """
SELECT current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int AS superuser_reserved,
       coalesce(current_setting('reserved_connections', true), '0')::int AS reserved,
       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') - 1 AS in_use,
       (SELECT datconnlimit FROM pg_database WHERE datname = current_database()) AS database_limit,
       (SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND backend_type = 'client backend') - 1 AS database_in_use,
       (SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user) AS role_limit,
       (SELECT count(*) FROM pg_stat_activity
         WHERE usename = current_user AND backend_type = 'client backend') - 1 AS role_in_use,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS is_superuser
"""


def per_process(settings: Settings) -> int:
    """The most connections one serving process opens: its pool, the overflow, and LISTEN."""
    return settings.db_pool_size + settings.db_max_overflow + 1


async def room_left(settings: Settings) -> tuple[int, str]:
    """The connections PostgreSQL would still accept from framestate's role into its database, and
    the figures that say why, in words."""
    engine = create_engine(replace(settings, db_pool_size=1, db_max_overflow=0))
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(text(ROOM))).mappings().one()
    finally:
        await engine.dispose()
    reserved = row["reserved"] + (0 if row["is_superuser"] else row["superuser_reserved"])
    room = row["max_connections"] - reserved - row["in_use"]
    why = f"max_connections {row['max_connections']}, {row['in_use']} in use, {reserved} reserved"
    for limit, in_use, what in (
        (row["database_limit"], row["database_in_use"], "the database's CONNECTION LIMIT"),
        (row["role_limit"], row["role_in_use"], "the role's CONNECTION LIMIT"),
    ):
        if limit >= 0 and limit - in_use < room:
            room, why = limit - in_use, f"{what} {limit}, {in_use} in use"
    return max(room, 0), why


async def refusal(settings: Settings, workers: int) -> str | None:
    """The line that refuses `serve --workers N` when N processes could open more connections than
    PostgreSQL leaves; None when they fit."""
    needed = workers * per_process(settings)
    room, why = await room_left(settings)
    if needed <= room:
        return None
    return (
        f"--workers {workers} could open {workers} × ({settings.db_pool_size} pool + "
        f"{settings.db_max_overflow} overflow + 1) = {needed} connections, but PostgreSQL leaves "
        f"{room} ({why}): lower --workers, FRAMESTATE_DB_POOL_SIZE or FRAMESTATE_DB_MAX_OVERFLOW, "
        "or raise PostgreSQL's limit"
    )
