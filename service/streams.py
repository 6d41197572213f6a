"""The two Server-Sent Events streams: one project, or every project.

A stream subscribes before it reads its snapshot, so no change falls between the two; after the
snapshot it skips what the snapshot already showed. Frames queued while a client was slow are sent
in one write.
"""

import asyncio
from collections.abc import AsyncIterator

import msgspec

from service.context import Context
from service.errors import NotFound
from service.events import Frame, Subscriber, sse_frame
from service.projects import find_project

KEEPALIVE_S = 15.0
RETRY_MS = 1000
OPENING = f"retry: {RETRY_MS}\n: framestate events\n\n".encode()


async def _frames(
    ctx: Context, subscriber: Subscriber, first: bytes, seen_version: int
) -> AsyncIterator[bytes]:
    """`seen_version` is what the client already has of the one project it follows (0 for all)."""
    per_project = subscriber.project_id is not None
    try:
        yield first
        while True:
            try:
                item = await asyncio.wait_for(subscriber.queue.get(), KEEPALIVE_S)
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            batch: list[Frame | None] = [item]
            while not subscriber.queue.empty():
                batch.append(subscriber.queue.get_nowait())
            out: list[bytes] = []
            ended = False
            for frame in batch:
                if frame is None:
                    ended = True
                    break
                if per_project:
                    if frame.version is None:
                        out.append(frame.data)
                        ended = True
                        break
                    if frame.version <= seen_version:
                        continue
                    seen_version = frame.version
                out.append(frame.data)
            if out:
                yield b"".join(out)
            if ended:
                return
    finally:
        ctx.events.unsubscribe(subscriber)


async def project_events(project_id: str, *, ctx: Context) -> AsyncIterator[bytes]:
    subscriber = ctx.events.subscribe(project_id, ctx.owner)
    snapshot = await find_project(project_id, db=ctx.db, owner=ctx.owner)
    if snapshot is None:
        ctx.events.unsubscribe(subscriber)
        raise NotFound(f"No project with id {project_id!r}.")
    first = OPENING + sse_frame("project", msgspec.json.encode(snapshot))
    return _frames(ctx, subscriber, first, snapshot.version)


def all_events(*, ctx: Context) -> AsyncIterator[bytes]:
    return _frames(ctx, ctx.events.subscribe(None, ctx.owner), OPENING, 0)
