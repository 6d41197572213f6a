"""The process's life: whether it is shutting down, and what a shutdown signal does first.

A signal reaches the server, not the application, so the application registers what must happen
before the server waits for requests in flight (`on_drain`), and the server calls `drain()`: every
application of the process stops being ready and ends its event streams, whose clients reconnect
to a process that is not going away.
"""

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

Drain = Callable[[], Awaitable[None]]
_drains: list[Drain] = []


@dataclass(eq=False, slots=True)
class Lifecycle:
    draining: bool = False
    """Set once the process has begun to shut down: ready turns 503 and new streams end at once."""


@contextmanager
def on_drain(drain: Drain) -> Iterator[None]:
    """Run `drain` when the process begins to shut down, for as long as the block runs."""
    _drains.append(drain)
    try:
        yield
    finally:
        _drains.remove(drain)


async def drain() -> None:
    for registered in list(_drains):
        await registered()
