"""A flood of connections that never finish their request (slowloris) holds at most
`FRAMESTATE_MAX_CONNECTIONS` of a process: the ones past it are closed at once, the log stays small,
and the process answers again as soon as the flood goes away."""

import asyncio
import contextlib
import resource
from collections.abc import Iterator

import httpx
import pytest

from tests.polling import poll
from tests.servers import ServerProcess, server_process

pytestmark = pytest.mark.anyio
CAP = 50
FLOOD = 3000
PARTIAL = b"GET /health/live HTTP/1.1\r\nHost: framestate\r\nX-Slow: "


@pytest.fixture
def capped(sqlite_url: str) -> Iterator[ServerProcess]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < FLOOD + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, FLOOD + 1000), hard))
    with server_process(sqlite_url, extra_env={"FRAMESTATE_MAX_CONNECTIONS": str(CAP)}) as server:
        yield server


async def _half_open(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(PARTIAL)
        await writer.drain()
    except OSError:
        return None
    return reader, writer


async def _closed_by_server(reader: asyncio.StreamReader, within_s: float) -> bool:
    try:
        async with asyncio.timeout(within_s):
            return await reader.read(1) == b""
    except TimeoutError:
        return False
    except OSError:
        return True


async def _live(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            return (await client.get(f"{url}/health/live")).status_code == 200
    except httpx.HTTPError:
        return False


async def test_connections_past_the_cap_are_closed_at_once(capped: ServerProcess) -> None:
    port = int(capped.url.rsplit(":", 1)[1])
    assert await _live(capped.url)
    opened = [c for c in await asyncio.gather(*(_half_open(port) for _ in range(FLOOD))) if c]
    try:
        closed = await asyncio.gather(*(_closed_by_server(reader, 3.0) for reader, _ in opened))
        held = closed.count(False)
        assert held <= CAP
        assert held >= CAP - 5, "the server should hold the connections within its cap"
        assert closed.count(True) >= FLOOD - CAP - 5
        assert not await _live(capped.url), "a new connection past the cap is closed, not queued"
    finally:
        for _, writer in opened:
            writer.close()
        for _, writer in opened:
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    await poll(lambda: _live(capped.url), bool, timeout_s=5)  # back as soon as the flood is gone
    assert capped.process.poll() is None
    text = "".join(capped.log)
    assert "Too many open files" not in text
    assert "Traceback" not in text
    refused = [line for line in capped.log if "closed a new connection at once" in line]
    assert 1 <= len(refused) <= 10, refused  # once a second, with a count
    assert len(capped.log) < 100
