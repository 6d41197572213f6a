"""Whether the database of `FRAMESTATE_DATABASE_URL` can be used, said in one sentence before
`serve` or `migrate` touch it: a PostgreSQL that does not answer, a database or a user it does not
have, a SQLite file that cannot be made or is not a database. Migrations then run knowing that
the database answers; should it go away meanwhile, that too ends in a sentence."""

import asyncio
import errno
import signal
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

from service.commands.outcomes import CannotRun
from service.settings import Settings
from service.store.faults import is_connection_fault

CONNECT_TIMEOUT_S = 5.0
SETTING = "FRAMESTATE_DATABASE_URL"


def check_database(settings: Settings) -> None:
    """Raise `CannotRun` naming the cause and the fix when the database cannot be used."""
    url = make_url(settings.database_url)
    problem = _sqlite_problem(url) if settings.is_sqlite else asyncio.run(_postgres_problem(url))
    if problem is not None:
        raise CannotRun(problem)


def migrate(settings: Settings) -> None:
    """Check the database, then apply pending migrations."""
    check_database(settings)
    apply_migrations(settings)


def apply_migrations(settings: Settings) -> None:
    """Apply pending migrations to a database found usable a moment ago. Ctrl-C waits for them to
    end (each runs in a transaction, and takes a moment): cut off, their connections would be torn
    down mid-statement, with tracebacks in the log."""
    from service.store.migrations import upgrade

    try:
        with _ctrl_c_deferred():
            upgrade(settings)
    except (OSError, DBAPIError) as exc:
        if not (isinstance(exc, OSError) or is_connection_fault(exc)):
            raise  # not a database that went away: a bug, whose traceback is worth reporting
        first_line = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise CannotRun(
            f"the database went away during the migration ({first_line}); run it again once it answers"
        ) from exc


@contextmanager
def _ctrl_c_deferred() -> Iterator[None]:
    """SIGINT is held while the block runs, and delivered (as KeyboardInterrupt) once it ends."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _sqlite_problem(url: URL) -> str | None:
    if not url.database or url.database == ":memory:":
        return None
    path = Path(url.database)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot make the directory {path.parent} for the SQLite file of {SETTING}: {exc.strerror}"
    if path.is_dir():
        return f"{path} is a directory, not a SQLite file: name a file in {SETTING}"
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return f"cannot open {path}, the SQLite file of {SETTING} ({exc})"
    try:
        conn.execute("PRAGMA schema_version").fetchone()
    except sqlite3.DatabaseError as exc:
        return f"{path} is not a SQLite database ({exc}): name another file in {SETTING}"
    finally:
        conn.close()
    return None


async def _postgres_problem(url: URL) -> str | None:
    host, port = url.host or "localhost", url.port or 5432
    where = f"PostgreSQL at {host}:{port}"
    try:
        conn = await asyncpg.connect(
            host=url.host,
            port=url.port,
            user=url.username,
            password=url.password,
            database=url.database,
            timeout=CONNECT_TIMEOUT_S,
        )
    except asyncpg.InvalidCatalogNameError:
        return (
            f'{where} has no database "{url.database}": create it '
            f"(createdb -h {host} -p {port}{f' -U {url.username}' if url.username else ''} {url.database}) "
            f"or name another in {SETTING}"
        )
    except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError) as exc:
        return f"{where} refused the user in {SETTING} ({exc}): check the user and password there"
    except asyncpg.PostgresError as exc:
        return f"{where} turned the connection away ({exc}); check {SETTING}"
    except socket.gaierror:
        return f'the host "{host}" of {SETTING} is not known here: check its spelling'
    except TimeoutError:
        return f"{where} did not answer within {CONNECT_TIMEOUT_S:g} s: check {SETTING} and the network"
    except OSError as exc:
        if exc.errno == errno.ECONNREFUSED or f"[Errno {errno.ECONNREFUSED}]" in str(exc):
            return f"no PostgreSQL answers at {host}:{port}: is it running, and on that port? Check {SETTING}"
        return f"cannot reach {where} ({exc.strerror or exc}): check {SETTING}"
    await conn.close()
    return None
