"""How many client connections one process holds (`FRAMESTATE_MAX_CONNECTIONS`).

Past the cap, a new connection is closed as soon as it is accepted, before it costs a request,
a buffer or a timer: a flood of connections that never finish their request (slowloris) then
holds the cap and no more, and the process never runs out of file descriptors, which would make
it fail to accept anything, log an error for every attempt, and fail its own database and
webhook connections besides. The default is what the open-file limit allows once the database
pool, the webhook attempts and the process's own files are counted out.

Holding a connection that never finishes is cheap but not free: header and idle timeouts and a
limit per client address are for the proxy in front (see the README's "Security").
"""

import asyncio
import contextlib
import logging
import resource
import socket
from functools import lru_cache

from uvicorn.protocols.http.h11_impl import H11Protocol

from service.limits import RESERVED_FILES, WEBHOOK_SLOTS
from service.settings import Settings

MINIMUM = 16
log = logging.getLogger("framestate")


def default_cap(settings: Settings, open_files: int) -> int:
    database = settings.db_pool_size + settings.db_max_overflow + 1
    return max(MINIMUM, open_files - database - WEBHOOK_SLOTS - RESERVED_FILES)


@lru_cache(maxsize=1)
def connection_cap() -> int:
    """This process's cap, from its settings and its open-file limit (read once)."""
    settings = Settings.from_env()
    if settings.max_connections is not None:
        return settings.max_connections
    return default_cap(settings, resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def no_delay(transport: asyncio.BaseTransport) -> None:
    """Turn Nagle's algorithm off on a TCP connection. asyncio does it only when the listening
    socket says IPPROTO_TCP, and the one uvicorn binds for `--workers N` says 0: without this a
    worker's answer written in two parts waits for the client's delayed ACK, about 40 ms a request
    on Linux (uvicorn issue #3149)."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class CappedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, which closes a connection at once when the cap is reached,
    and sends without Nagle's delay in every process."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        held = len(self.connections)
        if held >= connection_cap():
            transport.abort()
            log.warning(
                "closed a new connection at once: %d are open, the most FRAMESTATE_MAX_CONNECTIONS allows",
                held,
            )
            return
        no_delay(transport)
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.transport is not None:
            super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:  # else it was closed at once, and nothing was set up
            super().connection_lost(exc)
