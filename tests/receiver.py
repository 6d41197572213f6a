"""A webhook receiver for the tests: a small HTTP server on loopback that records every request,
answers as the test says (a status, or hang until closed), verifies signatures with the published
`standardwebhooks` package, and counts attempts of one `webhook-id` that overlapped in time."""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from standardwebhooks.webhooks import Webhook

HANG = -1
Answer = Callable[["Received"], "int | tuple[int, dict[str, str]]"]
"""The status to answer a request with (`HANG`: never answer), or the status and headers, given the
request and what came before."""


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    at: float
    index: int
    """How many requests this receiver had before this one."""

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def type(self) -> str:
        return str(self.json["type"])


@dataclass
class Receiver:
    answer: Answer
    delay_s: float = 0.0
    host: str = "127.0.0.1"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    answered: list[tuple[Received, int]] = field(default_factory=list)
    overlaps: int = 0
    _in_flight: dict[str, int] = field(default_factory=dict)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _closing: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/hook"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            headers = {
                k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in head[1:] if line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            writer.close()
            return
        request = Received(headers, body, time.monotonic(), len(self.received))
        msg_id = headers.get("webhook-id", "")
        self._in_flight[msg_id] = self._in_flight.get(msg_id, 0) + 1
        if self._in_flight[msg_id] > 1:
            self.overlaps += 1
        try:
            async with self._changed:
                self.received.append(request)
                self._changed.notify_all()
            answered = self.answer(request)
            status, extra = answered if isinstance(answered, tuple) else (answered, {})
            if status == HANG:
                await self._closing.wait()
                return
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            # Recorded before the answer goes out, so a delivery its sender saw answered is here.
            async with self._changed:
                self.answered.append((request, status))
                self._changed.notify_all()
            lines = "".join(f"{name}: {value}\r\n" for name, value in extra.items())
            writer.write(
                f"HTTP/1.1 {status} X\r\n{lines}Content-Length: 0\r\nConnection: close\r\n\r\n".encode()
            )
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            self._in_flight[msg_id] -= 1
            writer.close()

    async def wait_until(self, done: Callable[["Receiver"], bool], within_s: float = 30.0) -> None:
        """Wait until `done(self)` holds, as requests come in; fail after `within_s` seconds."""
        async with asyncio.timeout(within_s), self._changed:
            await self._changed.wait_for(lambda: done(self))

    def acknowledged(self) -> list[Received]:
        """Requests answered 2xx, each event once, in the order they were first acknowledged."""
        seen: dict[str, Received] = {}
        for request, status in self.answered:
            if 200 <= status < 300:
                seen.setdefault(request.id, request)
        return list(seen.values())

    def types(self) -> list[str]:
        return [request.type for request in self.acknowledged()]


def verify(secret: str, request: Received) -> Any:
    """The body, once `standardwebhooks` has verified its signature with the webhook's secret."""
    return Webhook(secret).verify(request.body, request.headers)


def always(status: int) -> Answer:
    return lambda _request: status


@asynccontextmanager
async def receiving(
    answer: Answer | None = None, *, delay_s: float = 0.0, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[Receiver]:
    receiver = Receiver(answer or always(204), delay_s, host)
    server = await asyncio.start_server(receiver._handle, host, port)
    receiver.port = server.sockets[0].getsockname()[1]
    try:
        yield receiver
    finally:
        receiver._closing.set()
        server.close()
        await server.wait_closed()
