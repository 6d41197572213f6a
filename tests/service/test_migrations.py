"""The migrations build the whole schema, undo it, build it again, and match the models."""

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from service import tables  # noqa: F401  (registers the tables)
from service.db import create_engine
from service.migrations import downgrade, upgrade
from service.settings import Settings
from tests.conftest import fresh_database_url

pytestmark = pytest.mark.anyio


@pytest.fixture
def empty_settings(database_kind: str, tmp_path: Path) -> Iterator[Settings]:
    for url in fresh_database_url(database_kind, tmp_path):
        yield Settings(database_url=url)


async def _inspect(settings: Settings, probe: Any) -> Any:
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(probe)
    finally:
        await engine.dispose()


def _table_names(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names()) - {"alembic_version"}


def _drift(conn: Connection) -> list[Any]:
    return list(
        compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
    )


async def test_upgrade_downgrade_upgrade(empty_settings: Settings) -> None:
    expected = set(SQLModel.metadata.tables)
    await asyncio.to_thread(upgrade, empty_settings)
    assert await _inspect(empty_settings, _table_names) == expected
    await asyncio.to_thread(downgrade, empty_settings)
    assert await _inspect(empty_settings, _table_names) == set()
    await asyncio.to_thread(upgrade, empty_settings)
    assert await _inspect(empty_settings, _table_names) == expected


async def test_migrations_match_the_models(empty_settings: Settings) -> None:
    await asyncio.to_thread(upgrade, empty_settings)
    assert await _inspect(empty_settings, _drift) == []
