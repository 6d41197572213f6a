"""Database connections: `serve --workers N` refuses to start when N processes could open more
connections than PostgreSQL leaves, and a request PostgreSQL turns away for having too many is
503 `database_unavailable` with `Retry-After`, never a 500.

PostgreSQL does not hold superusers to a database's connection limit, so these tests serve as a
role of their own, owner of a database whose limit is low."""

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from bench.postgres import admin
from tests.api import CROP, answered, assert_problem
from tests.conftest import PG_HOST, _require_postgres
from tests.servers import ROOT, server_process

pytestmark = pytest.mark.anyio


def limited_database(limit: int) -> Iterator[str]:
    _require_postgres()
    name = f"framestate_limited_{uuid.uuid4().hex[:10]}"
    address = PG_HOST.partition("@")[2]
    asyncio.run(admin(PG_HOST, f'CREATE ROLE "{name}" LOGIN'))
    try:
        asyncio.run(admin(PG_HOST, f'CREATE DATABASE "{name}" OWNER "{name}" CONNECTION LIMIT {limit}'))
        try:
            yield f"postgresql+asyncpg://{name}@{address}/{name}"
        finally:
            asyncio.run(admin(PG_HOST, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        asyncio.run(admin(PG_HOST, f'DROP ROLE IF EXISTS "{name}"'))


@pytest.fixture
def thirty_connections() -> Iterator[str]:
    yield from limited_database(30)


@pytest.fixture
def three_connections() -> Iterator[str]:
    yield from limited_database(3)


def _serve(url: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FRAMESTATE_")}
    return subprocess.run(
        [sys.executable, "-m", "service.commands.cli", "serve", "--port", "9", *args],
        cwd=ROOT,
        env={**clean, "FRAMESTATE_DATABASE_URL": url, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


async def _migrated(url: str) -> bool:
    conn = await asyncpg.connect(f"postgresql://{PG_HOST}/{url.rsplit('/', 1)[1]}")
    try:
        return bool(await conn.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL"))
    finally:
        await conn.close()


def test_workers_that_could_open_more_connections_than_postgres_leaves_are_refused(
    thirty_connections: str,
) -> None:
    result = _serve(thirty_connections, "--workers", "2")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "--workers 2" in lines[0]
    assert "42 connections" in lines[0]
    assert "CONNECTION LIMIT 30" in lines[0]
    assert "FRAMESTATE_DB_POOL_SIZE" in lines[0]
    assert not asyncio.run(_migrated(thirty_connections)), "it refused before migrating anything"


def test_workers_that_fit_serve(thirty_connections: str) -> None:
    env = {"FRAMESTATE_DB_POOL_SIZE": "4", "FRAMESTATE_DB_MAX_OVERFLOW": "2"}
    with server_process(thirty_connections, extra_env=env, args=("--workers", "2")) as server:
        assert httpx.get(f"{server.url}/health/ready", timeout=10).status_code == 200


async def test_requests_postgres_turns_away_are_503_never_500(three_connections: str) -> None:
    with server_process(three_connections) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            project = answered(await client.post("/v1/projects", json={"name": "Crowded"}), 201)
            answered(await client.post(f"/v1/projects/{project['id']}/clips", json={"crop_data": CROP}), 201)
            job = answered(
                await client.post(f"/v1/projects/{project['id']}/exports", json={"type": "framing"}), 202
            )
            answers = await asyncio.gather(
                *(
                    client.get(f"/v1/projects/{project['id']}")
                    if n % 2
                    else client.post(f"/v1/exports/{job['id']}/progress", json={"progress": n / 2})
                    for n in range(80)
                )
            )
            statuses = sorted({answer.status_code for answer in answers})
            assert set(statuses) <= {200, 503}, statuses
            assert 503 in statuses, "the database never turned a connection away: the test proves nothing"
            for answer in answers:
                if answer.status_code == 503:
                    assert_problem(answer, 503, "database_unavailable")
                    assert answer.headers["retry-after"]
            for _ in range(5):  # once the crowd is gone, every request is served again
                answered(await client.get(f"/v1/projects/{project['id']}"), 200)
        assert not [line for line in server.log if "Traceback" in line or "unexpected error" in line]
        faults = [line for line in server.log if "database connection fault" in line]
        assert 1 <= len(faults) <= 10, faults  # a flood of one warning is written once a second
