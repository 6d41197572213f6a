"""Alembic's entry point: runs migrations on the configured database over the async engine."""

import asyncio

from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from alembic import context
from service.legacy import tables as legacy_tables  # noqa: F401
from service.settings import Settings
from service.store import tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from service.store.db import create_engine
from service.webhooks import tables as webhook_tables  # noqa: F401

target_metadata = SQLModel.metadata


def _settings() -> Settings:
    url = context.config.attributes.get("database_url") or context.config.get_main_option("sqlalchemy.url")
    return Settings(database_url=url) if url else Settings.from_env()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_engine(_settings())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_settings().database_url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
