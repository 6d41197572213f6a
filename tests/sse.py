"""Reading Server-Sent Events from a real server in the tests."""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

EVENT_TIMEOUT_S = 10.0


class EventReader:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next(self) -> tuple[str, Any]:
        """The next event as (name, decoded data); comments and `retry:` lines are skipped."""
        async with asyncio.timeout(EVENT_TIMEOUT_S):
            name, data = "message", list[str]()
            async for line in self._lines:
                if line == "":
                    if data:
                        return name, json.loads("\n".join(data))
                    name = "message"
                elif line.startswith("event:"):
                    name = line.removeprefix("event:").strip()
                elif line.startswith("data:"):
                    data.append(line.removeprefix("data:").strip())
            raise EOFError("the stream ended")

    async def ended(self) -> bool:
        """True once the server has closed the stream (whatever it still sends first is ignored)."""
        async with asyncio.timeout(EVENT_TIMEOUT_S):
            async for _ in self._lines:
                pass
        return True

    async def opened(self) -> None:
        """Wait for the stream's opening comment: from then on the subscription is in place."""
        async with asyncio.timeout(EVENT_TIMEOUT_S):
            async for line in self._lines:
                if line.startswith(": framestate events"):
                    return


@asynccontextmanager
async def events(client: httpx.AsyncClient, path: str) -> AsyncIterator[EventReader]:
    async with client.stream("GET", path, timeout=httpx.Timeout(30, read=None)) as response:
        assert response.status_code == 200, (await response.aread()).decode()
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = EventReader(response)
        await reader.opened()
        yield reader
