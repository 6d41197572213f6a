"""Announcing committed changes of projects, and fanning them out to event-stream subscribers.

A write announces its change after its commit (`committed`), so a refused or rolled-back request
announces nothing. The change goes at once to this process's own streams; on PostgreSQL it also
waits, with the others committed meanwhile, for the process's announcer, which sends them all in
one `pg_notify` on the LISTEN connection: PostgreSQL delivers it to every process LISTENing, and
each skips what it announced itself.

Why not a `pg_notify` inside each write's transaction: PostgreSQL takes one database-wide lock at
the commit of every transaction that sent a notification, so the commits of concurrent writers go
one at a time (`make bench-notify`: three quarters of the commit rate lost at 32 writers). A batch
is one such commit per process however many writers it serves. An announcement that cannot be sent
(the LISTEN connection is down) waits and goes when it is back; a process killed between a commit
and its announcer's next round trip would leave other processes' streams one change behind, so
every process watches the others' LISTEN connections (once a second, in `pg_stat_activity`): one
that went away without saying goodbye (a process stopping says so in a last notification) ends
every stream of the watching process, whose clients start again from a fresh snapshot.

Each process loads a changed project's card once, encodes it once as an SSE frame, and hands the
same bytes to every subscriber that wants it. Loads of one project run one at a time; a change that
arrives meanwhile triggers one more load, so a burst costs two loads, not one per change, and
versions only ever go up. A subscriber's buffer is bounded: one that falls too far behind is closed
(its client reconnects and starts again from a fresh snapshot), so a slow or vanished client costs
nothing but its own buffer.
"""

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass

import asyncpg
import msgspec
from sqlalchemy.engine import make_url

from service.live.announcements import (
    ANNOUNCE_EVERY_S,
    CHANNEL,
    LISTEN_NAME,
    PEER_CHECK_S,
    PEERS,
    Announced,
    decode,
    goodbye,
    payloads,
)
from service.settings import Settings
from service.store.owners import visible_to

LISTENER_TIMEOUT_S = 5.0
"""The longest a statement on the LISTEN connection may take: one that hangs on a connection the
database cut would otherwise hold the announcer (and readiness) for good."""
LISTEN_FAULTS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError)
"""What opening or using the LISTEN connection raises when the database or the connection fails."""
SUBSCRIBER_BUFFER = 1000
log = logging.getLogger("framestate")

CardLoader = Callable[[str], Awaitable[msgspec.Struct | None]]
"""Loads a project's current card, or None when the project no longer exists."""
WriteNow = Callable[[bytes], bool]
"""Writes a frame to a stream's socket at once, or says False (the frame must then go through the
stream's task): see `service.live.sse.write_now`."""


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
    future: a change costs each subscriber an append and, when its stream was idle, one wake-up.
    With `write_now` (set by its stream once it may be used), a frame offered while nothing waits
    and the task is not sending either is written at once, and the task is not woken at all: the
    frames go out in the order they were offered."""

    __slots__ = ("_frames", "_sending", "_waiter", "closed", "limit", "owner", "project_id", "write_now")

    def __init__(
        self, project_id: str | None, owner: str | None = None, limit: int = SUBSCRIBER_BUFFER
    ) -> None:
        self.project_id = project_id
        self.owner = owner
        self.limit = limit
        self.closed = False
        self._frames: list[Frame] = []
        self._waiter: asyncio.Future[None] | None = None
        self.write_now: WriteNow | None = None
        self._sending = False

    def offer(self, frame: Frame) -> None:
        if self.closed or (frame is not KEEP_ALIVE and not visible_to(frame.owner, self.owner)):
            return
        if (
            not self._frames
            and not self._sending
            and self.write_now is not None
            and self.write_now(frame.data)
        ):
            return
        if len(self._frames) >= self.limit:
            log.info(
                "closed an event stream %d changes behind its client (it starts again from a fresh snapshot)",
                self.limit,
            )
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
        and drained. The stream's task calls it again once it has sent what it took."""
        self._sending = False
        while not self._frames:
            if self.closed:
                return []
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        frames, self._frames = self._frames, []
        self._sending = True
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
        self._origin = uuid.uuid4().hex
        """This process's mark on its announcements, to skip them when PostgreSQL delivers them back."""
        self._unannounced: dict[str, Announced] = {}
        """Each project's newest change not yet announced: a receiver loads the current card
        whatever version it hears of, so an older change of the same project adds nothing, and
        while the LISTEN connection is down this grows with the projects changed, not the changes."""
        self._announce = asyncio.Event()
        self._sending = asyncio.Lock()
        self._last_sent = 0.0
        self._peers: set[int] | None = None
        """The LISTEN connections' backends at the last check (None: none made on this one yet)."""
        self._said_goodbye: set[int] = set()

    async def start(self) -> None:
        """Listen on PostgreSQL; a database that does not answer yet is retried in the background
        (readiness says so meanwhile), so the process starts all the same."""
        self._spawn(self._keep_alive())
        if self._postgres:
            self._spawn(self._announcer())
            self._spawn(self._watch_peers())
            try:
                await self._listen()
            except LISTEN_FAULTS as exc:
                log.error("cannot LISTEN on PostgreSQL yet (%s); retrying", exc)
                self._spawn(self._relisten())

    async def _listen(self) -> None:
        """The connection counts as listening (and the announcer sends on it) only once it is."""
        listener = await asyncpg.connect(
            self._dsn, server_settings={"application_name": LISTEN_NAME}, timeout=LISTENER_TIMEOUT_S
        )
        try:
            await asyncio.wait_for(listener.add_listener(CHANNEL, self._on_notify), LISTENER_TIMEOUT_S)
        except BaseException:
            listener.terminate()
            raise
        listener.add_termination_listener(self._on_listener_lost)
        self._peers = None
        self._listener = listener

    @property
    def listening(self) -> bool:
        """False on PostgreSQL while the LISTEN connection is down (changes would be missed)."""
        return not self._postgres or (self._listener is not None and not self._listener.is_closed())

    async def stop(self) -> None:
        for subscriber in self._every_subscriber():
            subscriber.close()
        if self._postgres and self.listening:
            with contextlib.suppress(*LISTEN_FAULTS):
                await self._send_unannounced()
                async with self._sending:  # goodbye: the others need not fear for what it sent
                    await self._notify(goodbye(self._origin))
        if self._listener is not None and not self._listener.is_closed():
            self._listener.remove_termination_listener(self._on_listener_lost)
            await self._listener.close()
        for task in list(self._tasks):
            task.cancel()

    # The writer's side.

    def committed(self, project_id: str, version: int | None, owner: str | None) -> None:
        """After the write's commit: to this process's streams now, and on PostgreSQL to the
        announcer's next batch."""
        self._changed(project_id, version, owner)
        if self._postgres:
            self._unannounced.pop(project_id, None)
            self._unannounced[project_id] = (project_id, version, owner)
            self._announce.set()

    async def _announcer(self) -> None:
        """Sends what was committed since its last announcement (at least `ANNOUNCE_EVERY_S` ago),
        in one `pg_notify` (more when it would not fit); while the LISTEN connection is down, keeps
        it for when it is back.

        A send that fails ends the LISTEN connection: asyncpg may have aborted it without calling
        its termination listener (a protocol error), and a connection that lost a reply cannot be
        trusted to have delivered every notification."""
        while True:
            await self._announce.wait()
            self._announce.clear()
            if (wait := self._last_sent + ANNOUNCE_EVERY_S - asyncio.get_running_loop().time()) > 0:
                await asyncio.sleep(wait)
            while self._unannounced:
                if not self.listening:
                    await asyncio.sleep(0.1)
                    continue
                try:
                    await self._send_unannounced()
                except Exception as exc:  # whatever it is, the announcer must go on
                    log.warning("could not announce changes to other processes yet (%r); retrying", exc)
                    if self._listener is not None:
                        self._listener.terminate()
                    await asyncio.sleep(0.1)

    async def _watch_peers(self) -> None:
        """Once a second, the LISTEN connections of this database's framestate processes: one gone
        without a goodbye may have taken committed changes with it before announcing them, so every
        stream of this process ends (its client starts again from a fresh snapshot). A connection
        that was only dropped and came back looks the same: its streams end once more than needed."""
        while True:
            await asyncio.sleep(PEER_CHECK_S)
            self._notice_if_lost()  # asyncpg may close a connection without calling its listener
            if not self.listening:
                continue
            try:
                async with self._sending:
                    assert self._listener is not None
                    rows = await self._listener.fetch(PEERS, LISTEN_NAME, timeout=LISTENER_TIMEOUT_S)
                now = {row[0] for row in rows}
            except Exception as exc:  # whatever it is, the connection is not to be trusted
                log.debug("could not list the other framestate processes (%r)", exc)
                if self._listener is not None:
                    self._listener.terminate()
                continue
            before, self._peers = self._peers, now
            if before == now:
                continue
            log.info("framestate processes listening on this database: %d", len(now))
            if before is None:
                continue
            lost = before - now - self._said_goodbye
            self._said_goodbye &= now
            if lost:
                log.warning(
                    "a framestate process ended without announcing goodbye (LISTEN backend %s); "
                    "closing every event stream, whose clients start again from a fresh snapshot",
                    ", ".join(str(pid) for pid in sorted(lost)),
                )
                for subscriber in self._every_subscriber():
                    subscriber.close()

    async def _notify(self, payload: str) -> None:
        """One notification on the LISTEN connection; the caller holds `_sending`."""
        assert self._listener is not None
        await self._listener.execute("SELECT pg_notify($1, $2)", CHANNEL, payload, timeout=LISTENER_TIMEOUT_S)

    def _notice_if_lost(self) -> None:
        """`terminate` calls the termination listener when nobody has yet (and only then)."""
        if self._listener is not None and self._listener.is_closed():
            self._listener.terminate()

    async def _send_unannounced(self) -> None:
        """One sender at a time on the LISTEN connection (the announcer, or `stop`'s last flush);
        what could not be sent goes back, under what was committed meanwhile."""
        async with self._sending:
            changes, self._unannounced = self._unannounced, {}
            self._last_sent = asyncio.get_running_loop().time()
            try:
                assert self._listener is not None
                for payload in payloads(self._origin, list(changes.values())):
                    await self._notify(payload)
            except BaseException:
                changes.update(self._unannounced)
                self._unannounced = changes
                raise

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

    def _on_notify(self, _conn: object, pid: int, _channel: str, payload: str) -> None:
        try:
            origin, changes = decode(payload)
        except msgspec.DecodeError:
            log.error("ignored a notification on %r that framestate did not send: %.200r", CHANNEL, payload)
            return
        if origin == self._origin:
            return
        if not changes:
            self._said_goodbye.add(pid)
            return
        for project_id, version, owner in changes:
            self._changed(project_id, version, owner)

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
            except LISTEN_FAULTS:  # closed while it opened, too
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
