"""What happens to every request around the application: an id, an access log line, the HTTP
metrics, and running it again when its database connection broke before COMMIT. A plain ASGI
wrapper around Litestar's router and exception handling, so it sees every answer (unknown paths
too) and costs one function call, not a middleware stack: an event stream's every frame passes
through it."""

import asyncio
import logging
import re
import uuid
from collections.abc import Awaitable, Generator
from time import perf_counter
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from service import metrics
from service.live.sse import forget_body_send, keep_body_send
from service.logs import ACCESS_LOGGER, REQUEST_ID
from service.store.faults import ATTEMPTS, BACKOFF_S, should_retry

SANE_REQUEST_ID = re.compile(rb"[\x21-\x7e]{1,200}")
UNMATCHED = "unmatched"
"""The route label of a request that matched no route (a 404 of an unknown path)."""
access_log = logging.getLogger(ACCESS_LOGGER)
log = logging.getLogger("framestate")


class _Dropped:
    """An awaitable that is done at once: the answer to a message that is not sent. Not a
    coroutine: awaited directly, as Litestar awaits `send`, it is all that is needed."""

    def __await__(self) -> Generator[None, None, None]:
        return
        yield


_DROPPED = _Dropped()


def request_id_of(headers: Any) -> str:
    """The caller's `X-Request-ID` when it is 1..200 visible ASCII characters, else a new one."""
    for name, value in headers:
        if name == b"x-request-id":
            if SANE_REQUEST_ID.fullmatch(value):
                return str(value.decode("ascii"))
            break
    return uuid.uuid4().hex


class RequestObserver:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        request_id = request_id_of(scope["headers"])
        token = REQUEST_ID.set(request_id)
        echoed = (b"x-request-id", request_id.encode())
        status = 500
        started = perf_counter()

        attempt = 1
        dropping = False

        def send_with_id(message: Message) -> Awaitable[None]:
            """Hands back the server's own `send(...)` to await rather than awaiting it here: an event
            stream's every frame passes through, and a coroutine of our own would cost a frame each."""
            nonlocal status, dropping
            if message["type"] == "http.response.start":
                if should_retry(scope) and attempt < ATTEMPTS:
                    dropping = True
                    return _DROPPED
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), echoed]
            if dropping:
                return _DROPPED
            return send(message)

        keep_body_send(scope, send_with_id, send)
        try:
            while True:
                await self.app(scope, receive, send_with_id)
                if not dropping:
                    break
                log.warning("a database connection broke before COMMIT; running the request again")
                await asyncio.sleep(BACKOFF_S * attempt)
                attempt += 1
                dropping = False
        finally:
            forget_body_send(scope)
            seconds = perf_counter() - started
            ms = round(seconds * 1000, 3)
            route = scope.get("path_template") or UNMATCHED
            metrics.observe_request(method, route, status, seconds)
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "%s %s %d %.1f ms",
                    method,
                    path,
                    status,
                    ms,
                    extra={"method": method, "route": route, "status": status, "duration_ms": ms},
                )
            REQUEST_ID.reset(token)
