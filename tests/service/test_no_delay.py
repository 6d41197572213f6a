"""Every served connection sends without Nagle's delay, also on the listening socket that uvicorn
binds for `--workers N` (its protocol number is 0, so asyncio leaves TCP_NODELAY off, and a worker's
answer written in two parts waits about 40 ms for the client's delayed ACK)."""

import asyncio
import socket
from collections.abc import Awaitable, Callable

import httpx
import pytest
import uvicorn

from service.http.connections import CappedH11Protocol
from tests.polling import poll

pytestmark = pytest.mark.anyio


async def _hello(scope: dict[str, object], receive: object, send: object) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})  # type: ignore[operator]
    await send({"type": "http.response.body", "body": b"ok"})  # type: ignore[operator]


def _started(server: uvicorn.Server) -> Callable[[], Awaitable[bool]]:
    async def started() -> bool:
        return server.started

    return started


async def test_a_connection_accepted_on_a_workers_listening_socket_has_nagle_off() -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # as uvicorn's bind_socket: proto 0
    listener.bind(("127.0.0.1", 0))
    assert listener.proto == 0
    port = listener.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(_hello, http=CappedH11Protocol, lifespan="off", log_level="warning")
    )
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        await poll(_started(server), bool, timeout_s=10)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.get("/")).text == "ok"
            (protocol,) = server.server_state.connections
            accepted = protocol.transport.get_extra_info("socket")
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        server.should_exit = True
        await serving
        listener.close()
