"""The answer of an event stream: Litestar's streaming response (its headers, its watch for the
client going away, its OpenAPI description) whose frames go straight to the server's `send`.

Litestar's exception handling wraps `send` in a coroutine of its own, run for every message, to
notice when an answer starts. Once a stream has started, that handler can do nothing for its frames,
and a stream writes one frame for every change, times every subscriber: the frames take the `send`
that the outermost wrapper (`service.http.observer`) left in the scope instead.

With 2,000 streams a change is 2,000 frames, and each frame sent through ASGI wakes its stream's
task and walks the await chain down to the socket: with uvicorn's HTTP/1.1 protocol (the one
framestate serves with), a stream of every project that has nothing waiting writes a frame at once
instead, from the fan-out itself, exactly as uvicorn's own `send` would (h11 frames it, the
transport writes it). Whenever that cannot be done (the client went away, its socket is full, the
answer ended) the frame waits for the stream's task as before, which sends it through ASGI.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any, Protocol

import h11
from litestar import Litestar, Request
from litestar.background_tasks import BackgroundTask, BackgroundTasks
from litestar.datastructures.cookie import Cookie
from litestar.enums import MediaType
from litestar.response import Stream
from litestar.response.base import ASGIResponse
from litestar.response.streaming import ASGIStreamingResponse
from litestar.types import Message, Receive, Scope, Send, TypeEncodersMap
from uvicorn.protocols.http.h11_impl import RequestResponseCycle

from service.http.openapi import EVENT_STREAM
from service.live.hub import WriteNow

BODY_SEND = "framestate.body_send"
SERVER_SEND = "framestate.server_send"
END: Message = {"type": "http.response.body", "body": b"", "more_body": False}


def keep_body_send(scope: Any, send: Send, server_send: Send) -> None:
    """Called by the outermost wrapper with the `send` that frames should use, and the server's own."""
    state = scope.setdefault("state", {})
    state[BODY_SEND] = send
    state[SERVER_SEND] = server_send


def forget_body_send(scope: Any) -> None:
    """Called by the outermost wrapper once the request has ended: the server's `send` refers to
    the scope, so a scope still holding it would make every request a reference cycle, freed only
    by the cyclic collector (whose full passes stall the whole process)."""
    scope["state"].pop(BODY_SEND, None)
    scope["state"].pop(SERVER_SEND, None)


def write_now(scope: Any) -> WriteNow | None:
    """The immediate writer of a stream's frames, when the server is uvicorn's HTTP/1.1 protocol
    and the answer has a body; else None (every frame goes through ASGI)."""
    cycle = getattr(scope.get("state", {}).get(SERVER_SEND), "__self__", None)
    if not isinstance(cycle, RequestResponseCycle) or scope.get("method") == "HEAD":
        return None
    conn, transport, flow = cycle.conn, cycle.transport, cycle.flow

    def write(data: bytes) -> bool:
        if cycle.disconnected or cycle.response_complete or flow.write_paused or transport.is_closing():
            return False
        try:
            transport.write(conn.send(h11.Data(data=data)))
        except h11.LocalProtocolError:  # the answer cannot go on: the stream's own send says why
            return False
        return True

    return write


def frame_message(data: bytes) -> Message:
    return {"type": "http.response.body", "body": data, "more_body": True}


class Feed(Protocol):
    async def run(self, send: Send, write: WriteNow | None) -> None:
        """Write the stream's frames with `send` until it ends; `write`, where there is one, may
        write a frame at once instead (see `write_now`)."""


class _ASGIEventStream(ASGIStreamingResponse):
    __slots__ = ("_body_send", "_feed", "_write")

    def __init__(self, feed: Feed, **kwargs: Any) -> None:
        super().__init__(iterator=(), **kwargs)
        self._feed = feed
        self._body_send: Send | None = None
        self._write: WriteNow | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._body_send = scope.get("state", {}).get(BODY_SEND, send)
        self._write = write_now(scope)
        await super().__call__(scope, receive, send)

    async def _stream(self, send: Send) -> None:
        await self._feed.run(self._body_send or send, self._write)
        await send(END)


class EventStream(Stream):
    """A `Stream` whose frames a `Feed` writes itself."""

    __slots__ = ("feed",)

    def __init__(self, feed: Feed, *, headers: dict[str, str]) -> None:
        super().__init__((), media_type=EVENT_STREAM, headers=headers)
        self.feed = feed

    def to_asgi_response(
        self,
        app: Litestar | None,
        request: Request[Any, Any, Any],
        *,
        background: BackgroundTask | BackgroundTasks | None = None,
        cookies: Iterable[Cookie] | None = None,
        encoded_headers: Iterable[tuple[bytes, bytes]] | None = None,
        headers: dict[str, str] | None = None,
        is_head_response: bool = False,
        media_type: MediaType | str | None = None,
        status_code: int | None = None,
        type_encoders: TypeEncodersMap | None = None,
    ) -> ASGIResponse:
        return _ASGIEventStream(
            self.feed,
            background=self.background or background,
            content_length=0,
            cookies=self.cookies if cookies is None else itertools.chain(self.cookies, cookies),
            encoded_headers=encoded_headers,
            encoding=self.encoding,
            headers={**headers, **self.headers} if headers is not None else self.headers,
            is_head_response=is_head_response,
            media_type=str(self.media_type),
            status_code=self.status_code or status_code,
        )
