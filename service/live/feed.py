"""One open event stream: its frames, from its subscription to the hub until it ends.

A stream of one project skips what its snapshot already showed and ends after the project's
deletion. A stream of every project, once its first frame is out, has the hub write each frame at
once where the server allows it (`service.live.sse.write_now`). Frames that waited while a client
was slow are sent in one write.
"""

import weakref
from collections.abc import Callable

from litestar.types import Send

from service import metrics
from service.live.hub import KEEP_ALIVE, Events, Frame, Subscriber, WriteNow
from service.live.sse import frame_message

RETRY_MS = 1000
OPENING = f"retry: {RETRY_MS}\n: framestate events\n\n".encode()


def end(events: Events, subscriber: Subscriber, give_back: Callable[[], None]) -> None:
    events.unsubscribe(subscriber)
    give_back()


class Feed:
    """One open stream. Its subscription and its stream slot end with it, however it ends: after
    its last frame, or when it is dropped without ever running (a client gone before the first
    byte)."""

    __slots__ = ("__weakref__", "_end", "_first", "_seen_version", "_subscriber")

    def __init__(
        self,
        events: Events,
        subscriber: Subscriber,
        first: bytes,
        seen_version: int,
        give_back: Callable[[], None],
    ) -> None:
        """`seen_version` is what the client already has of the one project it follows (0 for all)."""
        self._subscriber = subscriber
        self._first = first
        self._seen_version = seen_version
        self._end = weakref.finalize(self, end, events, subscriber, give_back)

    async def run(self, send: Send, write: WriteNow | None = None) -> None:
        subscriber = self._subscriber
        per_project = subscriber.project_id is not None
        stream = "project" if per_project else "all"
        metrics.stream_opened(stream)
        try:
            await send(frame_message(self._first))
            if not per_project:
                subscriber.write_now = write
            while frames := await subscriber.take():
                if not per_project and len(frames) == 1:
                    await send(frame_message(frames[0].data))  # the usual case: nothing to filter or join
                    continue
                data, ended = self._join(frames, per_project)
                if data:
                    await send(frame_message(data))
                if ended:
                    return
        finally:
            metrics.stream_closed(stream)
            self._end()

    def _join(self, frames: list[Frame], per_project: bool) -> tuple[bytes, bool]:
        """The frames to write, as one, and whether the stream ends after them (its project deleted)."""
        out: list[bytes] = []
        for frame in frames:
            if per_project and frame is not KEEP_ALIVE:
                if frame.version is None:
                    out.append(frame.data)
                    return b"".join(out), True
                if frame.version <= self._seen_version:
                    continue
                self._seen_version = frame.version
            out.append(frame.data)
        return b"".join(out), False
