"""Databases for the tests: every service test runs on SQLite, and again on PostgreSQL when one answers
at 127.0.0.1:5432 (in CI, with CI=true, a PostgreSQL that does not answer fails the run). The
import's tests also read legacy databases on MariaDB at 127.0.0.1:3306, on the same terms."""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from functools import partial
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from bench.postgres import admin, admin_dsn, postgres_error
from service.context import Context
from service.http.app import create_app
from service.live.hub import Events
from service.operations.projects import find_project
from service.settings import Settings
from service.store.db import Database, create_engine
from service.store.migrations import upgrade
from tests.api import Api
from tests.mariadb import mariadb_admin, mariadb_error
from tests.servers import running_server

PG_HOST = os.environ.get("FRAMESTATE_TEST_PG", "postgres@127.0.0.1:5432")
PG_ADMIN_DSN = admin_dsn(PG_HOST)
MARIADB_HOST = os.environ.get("FRAMESTATE_TEST_MARIADB", "root@127.0.0.1:3306")
TABLES = (
    "legacy_import",
    "webhook_delivery",
    "webhook_event",
    "webhook_subscription",
    "webhook_endpoint",
    "status_history",
    "video",
    "export_job",
    "clip",
    "project",
)


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


def _require(server: str, error: str | None) -> None:
    if error is None:
        return
    message = f"{server} does not answer ({error})"
    if os.environ.get("CI") == "true":
        pytest.fail(message + "; in CI it must.")
    pytest.skip(message)


def _require_postgres() -> None:
    _require(f"PostgreSQL at {PG_ADMIN_DSN}", postgres_error(PG_HOST))


def sqlite_url_in(directory: Path) -> str:
    """A new SQLite database file in `directory`."""
    return f"sqlite+aiosqlite:///{directory / f'framestate-{uuid.uuid4().hex[:8]}.db'}"


def fresh_database_url(kind: str, tmp: Path) -> Iterator[str]:
    """A new, empty database of `kind`; dropped afterwards where it is PostgreSQL."""
    if kind == "sqlite":
        yield sqlite_url_in(tmp)
        return
    _require_postgres()
    name = f"framestate_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(admin(PG_HOST, f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+asyncpg://{PG_HOST}/{name}"
    finally:
        asyncio.run(admin(PG_HOST, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
def fresh_url(database_kind: str, tmp_path: Path) -> Iterator[str]:
    """A new, empty database of each kind, unmigrated: for a test that starts its own server
    process (which migrates it) or runs the command line on it."""
    yield from fresh_database_url(database_kind, tmp_path)


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    """A new, empty PostgreSQL database, for a test about several processes sharing one."""
    yield from fresh_database_url("postgresql", tmp_path)


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """A new, empty MariaDB (or MySQL) database, dropped afterwards: a legacy app's database."""
    _require(f"MariaDB at {MARIADB_HOST}", mariadb_error(MARIADB_HOST))
    name = f"framestate_test_{uuid.uuid4().hex[:12]}"
    mariadb_admin(MARIADB_HOST, f"CREATE DATABASE `{name}`")
    try:
        yield f"mysql+pymysql://{MARIADB_HOST}/{name}"
    finally:
        mariadb_admin(MARIADB_HOST, f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A new SQLite database: for a server process whose test is not about the database."""
    return sqlite_url_in(tmp_path)


@pytest.fixture(scope="session")
def migrated_settings(database_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """One migrated database per kind for the whole run; each test empties it first."""
    for url in fresh_database_url(database_kind, tmp_path_factory.mktemp(database_kind)):
        settings = Settings(database_url=url)
        upgrade(settings)
        yield settings


async def empty_tables(settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            if settings.is_sqlite:
                for table in TABLES:
                    await conn.execute(text(f"DELETE FROM {table}"))
            else:
                await conn.execute(text(f"TRUNCATE {', '.join(TABLES)}"))
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def server_url(migrated_settings: Settings) -> Iterator[str]:
    """A real server process on the run's database of each kind, shared by a module's tests: for
    the tests of what only a real server shows (streams, clients, processes). A test that needs
    the database empty asks for `settings` as well."""
    with running_server(migrated_settings.database_url) as url:
        yield url


@pytest.fixture
async def settings(migrated_settings: Settings) -> Settings:
    await empty_tables(migrated_settings)
    return migrated_settings


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    async with AsyncTestClient(app=create_app(settings)) as client:
        yield Api(client)


@pytest.fixture
async def ctx(settings: Settings) -> AsyncIterator[Context]:
    """A second process's view of the same database: what a replica's sweep or metrics see."""
    db = Database.open(settings)
    try:
        yield Context(settings=settings, db=db, events=Events(settings, partial(find_project, db=db)))
    finally:
        await db.close()
