"""SIGTERM on a real server with event streams open and a write in flight: the streams end at once,
the write finishes (or, cut off at the end of the grace period, leaves nothing), the process exits 0
within `FRAMESTATE_SHUTDOWN_GRACE_S`."""

import asyncio
import signal
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from service.settings import Settings
from tests.polling import poll
from tests.servers import ServerProcess, server_process
from tests.sse import events

pytestmark = pytest.mark.anyio
MARGIN_S = 3.0
"""Slack on top of the grace period for a loaded test machine (the contract's bound is the grace)."""
STREAMS = 3


@asynccontextmanager
async def sqlite_write_lock(url: str, _project_id: str) -> AsyncIterator[Callable[[], Any]]:
    """Hold SQLite's write lock: the server's next write waits for it (up to its busy timeout)."""
    conn = sqlite3.connect(make_url(url).database or "", isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield lambda: conn.execute("COMMIT")
    finally:
        conn.close()


@asynccontextmanager
async def postgres_row_lock(url: str, project_id: str) -> AsyncIterator[Callable[[], Any]]:
    """Hold the project's row lock: the server's compare-and-set of it waits."""
    conn = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(False))
    transaction = conn.transaction()
    await transaction.start()
    await conn.execute("SELECT id FROM project WHERE id = $1 FOR UPDATE", project_id)
    try:
        yield transaction.commit
    finally:
        if not conn.is_closed():
            await conn.close()


def lock_for(settings: Settings) -> Callable[[str, str], AbstractAsyncContextManager[Callable[[], Any]]]:
    return sqlite_write_lock if settings.is_sqlite else postgres_row_lock


async def wait_until_in_flight(settings: Settings, client: httpx.AsyncClient) -> None:
    """Until the server is waiting for the lock (PostgreSQL shows it); on SQLite, until a later
    request has been answered, so the write has been read and is waiting."""
    if settings.is_sqlite:
        assert (await client.get("/health/live")).status_code == 200
        return
    dsn = make_url(settings.database_url)
    conn = await asyncpg.connect(dsn.set(drivername="postgresql").render_as_string(False))
    try:
        waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'"
        await poll(lambda: conn.fetchval(waiting, dsn.database), lambda n: n > 0, timeout_s=10)
    finally:
        await conn.close()


async def clip_count(client: httpx.AsyncClient, project_id: str) -> int:
    return len((await client.get(f"/v1/projects/{project_id}/clips")).json())


async def _shutdown_with_a_write_in_flight(settings: Settings, grace_s: float, release: bool) -> None:
    env = {"FRAMESTATE_SHUTDOWN_GRACE_S": str(grace_s)}
    with server_process(settings.database_url, extra_env=env) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=httpx.Timeout(60, read=None)) as client:
            project_id = (await client.post("/v1/projects", json={"name": "in flight"})).json()["id"]
            async with lock_for(settings)(settings.database_url, project_id) as unlock:
                answers = await _signal_under_load(server, client, settings, project_id, unlock, release)
                exited_after = await asyncio.to_thread(_wait_for_exit, server, grace_s + MARGIN_S)
    assert server.process.returncode == 0, "".join(server.log)
    assert exited_after < grace_s + MARGIN_S
    write = answers["write"]
    with server_process(settings.database_url) as again:
        async with httpx.AsyncClient(base_url=again.url) as client:
            stored = await clip_count(client, project_id)
    if isinstance(write, httpx.Response) and write.status_code == 201:
        assert stored == 1, "an answered write is committed"
    else:
        assert stored == 0, f"a write cut off leaves nothing ({write!r})"
    if release:
        assert isinstance(write, httpx.Response)
        assert write.status_code == 201, write.text


async def _signal_under_load(
    server: ServerProcess,
    client: httpx.AsyncClient,
    settings: Settings,
    project_id: str,
    unlock: Callable[[], Any],
    release: bool,
) -> dict[str, Any]:
    answers: dict[str, Any] = {}

    async def slow_write() -> None:
        try:
            answers["write"] = await client.post(f"/v1/projects/{project_id}/clips", json={"crop_data": {}})
        except httpx.HTTPError as exc:
            answers["write"] = exc

    async with (
        events(client, "/v1/events") as first,
        events(client, "/v1/events") as second,
        events(client, f"/v1/projects/{project_id}/events") as one,
    ):
        writer = asyncio.create_task(slow_write())
        await wait_until_in_flight(settings, client)
        server.process.send_signal(signal.SIGTERM)
        for stream in (first, second, one):
            assert await stream.ended(), "every event stream ends at once, with a write still in flight"
        assert not writer.done()
        if release:
            result = unlock()
            if asyncio.iscoroutine(result):
                await result
        await writer
    return answers


def _wait_for_exit(server: ServerProcess, limit_s: float) -> float:
    started = time.monotonic()
    server.process.wait(limit_s + 10)
    return time.monotonic() - started


async def test_sigterm_ends_streams_lets_the_write_finish_and_exits_0(settings: Settings) -> None:
    await _shutdown_with_a_write_in_flight(settings, grace_s=6, release=True)


async def test_a_write_still_waiting_at_the_end_of_the_grace_is_cut_off_and_leaves_nothing(
    settings: Settings,
) -> None:
    await _shutdown_with_a_write_in_flight(settings, grace_s=3, release=False)
