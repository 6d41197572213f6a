"""A process killed between a commit and its announcement to the other processes: their event
streams end (their clients start again from a fresh snapshot, which has the change) instead of
staying one change behind. A process that stops gracefully says so, and ends nobody's streams."""

import asyncio
import signal

import httpx
import pytest

from tests.polling import poll
from tests.servers import ServerProcess, server_process
from tests.sse import events

pytestmark = pytest.mark.anyio
LOST = "ended without announcing"
PEERS = "framestate processes listening on this database:"


def _lines(server: ServerProcess, marker: str) -> list[str]:
    return [line for line in list(server.log) if marker in line]


def _peer_counts(server: ServerProcess) -> list[int]:
    return [int(line.rsplit(":", 1)[1].split()[0]) for line in _lines(server, PEERS)]


async def _seen(watcher: ServerProcess, counts: list[int]) -> None:
    async def peers() -> list[int]:
        return _peer_counts(watcher)

    await poll(peers, lambda seen: seen[-len(counts) :] == counts, timeout_s=15)


async def test_streams_end_when_another_process_dies_but_not_when_it_stops(postgres_url: str) -> None:
    with server_process(postgres_url) as watcher:
        async with httpx.AsyncClient(base_url=watcher.url) as client, events(client, "/v1/events") as stream:
            await _seen(watcher, [1])
            with server_process(postgres_url) as graceful:
                await _seen(watcher, [1, 2])
                graceful.process.send_signal(signal.SIGTERM)
                assert await asyncio.to_thread(graceful.process.wait, 20) == 0
            await _seen(watcher, [1, 2, 1])
            with server_process(postgres_url) as doomed:
                await _seen(watcher, [1, 2, 1, 2])
                created = (await client.post("/v1/projects", json={"name": "still streaming"})).json()
                name, card = await stream.next()
                assert (name, card["id"]) == ("project", created["id"]), "the graceful stop ended nothing"
                assert _lines(watcher, LOST) == []
                doomed.process.send_signal(signal.SIGKILL)
                assert await asyncio.to_thread(doomed.process.wait, 10) == -signal.SIGKILL
                assert await stream.ended()

        async def lost() -> list[str]:
            return _lines(watcher, LOST)

        # The line is logged before the streams end, but read from the process's output by a thread.
        await poll(lost, lambda seen: len(seen) >= 1, timeout_s=10)
        assert len(_lines(watcher, LOST)) == 1
