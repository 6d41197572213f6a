"""Announcing committed changes of projects, and fanning them out to event-stream subscribers.

A write stages its announcement inside its own transaction and confirms it after the commit
(`stage`, then `committed`), so a refused or rolled-back request announces nothing:

- on SQLite (one process) `committed` hands the change to this process's hub directly;
- on PostgreSQL `stage` runs `pg_notify` in the transaction, which PostgreSQL delivers only on
  commit, to every process LISTENing, this one included. The payload is the project id and its
  version and owner, far below PostgreSQL's 8 kB cap, and no extra connection is opened per change.

Each process loads a changed project's card once, encodes it once as an SSE frame, and hands the
same bytes to every subscriber that wants it. Loads of one project run one at a time; a change that
arrives meanwhile triggers one more load, so a burst costs two loads, not one per change, and
versions only ever go up. A subscriber's buffer is bounded: one that falls too far behind is closed
(its client reconnects and starts again from a fresh snapshot), so a slow or vanished client costs
nothing but its own buffer.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass

import asyncpg
import msgspec
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from service.settings import Settings
from service.store.owners import visible_to

CHANNEL = "framestate"
NOTIFY = text("SELECT pg_notify(:channel, :payload)")
LISTEN_NAME = "framestate-listen"
"""The LISTEN connection's `application_name`, to find it in `pg_stat_activity`."""
SUBSCRIBER_BUFFER = 1000
log = logging.getLogger("framestate")

CardLoader = Callable[[str], Awaitable[msgspec.Struct | None]]
"""Loads a project's current card, or None when the project no longer exists."""


def notify_params(project_id: str, version: int | None, owner: str | None) -> dict[str, str]:
    """The arguments of the `pg_notify` (`NOTIFY`'s parameters) that announces a change of a project
    on PostgreSQL: every process LISTENing loads its card (or, with no version, says it is gone)."""
    return {"channel": CHANNEL, "payload": f"{project_id}:{'' if version is None else version}:{owner or ''}"}


def sse_frame(event: str, data: bytes) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"


@dataclass(slots=True)
class Frame:
    project_id: str
    version: int | None  # None: the project was deleted
    owner: str | None
    data: bytes


KEEPALIVE_S = 15.0
KEEP_ALIVE = Frame("", 0, None, b": keep-alive\n\n")
"""Offered to every stream every `KEEPALIVE_S` by one timer of the process, so that a quiet stream
still writes now and then (proxies close idle connections) without a timer per stream."""


class Subscriber:
    """One open event stream: every project (`project_id` None) or one; with auth on, of one owner.

    Its frames wait in a plain list until the stream's task takes them all at once, woken by one
    future: a change costs each subscriber an append and, when its stream was idle, one wake-up."""

    __slots__ = ("_frames", "_waiter", "closed", "limit", "owner", "project_id")

    def __init__(
        self, project_id: str | None, owner: str | None = None, limit: int = SUBSCRIBER_BUFFER
    ) -> None:
        self.project_id = project_id
        self.owner = owner
        self.limit = limit
        self.closed = False
        self._frames: list[Frame] = []
        self._waiter: asyncio.Future[None] | None = None

    def offer(self, frame: Frame) -> None:
        if self.closed or (frame is not KEEP_ALIVE and not visible_to(frame.owner, self.owner)):
            return
        if len(self._frames) >= self.limit:
            self.close()
            return
        self._frames.append(frame)
        self._wake()

    def close(self) -> None:
        """End the stream: the reader gets what is already waiting, then nothing more."""
        if not self.closed:
            self.closed = True
            self._wake()

    async def take(self) -> list[Frame]:
        """Every frame waiting, in order, once there is one; an empty list once the stream is closed
        and drained."""
        while not self._frames:
            if self.closed:
                return []
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        frames, self._frames = self._frames, []
        return frames

    def _wake(self) -> None:
        if (waiter := self._waiter) is not None and not waiter.done():
            waiter.set_result(None)


class Events:
    def __init__(self, settings: Settings, load_card: CardLoader, buffer: int = SUBSCRIBER_BUFFER) -> None:
        self._buffer = buffer
        self._postgres = not settings.is_sqlite
        self._dsn = make_url(settings.database_url).set(drivername="postgresql").render_as_string(False)
        self._load_card = load_card
        self._everything: set[Subscriber] = set()
        self._by_project: dict[str, set[Subscriber]] = {}
        self._loading: dict[str, bool] = {}  # project id -> another change arrived during the load
        self._listener: asyncpg.Connection | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen on PostgreSQL; a database that does not answer yet is retried in the background
        (readiness says so meanwhile), so the process starts all the same."""
        self._spawn(self._keep_alive())
        if self._postgres:
            try:
                await self._listen()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.error("cannot LISTEN on PostgreSQL yet (%s); retrying", exc)
                self._spawn(self._relisten())

    async def _listen(self) -> None:
        self._listener = await asyncpg.connect(self._dsn, server_settings={"application_name": LISTEN_NAME})
        await self._listener.add_listener(CHANNEL, self._on_notify)
        self._listener.add_termination_listener(self._on_listener_lost)

    @property
    def listening(self) -> bool:
        """False on PostgreSQL while the LISTEN connection is down (changes would be missed)."""
        return not self._postgres or (self._listener is not None and not self._listener.is_closed())

    async def stop(self) -> None:
        for subscriber in self._every_subscriber():
            subscriber.close()
        if self._listener is not None and not self._listener.is_closed():
            self._listener.remove_termination_listener(self._on_listener_lost)
            await self._listener.close()
        for task in list(self._tasks):
            task.cancel()

    # The writer's side.

    @property
    def notifies_in_sql(self) -> bool:
        """Whether a write announces its change in its own SQL (`pg_notify`, on PostgreSQL)."""
        return self._postgres

    def notification(self, project_id: str, version: int | None, owner: str | None) -> dict[str, str] | None:
        """On PostgreSQL, the arguments of the `pg_notify` that announces a change: a write runs it
        in its own compare-and-set statement (`RETURNING pg_notify(...)`), so it costs no round
        trip of its own. None on SQLite."""
        if not self._postgres:
            return None
        return notify_params(project_id, version, owner)

    async def stage(
        self, conn: AsyncConnection, project_id: str, version: int | None, owner: str | None
    ) -> None:
        """Inside the write's transaction, before its commit."""
        if (notification := self.notification(project_id, version, owner)) is not None:
            await conn.execute(NOTIFY, notification)

    async def committed(self, project_id: str, version: int | None, owner: str | None) -> None:
        """After the write's commit."""
        if not self._postgres:
            self._changed(project_id, version, owner)

    # The subscriber's side.

    def subscribe(self, project_id: str | None, owner: str | None = None) -> Subscriber:
        subscriber = Subscriber(project_id, owner, self._buffer)
        if project_id is None:
            self._everything.add(subscriber)
        else:
            self._by_project.setdefault(project_id, set()).add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        subscriber.closed = True
        if subscriber.project_id is None:
            self._everything.discard(subscriber)
        elif (subs := self._by_project.get(subscriber.project_id)) is not None:
            subs.discard(subscriber)
            if not subs:
                del self._by_project[subscriber.project_id]

    def _every_subscriber(self) -> list[Subscriber]:
        return [*self._everything, *(s for subs in self._by_project.values() for s in subs)]

    @property
    def subscriber_count(self) -> int:
        return len(self._everything) + sum(len(subs) for subs in self._by_project.values())

    # Fan-out.

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        project_id, version, owner = payload.split(":", 2)
        self._changed(project_id, int(version) if version else None, owner or None)

    def _on_listener_lost(self, _conn: object) -> None:
        """Changes may be missed from here on: end every stream, so that clients start afresh."""
        log.error("lost the PostgreSQL LISTEN connection; closing every event stream")
        for subscriber in self._every_subscriber():
            subscriber.close()
        self._spawn(self._relisten())

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(KEEPALIVE_S)
            for subscriber in self._every_subscriber():
                subscriber.offer(KEEP_ALIVE)

    def _spawn(self, coroutine: Coroutine[None, None, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _relisten(self) -> None:
        delay = 0.1
        while True:
            try:
                await self._listen()
                log.warning("PostgreSQL LISTEN connection restored")
                return
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):  # closed while it opened, too
                if self._listener is not None:
                    self._listener.terminate()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _changed(self, project_id: str, version: int | None, owner: str | None) -> None:
        if not self._everything and project_id not in self._by_project:
            return
        if version is None:
            deleted = sse_frame("deleted", msgspec.json.encode({"id": project_id}))
            self._fan_out(Frame(project_id, None, owner, deleted))
            return
        if project_id in self._loading:
            self._loading[project_id] = True
            return
        self._loading[project_id] = False
        self._spawn(self._load_and_fan_out(project_id, owner))

    async def _load_and_fan_out(self, project_id: str, owner: str | None) -> None:
        sent = 0
        try:
            while True:
                self._loading[project_id] = False
                card = await self._load_card(project_id)
                version = getattr(card, "version", 0)
                if card is not None and version > sent:
                    sent = version
                    frame = sse_frame("project", msgspec.json.encode(card))
                    self._fan_out(Frame(project_id, version, owner, frame))
                if not self._loading[project_id]:
                    return
        except Exception:
            log.exception("could not load project %s; closing the streams that would show it", project_id)
            self._close_watchers(project_id, owner)
        finally:
            del self._loading[project_id]

    def _close_watchers(self, project_id: str, owner: str | None) -> None:
        """A change they would have shown cannot be loaded: end those streams, so that their clients
        reconnect and start again from a fresh snapshot rather than show a stale card."""
        for subscriber in [*self._everything, *self._by_project.get(project_id, ())]:
            if visible_to(owner, subscriber.owner):
                subscriber.close()

    def _fan_out(self, frame: Frame) -> None:
        for subscriber in self._everything:
            subscriber.offer(frame)
        for subscriber in self._by_project.get(frame.project_id, ()):
            subscriber.offer(frame)
