"""Waiting for another process to get somewhere: poll with a deadline, never a bare sleep."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def poll(
    probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], *, timeout_s: float, every_s: float = 0.05
) -> T:
    """Call `probe` until `done` holds for its value, and return that value; TimeoutError after
    `timeout_s`."""
    async with asyncio.timeout(timeout_s):
        while True:
            value = await probe()
            if done(value):
                return value
            await asyncio.sleep(every_s)
