"""The migrations build the whole schema, undo it, build it again, and match the models."""

import asyncio
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from litestar.testing import AsyncTestClient
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from service.http.app import create_app
from service.legacy import tables as legacy_tables  # noqa: F401  (registers the import's table)
from service.settings import Settings
from service.store import tables  # noqa: F401  (registers the tables)
from service.store.db import create_engine
from service.store.migrations import downgrade, upgrade
from service.store.tables import utcnow
from service.webhooks import tables as webhook_tables  # noqa: F401  (registers the webhook tables)
from tests.api import Api

pytestmark = pytest.mark.anyio


@pytest.fixture
def empty_settings(fresh_url: str) -> Settings:
    return Settings(database_url=fresh_url)


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


def _columns(table: str) -> Any:
    def probe(conn: Connection) -> set[str]:
        return {column["name"] for column in inspect(conn).get_columns(table)}

    return probe


async def test_0003_adds_actor_and_reason_and_older_rows_read_null(empty_settings: Settings) -> None:
    await asyncio.to_thread(upgrade, empty_settings, "0002")
    engine = create_engine(empty_settings)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO project (id, name, status, version, clip_count, framed_clip_count,"
                    " created_at, updated_at) VALUES (:id, 'Old', 'exporting_framing', 2, 1, 1, :now, :now)"
                ),
                {"id": "a" * 32, "now": utcnow()},
            )
            await conn.execute(
                text(
                    "INSERT INTO export_job (id, project_id, type, status, progress, created_at, updated_at,"
                    " reported_at) VALUES (:id, :project, 'framing', 'queued', 0, :now, :now, :now)"
                ),
                {"id": "b" * 32, "project": "a" * 32, "now": utcnow()},
            )
            await conn.execute(
                text(
                    "INSERT INTO status_history (project_id, at, action, from_status, to_status)"
                    " VALUES (:project, :now, 'project_created', NULL, 'not_started')"
                ),
                {"project": "a" * 32, "now": utcnow()},
            )
    finally:
        await engine.dispose()
    await asyncio.to_thread(upgrade, empty_settings)
    assert {"actor", "reason"} <= await _inspect(empty_settings, _columns("status_history"))
    async with AsyncTestClient(app=create_app(empty_settings)) as client:
        api = Api(client)
        assert [(row["actor"], row["reason"]) for row in await api.history("a" * 32)] == [(None, None)]
        assert (await api.json("GET", "/v1/exports/" + "b" * 32, 200))["cancel_reason"] is None
    await asyncio.to_thread(downgrade, empty_settings, "0002")
    assert not {"actor", "reason"} & await _inspect(empty_settings, _columns("status_history"))
    assert "cancel_reason" not in await _inspect(empty_settings, _columns("export_job"))
    await asyncio.to_thread(upgrade, empty_settings)
    assert "cancel_reason" in await _inspect(empty_settings, _columns("export_job"))


async def test_the_webhook_migration_goes_down_and_up_alone(empty_settings: Settings) -> None:
    new_tables = {"webhook_endpoint", "webhook_subscription", "webhook_event", "webhook_delivery"}
    later = {"legacy_import"}
    await asyncio.to_thread(upgrade, empty_settings)
    await asyncio.to_thread(downgrade, empty_settings, "0003")
    assert await _inspect(empty_settings, _table_names) == set(SQLModel.metadata.tables) - new_tables - later
    await asyncio.to_thread(upgrade, empty_settings, "0004")
    await asyncio.to_thread(upgrade, empty_settings)
    assert await _inspect(empty_settings, _drift) == []


def _column_types(table: str) -> Any:
    def probe(conn: Connection) -> dict[str, str]:
        return {column["name"]: str(column["type"]) for column in inspect(conn).get_columns(table)}

    return probe


async def test_0005_keeps_what_was_pending_and_makes_the_counters_64_bit(
    empty_settings: Settings, database_kind: str
) -> None:
    """A delivery pending before the upgrade is still pending after it, its event counts as fanned
    out already (its deliveries exist), and both counters take numbers past 2^31."""
    await asyncio.to_thread(upgrade, empty_settings, "0004")
    now = utcnow()
    engine = create_engine(empty_settings)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO webhook_endpoint (id, url, events, secret, created_at)"
                    " VALUES (:id, 'http://127.0.0.1:9/hook', '[\"project.created\"]', 'whsec_x', :now)"
                ),
                {"id": "e" * 32, "now": now},
            )
            await conn.execute(
                text(
                    "INSERT INTO webhook_event (id, type, project_id, body, created_at)"
                    " VALUES (:id, 'project.created', :project, '{}', :now)"
                ),
                {"id": "f" * 32, "project": "a" * 32, "now": now},
            )
            await conn.execute(
                text(
                    "INSERT INTO webhook_delivery (id, endpoint_id, event_id, project_id, type, status,"
                    " attempts, next_attempt_at, expires_at, created_at) VALUES (:id, :endpoint, :event,"
                    " :project, 'project.created', 'pending', 0, :now, :now, :now)"
                ),
                {"id": "d" * 32, "endpoint": "e" * 32, "event": "f" * 32, "project": "a" * 32, "now": now},
            )
    finally:
        await engine.dispose()
    await asyncio.to_thread(upgrade, empty_settings)
    engine = create_engine(empty_settings)
    try:
        async with engine.begin() as conn:
            fanned = (await conn.execute(text("SELECT fanned_out FROM webhook_event"))).scalar_one()
            status = (await conn.execute(text("SELECT status FROM webhook_delivery"))).scalar_one()
            enabled = (await conn.execute(text("SELECT enabled FROM webhook_endpoint"))).scalar_one()
            assert (bool(fanned), status, bool(enabled)) == (True, "pending", True)
            if database_kind == "postgresql":  # the next numbers handed out are past 2^31
                await conn.execute(text("SELECT setval('webhook_delivery_seq_seq', :big)"), {"big": 2**40})
            else:
                await conn.execute(text("UPDATE webhook_delivery SET seq = :big"), {"big": 2**40})
            await conn.execute(
                text(
                    "INSERT INTO webhook_delivery (id, endpoint_id, event_id, project_id, type, status,"
                    " attempts, expires_at, created_at) SELECT :id, endpoint_id, event_id, project_id, type,"
                    " 'delivered', 1, expires_at, created_at FROM webhook_delivery"
                ),
                {"id": "c" * 32},
            )
            seqs = (await conn.execute(text("SELECT seq FROM webhook_delivery ORDER BY seq"))).scalars().all()
            assert seqs[-1] > 2**40
            await conn.execute(text("DELETE FROM webhook_delivery WHERE id = :id"), {"id": "c" * 32})
            if database_kind == "postgresql":
                await conn.execute(text("SELECT setval('webhook_delivery_seq_seq', 1)"))
    finally:
        await engine.dispose()
    if database_kind == "postgresql":
        assert (await _inspect(empty_settings, _column_types("webhook_delivery")))["seq"] == "BIGINT"
        assert (await _inspect(empty_settings, _column_types("status_history")))["id"] == "BIGINT"
    await asyncio.to_thread(downgrade, empty_settings, "0004")
    assert "fanned_out" not in await _inspect(empty_settings, _columns("webhook_event"))
    await asyncio.to_thread(upgrade, empty_settings)
    assert await _inspect(empty_settings, _drift) == []


def _nullable(table: str, column: str) -> Any:
    def probe(conn: Connection) -> bool:
        return bool(next(c for c in inspect(conn).get_columns(table) if c["name"] == column)["nullable"])

    return probe


async def test_0006_adds_the_import_table_and_videos_without_a_job_and_goes_back(
    empty_settings: Settings,
) -> None:
    await asyncio.to_thread(upgrade, empty_settings)
    assert await _inspect(empty_settings, _nullable("video", "job_id"))
    engine = create_engine(empty_settings)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO project (id, name, status, version, clip_count, framed_clip_count,"
                    " working_video_id, created_at, updated_at)"
                    " VALUES ('42', 'Old', 'framed', 1, 0, 0, '7', :now, :now)"
                ),
                {"now": utcnow()},
            )
            await conn.execute(
                text(
                    "INSERT INTO video (id, project_id, kind, version, job_id, created_at)"
                    " VALUES ('7', '42', 'working', 3, NULL, :now)"
                ),
                {"now": utcnow()},
            )
            await conn.execute(
                text(
                    "INSERT INTO legacy_import (project_id, version, fingerprint, imported_at)"
                    " VALUES ('42', 1, :fingerprint, :now)"
                ),
                {"fingerprint": "f" * 32, "now": utcnow()},
            )
    finally:
        await engine.dispose()
    async with AsyncTestClient(app=create_app(empty_settings)) as client:
        card = await Api(client).project("42")
        assert card["working_video"]["job_id"] is None
        assert card["working_video"]["version"] == 3
    await asyncio.to_thread(downgrade, empty_settings, "0005")
    assert "legacy_import" not in await _inspect(empty_settings, _table_names)
    assert not await _inspect(empty_settings, _nullable("video", "job_id"))
    await asyncio.to_thread(upgrade, empty_settings)
    assert await _inspect(empty_settings, _drift) == []
    assert await _inspect(empty_settings, _nullable("video", "job_id"))
