"""Liveness and readiness: live while the process runs; ready only when it can serve everything."""

import asyncio
import uuid
from functools import partial
from pathlib import Path

import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient

from service import lifecycle
from service.http.app import create_app
from service.live.announcements import LISTEN_NAME
from service.live.hub import KEEP_ALIVE, Subscriber
from service.settings import Settings
from service.store.migrations import upgrade
from tests.api import Api, assert_problem
from tests.conftest import PG_ADMIN_DSN, PG_HOST
from tests.polling import poll

pytestmark = pytest.mark.anyio
RECOVERY_S = 20.0


async def _not_ready(client: httpx.AsyncClient, path: str = "/health/ready") -> str:
    response = await client.get(path)
    body = assert_problem(response, 503, "not_ready")
    assert response.headers["retry-after"]
    detail: str = body["detail"]
    return detail


async def test_live_and_ready_when_everything_answers(api: Api) -> None:
    for path in ("/health/live", "/health/ready", "/health"):
        assert (await api.call("GET", path, 200)).json() == {"status": "ok"}


async def test_draining_is_not_ready(api: Api) -> None:
    assert isinstance(api.client, AsyncTestClient)
    api.client.blocking_portal.call(lifecycle.drain)  # on the application's loop, as a signal would
    assert "shutting down" in await _not_ready(api.client)
    assert "shutting down" in await _not_ready(api.client, "/health")
    assert (await api.call("GET", "/health/live", 200)).json() == {"status": "ok"}


def _unanswering_urls(tmp_path: Path) -> list[str]:
    return [
        f"sqlite+aiosqlite:///{tmp_path}",  # a directory, not a file
        f"postgresql+asyncpg://{PG_HOST}/framestate_missing_{uuid.uuid4().hex[:8]}",
        "postgresql+asyncpg://postgres@127.0.0.1:1/test",  # a port nobody listens on
    ]


@pytest.mark.parametrize("which", [0, 1, 2], ids=["sqlite", "postgresql-no-database", "postgresql-no-server"])
async def test_not_ready_while_the_database_does_not_answer(tmp_path: Path, which: int) -> None:
    url = _unanswering_urls(tmp_path)[which]
    async with AsyncTestClient(app=create_app(Settings(database_url=url))) as client:
        assert (await client.get("/health/live")).status_code == 200
        detail = await _not_ready(client)
        assert "database does not answer" in detail
        if url.startswith("postgresql"):
            assert "LISTEN connection is down" in detail
        assert await _not_ready(client, "/health") == detail


@pytest.fixture
def own_postgres_database(postgres_url: str) -> str:
    upgrade(Settings(database_url=postgres_url))
    return postgres_url


async def _listen_pid(admin: asyncpg.Connection, database: str) -> int | None:
    pid: int | None = await admin.fetchval(
        "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2",
        database,
        LISTEN_NAME,
    )
    return pid


async def test_not_ready_while_the_listen_connection_is_down_then_ready_again(
    own_postgres_database: str,
) -> None:
    database = own_postgres_database.rsplit("/", 1)[1]
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    app = create_app(Settings(database_url=own_postgres_database))
    try:
        async with AsyncTestClient(app=app) as client:
            assert (await client.get("/health/ready")).status_code == 200  # leaves a pooled connection
            first = await _listen_pid(admin, database)
            assert first is not None
            await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
            await admin.execute("SELECT pg_terminate_backend($1)", first)
            ready = partial(client.get, "/health/ready")
            response = await poll(ready, lambda r: r.status_code == 503, timeout_s=RECOVERY_S)
            assert "LISTEN connection is down" in response.json()["detail"]
            await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
            await poll(ready, lambda r: r.status_code == 200, timeout_s=RECOVERY_S)
            second = await _listen_pid(admin, database)
            assert second is not None
            assert second != first
            subscriber = app.state.ctx.events.subscribe(None)
            project = await Api(client).create_project("After the outage")
            assert await asyncio.wait_for(_changes(subscriber), RECOVERY_S) == [project["id"]]
    finally:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        await admin.close()


async def _changes(subscriber: Subscriber) -> list[str]:
    """The projects of the next frames that announce changes (keep-alives aside)."""
    while True:
        if changed := [frame.project_id for frame in await subscriber.take() if frame is not KEEP_ALIVE]:
            return changed
