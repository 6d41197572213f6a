"""Keeping the cyclic garbage collector's work small. Its full passes stall the whole process, every
request and every event stream, for as long as they take to walk the heap: the served process
freezes what it built at startup, so that a pass walks only what requests made since, and a request
leaves no reference cycles, so that passes come rarely."""

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import uvicorn
from litestar import Litestar
from uvicorn.protocols.http.h11_impl import RequestResponseCycle

from bench.servers import free_port
from service.commands.serving import APP_FACTORY, GC_YOUNG_FACTOR
from service.http.app import create_app
from service.settings import Settings
from tests.api import Api
from tests.polling import poll
from tests.sse import events

pytestmark = pytest.mark.anyio
REQUESTS = 30
STREAMS = 2


@asynccontextmanager
async def serving(config: uvicorn.Config) -> AsyncIterator[None]:
    """uvicorn in this process, so that this process's heap is the server's."""
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        return server.started

    try:
        await poll(started, bool, timeout_s=30)
        yield
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[tuple[str, Litestar]]:
    port = free_port()
    app = create_app(settings)
    async with serving(uvicorn.Config(app, port=port, log_config=None, lifespan="on")):
        yield f"http://127.0.0.1:{port}", app


def _requests_alive() -> int:
    return sum(isinstance(thing, RequestResponseCycle) for thing in gc.get_objects())


async def test_served_requests_and_streams_leave_no_reference_cycles(
    served: tuple[str, Litestar],
) -> None:
    url, app = served
    ctx = app.state.ctx
    async with httpx.AsyncClient(base_url=url) as client:
        api = Api(client)
        project = await api.create_project()
        gc.collect()
        gc.disable()
        try:
            for _ in range(REQUESTS):
                await api.add_clip(project["id"])
                await client.get(f"/v1/projects/{project['id']}")
            async with events(client, f"/v1/projects/{project['id']}/events") as stream:
                await api.add_clip(project["id"])
                await stream.next()  # the snapshot
                await stream.next()  # the change
            async with events(client, "/v1/events") as stream:  # its frames written at once
                for _ in range(3):
                    await api.add_clip(project["id"])
                    await stream.next()

            async def streams() -> int:
                return int(ctx.events.subscriber_count)

            await poll(streams, lambda count: count == 0, timeout_s=10)
            alive = _requests_alive()
            gc.collect()
            freed_by_the_collector = alive - _requests_alive()
        finally:
            gc.enable()
    # A stream whose client goes away ends in a cancellation whose traceback anyio's task keeps in a
    # reference cycle, one a stream; no other request, and no frame written at once, leaves one.
    assert freed_by_the_collector <= STREAMS, (
        f"{freed_by_the_collector} finished requests waited for the collector"
    )


async def test_the_served_process_freezes_its_startup_heap_and_collects_less_often(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAMESTATE_DATABASE_URL", settings.database_url)
    config = uvicorn.Config(APP_FACTORY, factory=True, port=free_port(), log_config=None, lifespan="on")
    thresholds = gc.get_threshold()
    gc.unfreeze()
    try:
        async with serving(config):
            frozen, served_thresholds = gc.get_freeze_count(), gc.get_threshold()
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    assert frozen > 10_000, f"only {frozen} objects frozen"
    assert served_thresholds == (thresholds[0] * GC_YOUNG_FACTOR, *thresholds[1:])
