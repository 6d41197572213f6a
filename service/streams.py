"""The two Server-Sent Events streams: one project, or every project.

A stream subscribes before it reads its snapshot, so no change falls between the two; after the
snapshot it skips what the snapshot already showed. Frames queued while a client was slow are sent
in one write.
"""

from collections.abc import AsyncIterator, Callable

import msgspec

from service import metrics
from service.context import Context
from service.events import KEEP_ALIVE, Frame, Subscriber, sse_frame
from service.projects import get_project
from service.stream_limits import StreamSlots

RETRY_MS = 1000
OPENING = f"retry: {RETRY_MS}\n: framestate events\n\n".encode()


async def _frames(
    ctx: Context, subscriber: Subscriber, first: bytes, seen_version: int, give_back: Callable[[], None]
) -> AsyncIterator[bytes]:
    """`seen_version` is what the client already has of the one project it follows (0 for all)."""
    per_project = subscriber.project_id is not None
    stream = "project" if per_project else "all"
    metrics.stream_opened(stream)
    try:
        yield first
        while True:
            first_frame = await subscriber.queue.get()
            if first_frame is not None and not per_project and subscriber.queue.empty():
                yield first_frame.data  # the usual case: one frame, nothing to filter or join
                continue
            batch: list[Frame | None] = [first_frame]
            while not subscriber.queue.empty():
                batch.append(subscriber.queue.get_nowait())
            out: list[bytes] = []
            ended = False
            for frame in batch:
                if frame is None:
                    ended = True
                    break
                if per_project and frame is not KEEP_ALIVE:
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
        metrics.stream_closed(stream)
        ctx.events.unsubscribe(subscriber)
        give_back()


def _held(stream: AsyncIterator[bytes], give_back: Callable[[], None]) -> AsyncIterator[bytes]:
    StreamSlots.tie(stream, give_back)
    return stream


def _subscribe(ctx: Context, project_id: str | None) -> Subscriber:
    subscriber = ctx.events.subscribe(project_id, ctx.owner)
    if ctx.lifecycle.draining:
        subscriber.close()  # this process is going away: the client reconnects to another
    return subscriber


async def project_events(project_id: str, *, ctx: Context, caller: str) -> AsyncIterator[bytes]:
    give_back = ctx.stream_slots.take(caller)
    subscriber = _subscribe(ctx, project_id)
    try:
        snapshot = await get_project(project_id, db=ctx.db, owner=ctx.owner)
    except BaseException:
        ctx.events.unsubscribe(subscriber)
        give_back()
        raise
    first = OPENING + sse_frame("project", msgspec.json.encode(snapshot))
    return _held(_frames(ctx, subscriber, first, snapshot.version, give_back), give_back)


def all_events(*, ctx: Context, caller: str) -> AsyncIterator[bytes]:
    give_back = ctx.stream_slots.take(caller)
    subscriber = _subscribe(ctx, None)
    return _held(_frames(ctx, subscriber, OPENING, 0, give_back), give_back)
